/**
 * A destructive action behind a confirm dialog. The dialog then shows what actually happened, from
 * the server's answer ("3 jobs retried", "nothing to retry: no failed jobs"), or the error.
 */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { errorText } from '../api/http.js';

export interface ConfirmActionProps {
  label: string;
  title: string;
  body: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  disabled?: boolean;
  small?: boolean;
  /** Runs the action; returns the sentence that reports its outcome. */
  run: () => Promise<string>;
  /** Called after the dialog closes following a successful run. */
  onDone?: () => void;
  testId?: string;
}

type Phase =
  { kind: 'closed' } | { kind: 'asking' } | { kind: 'running' } | { kind: 'done'; message: string } | { kind: 'failed'; message: string };

export function ConfirmAction(props: ConfirmActionProps) {
  const [phase, setPhase] = useState<Phase>({ kind: 'closed' });
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (phase.kind !== 'closed' && !d.open) d.showModal();
    if (phase.kind === 'closed' && d.open) d.close();
  }, [phase.kind]);

  const close = (): void => {
    const wasDone = phase.kind === 'done';
    setPhase({ kind: 'closed' });
    if (wasDone) props.onDone?.();
  };

  const confirm = async (): Promise<void> => {
    setPhase({ kind: 'running' });
    try {
      setPhase({ kind: 'done', message: await props.run() });
    } catch (err) {
      setPhase({ kind: 'failed', message: errorText(err) });
    }
  };

  return (
    <>
      <button
        type="button"
        className={`btn${props.danger ? ' btn-danger' : ''}${props.small ? ' btn-small' : ''}`}
        disabled={props.disabled}
        onClick={() => setPhase({ kind: 'asking' })}
        data-testid={props.testId}
      >
        {props.label}
      </button>
      <dialog
        ref={dialog}
        className="dialog"
        aria-labelledby={titleId}
        onCancel={(e) => {
          if (phase.kind === 'running') e.preventDefault();
          else close();
        }}
      >
        {phase.kind !== 'closed' && (
          <div className="dialog-body">
            <h2 id={titleId}>{props.title}</h2>
            {(phase.kind === 'asking' || phase.kind === 'running') && <div className="dialog-text">{props.body}</div>}
            {phase.kind === 'done' && (
              <p className="dialog-outcome" role="status" data-testid="action-outcome">
                {phase.message}
              </p>
            )}
            {phase.kind === 'failed' && (
              <p className="dialog-outcome dialog-error" role="alert" data-testid="action-outcome">
                {phase.message}
              </p>
            )}
            <div className="dialog-buttons">
              {phase.kind === 'asking' || phase.kind === 'running' ? (
                <>
                  <button type="button" className="btn" onClick={close} disabled={phase.kind === 'running'}>
                    Keep
                  </button>
                  <button
                    type="button"
                    className={`btn ${props.danger ? 'btn-danger' : 'btn-primary'}`}
                    onClick={() => void confirm()}
                    disabled={phase.kind === 'running'}
                    autoFocus
                    data-testid="confirm"
                  >
                    {phase.kind === 'running' ? 'Working…' : props.confirmLabel}
                  </button>
                </>
              ) : (
                <button type="button" className="btn btn-primary" onClick={close} autoFocus data-testid="dialog-close">
                  Close
                </button>
              )}
            </div>
          </div>
        )}
      </dialog>
    </>
  );
}

/** "1 job" / "3 jobs". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${new Intl.NumberFormat('en-US').format(n)} ${n === 1 ? one : many}`;
}
