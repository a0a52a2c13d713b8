/**
 * The form that starts a run: one typed input per param of the definition's spec, prefilled with
 * defaults, required ones marked; the server's param issues are shown beside their fields.
 */
import { useId, useState, type FormEvent } from 'react';
import { executeDefinition, issuesOf, parseParam, type DefinitionView, type ParamSpec } from '../../api/definitions.js';
import { errorText } from '../../api/http.js';
import { navigate } from '../../router.js';

function initial(spec: ParamSpec): string | boolean {
  if (spec.type === 'boolean') return spec.default === true;
  return spec.default === undefined ? '' : String(spec.default);
}

export function ParamsForm({ definition }: { definition: DefinitionView }) {
  const entries = Object.entries(definition.params);
  const [values, setValues] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(entries.map(([name, spec]) => [name, initial(spec)])),
  );
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const formId = useId();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const errors: Record<string, string> = {};
    const params: Record<string, unknown> = {};
    for (const [name, spec] of entries) {
      const raw = values[name] ?? '';
      if (spec.type !== 'boolean' && String(raw).trim() === '') {
        if (spec.required) errors[name] = 'required';
        continue;
      }
      const parsed = parseParam(spec, raw);
      if (parsed.ok) params[name] = parsed.value;
      else errors[name] = parsed.message;
    }
    setFieldErrors(errors);
    setFormError(null);
    if (Object.keys(errors).length > 0) return;
    setBusy(true);
    try {
      const runId = await executeDefinition(definition.id, params);
      navigate(`/runs/${runId}`);
    } catch (err) {
      const issues = issuesOf(err);
      const byField: Record<string, string> = {};
      const rest: string[] = [];
      for (const i of issues) {
        const field = i.path.replace(/^params\.?/, '').split('.')[0] ?? '';
        if (field in definition.params) byField[field] = i.message;
        else rest.push(i.path ? `${i.path}: ${i.message}` : i.message);
      }
      setFieldErrors(byField);
      setFormError(rest.length > 0 ? rest.join('; ') : Object.keys(byField).length > 0 ? null : errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="params-form" onSubmit={(e) => void submit(e)} aria-label="Run this definition" data-testid="params-form" noValidate>
      {entries.length === 0 && <p className="muted small">This definition takes no params.</p>}
      {entries.map(([name, spec]) => {
        const id = `${formId}-${name}`;
        const err = fieldErrors[name];
        return (
          <div className={`param${err ? ' param-error' : ''}`} key={name}>
            <label htmlFor={id}>
              <code>{name}</code>
              {spec.required && (
                <span className="req" title="required">
                  {' '}
                  *
                </span>
              )}
              <span className="muted small"> {spec.type}</span>
            </label>
            {spec.type === 'boolean' ? (
              <input
                id={id}
                type="checkbox"
                checked={values[name] === true}
                onChange={(e) => setValues({ ...values, [name]: e.target.checked })}
              />
            ) : (
              <input
                id={id}
                type={spec.type === 'string' ? 'text' : 'number'}
                step={spec.type === 'integer' ? 1 : 'any'}
                inputMode={spec.type === 'integer' ? 'numeric' : spec.type === 'number' ? 'decimal' : undefined}
                required={spec.required}
                value={String(values[name] ?? '')}
                aria-invalid={err ? true : undefined}
                aria-describedby={err ? `${id}-err` : undefined}
                onChange={(e) => setValues({ ...values, [name]: e.target.value })}
              />
            )}
            {spec.description && <span className="muted small">{spec.description}</span>}
            {err && (
              <span className="error-text" id={`${id}-err`}>
                {err}
              </span>
            )}
          </div>
        );
      })}
      {formError && (
        <p className="error-text" role="alert">
          {formError}
        </p>
      )}
      <button type="submit" className="btn btn-primary" disabled={busy || !definition.valid} data-testid="run-definition">
        {busy ? 'Starting…' : 'Run'}
      </button>
      {!definition.valid && <span className="muted small"> Fix the issues below to run it.</span>}
    </form>
  );
}
