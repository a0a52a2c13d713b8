/**
 * One run of a definition: params given for the run (CLI text or typed JSON) are coerced and checked,
 * substituted into every step's config, and each config is parsed for real by its step type's schema.
 * All of it happens before anything is written, and every problem is reported at once.
 */
import type { JsonValue } from '../core/job.js';
import { formatPath, type RawIssue } from './issues.js';
import { resolveParamValues } from './params.js';
import { checkStepConfig } from './step-config.js';
import { substituteParams } from './templates.js';
import type { Definition, DefinitionIssue, ResolvedStep, ResolveOptions, ResolveResult } from './types.js';

function toIssues(raw: readonly RawIssue[]): DefinitionIssue[] {
  return raw.map((r) => ({ path: formatPath(r.path), message: r.message }));
}

export function resolveRun(def: Definition, rawParams: Record<string, unknown>, opts: ResolveOptions): ResolveResult {
  const issues: RawIssue[] = [];
  const params = resolveParamValues(def.params, rawParams, issues);
  // Substituting with missing params would only add noise on top of the params issues.
  if (issues.length > 0) return { ok: false, issues: toIssues(issues) };

  const steps: ResolvedStep[] = [];
  for (const step of def.steps) {
    const base = ['step', step.name];
    const { value, missing } = substituteParams(step.config, (name) => (Object.hasOwn(params, name) ? params[name] : undefined));
    for (const ref of missing) {
      issues.push({ path: [...base, ...ref.path], message: `Unknown param "${ref.param}" in ${JSON.stringify(ref.text)}` });
    }
    const rawConfig = value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
    const stepType = opts.stepTypes.get(step.type);
    if (!stepType) {
      const known = opts.stepTypes.names().join(', ');
      issues.push({ path: [...base, 'type'], message: `Unknown step type "${step.type}"; known types: ${known}` });
      continue;
    }
    if (!opts.stepTypes.isAllowed(step.type)) {
      issues.push({
        path: [...base, 'type'],
        message: `Step type "${step.type}" is privileged and not enabled; the operator must allow it (--allow-${step.type})`,
      });
    }
    const check = checkStepConfig({ stepType, stepName: step.name, config: rawConfig });
    issues.push(...check.issues);
    if (check.issues.length > 0 || missing.length > 0) continue;
    steps.push({
      name: step.name,
      type: step.type,
      dependsOn: [...step.dependsOn],
      policy: step.policy,
      // The schema's output is what the step type asked for; it is JSON for every schema that does not
      // transform into class instances, which is the contract for configs stored in job payloads.
      config: check.data as JsonValue,
      rawConfig,
    });
  }
  return issues.length > 0 ? { ok: false, issues: toIssues(issues) } : { ok: true, params, steps };
}
