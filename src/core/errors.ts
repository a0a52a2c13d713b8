/**
 * The one registry of stable error codes. Each code has an HTTP status (used by the server's single
 * error handler) and a hint that tells the user what to do next. Zero-row store outcomes
 * (`not-found`, `not-in-status`, `lease-lost`) map to these codes in one place: `outcomeError`.
 */

export const ERROR_CODES = {
  ERR_DEFINITION_INVALID: { http: 400, hint: 'Fix the listed fields and submit the definition again.' },
  ERR_DEFINITION_NOT_FOUND: { http: 404, hint: 'List definitions with GET /api/job-definitions.' },
  ERR_DEFINITION_DISABLED: { http: 409, hint: 'Set enabled = true in the definition to run it.' },
  ERR_PARAMS_INVALID: { http: 400, hint: 'Pass the parameters the definition declares, with their types.' },
  ERR_STEP_TYPE_UNKNOWN: { http: 400, hint: 'Register the step type, or use one of the built-in types.' },
  ERR_STEP_TYPE_DISABLED: { http: 400, hint: 'The operator must enable this step type (for shell: --allow-shell).' },
  ERR_JOB_NOT_FOUND: { http: 404, hint: 'Check the id; finished runs may have been deleted.' },
  ERR_JOB_NOT_IN_STATUS: { http: 409, hint: 'The job moved on; reload it to see its current status.' },
  ERR_RUN_ACTIVE: { http: 409, hint: 'Cancel the run or wait for it to end first.' },
  ERR_LEASE_LOST: { http: 409, hint: 'Another worker owns this job now; its answer is the one kept.' },
  ERR_LEASE_EXPIRED: { http: 500, hint: 'The worker stopped heartbeating (crashed or blocked the event loop).' },
  ERR_JOB_TIMEOUT: { http: 500, hint: 'Raise the step timeout, or make the handler honour ctx.signal.' },
  ERR_JOB_CANCELLED: { http: 409, hint: 'The job was cancelled.' },
  ERR_PAYLOAD_TOO_LARGE: { http: 413, hint: 'Store large data elsewhere and pass a reference.' },
  ERR_BAD_REQUEST: { http: 400, hint: 'Check the request against GET /api/openapi.json.' },
  ERR_BAD_CURSOR: { http: 400, hint: 'Use the next_cursor value of the previous page, unchanged.' },
  ERR_NOT_FOUND: { http: 404, hint: 'See GET /api/openapi.json for the routes.' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { http: 415, hint: 'Send JSON (application/json) or, for definitions, TOML (application/toml).' },
  ERR_FORBIDDEN_ORIGIN: { http: 403, hint: 'Use the page served by stepq, or start it with --allow-origin for that origin.' },
  ERR_UNAUTHORIZED: { http: 401, hint: 'Send the token as "Authorization: Bearer <STEPQ_TOKEN>".' },
  ERR_STORE_URL: { http: 400, hint: 'Use sqlite:PATH or postgres://user@host:port/db.' },
  ERR_CONFIG: { http: 400, hint: 'Check the command-line options.' },
  ERR_INTERNAL: { http: 500, hint: 'This is a bug in stepq; the server log has details.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class StepqError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'StepqError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get hint(): string {
    return ERROR_CODES[this.code].hint;
  }
}

/** Typed result of a guarded single-row transition that touched zero rows. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: 'not-found' | 'not-in-status' | 'lease-lost'; status?: string };

export function outcomeError(id: number, o: Exclude<Outcome<unknown>, { ok: true }>): StepqError {
  switch (o.reason) {
    case 'not-found':
      return new StepqError('ERR_JOB_NOT_FOUND', `Job ${id} does not exist.`, { id });
    case 'not-in-status':
      return new StepqError('ERR_JOB_NOT_IN_STATUS', `Job ${id} is ${o.status ?? 'in another status'}.`, {
        id,
        status: o.status,
      });
    case 'lease-lost':
      return new StepqError('ERR_LEASE_LOST', `The lease on job ${id} is no longer held by this worker.`, { id });
  }
}

/**
 * An error a handler (or a plan) throws to fail its job without further attempts: trying again
 * cannot help (a missing folder, a malformed payload).
 */
export class PermanentError extends Error {
  readonly retryable = false;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
