/**
 * The server's one error handler and one error shape: `{ "error": { code, message, details } }`.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CODES, StepqError, type ErrorCode } from '../core/errors.js';

/** The one error shape; `details` is always there (null when there is nothing more to say). */
export function errorBody(
  code: ErrorCode,
  message: string,
  details?: unknown,
): { error: { code: string; message: string; details: unknown } } {
  return { error: { code, message, details: details ?? null } };
}

/** "What happened. What to do." — the message, then the code's hint, as two sentences. */
function withHint(message: string, hint: string): string {
  const m = message.trim();
  return `${m}${/[.!?)]$/.test(m) ? '' : '.'} ${hint}`;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | StepqError | Error, request, reply) => {
    if (err instanceof StepqError) {
      void reply.status(err.httpStatus).send(errorBody(err.code, withHint(err.message, err.hint), err.details));
      return;
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const details = fe.validation.map((v) => ({
        path: `${fe.validationContext ?? ''}${v.instancePath}`,
        message: v.message ?? 'invalid',
      }));
      void reply
        .status(400)
        .send(
          errorBody(
            'ERR_BAD_REQUEST',
            `Invalid request: ${details.map((d) => `${d.path || '(root)'} ${d.message}`).join('; ')}. ${ERROR_CODES.ERR_BAD_REQUEST.hint}`,
            details,
          ),
        );
      return;
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      void reply
        .status(413)
        .send(
          errorBody(
            'ERR_PAYLOAD_TOO_LARGE',
            `The request body is larger than the server accepts. ${ERROR_CODES.ERR_PAYLOAD_TOO_LARGE.hint}`,
          ),
        );
      return;
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      void reply
        .status(415)
        .send(errorBody('ERR_UNSUPPORTED_MEDIA_TYPE', `Content type not accepted. ${ERROR_CODES.ERR_UNSUPPORTED_MEDIA_TYPE.hint}`));
      return;
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      void reply.status(fe.statusCode).send(errorBody('ERR_BAD_REQUEST', fe.message));
      return;
    }
    request.log.error({ err }, 'request failed');
    void reply.status(500).send(errorBody('ERR_INTERNAL', `Internal error. ${ERROR_CODES.ERR_INTERNAL.hint}`));
  });
}
