/**
 * Route schemas. Written in zod, checked at compile time against the wire types in src/wire (so the
 * page and the server cannot drift), and turned into JSON Schema for Fastify (validation,
 * serialization) and for /api/openapi.json.
 */
import { z } from 'zod';
import type {
  WireCounts,
  WireDefinition,
  WireDefinitionDetail,
  WireJob,
  WireJobDetail,
  WireLogLine,
  WirePreview,
  WireProgress,
  WireStats,
  WireStepType,
  WireValidation,
} from '../wire/api.js';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile when a schema's type and its wire interface differ. */
function same<A, B>(check: Equals<A, B>): void {
  void check;
}

const status = z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']);
const kind = z.enum(['manager', 'step', 'worker']);
const level = z.enum(['debug', 'info', 'warn', 'error']);
const id = z.number().int();

export const Counts = z.object({
  pending: z.number().int(),
  running: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  total: z.number().int(),
});
same<z.infer<typeof Counts>, WireCounts>(true);

export const Preview = z.object({ preview: z.string(), bytes: z.number().int(), truncated: z.boolean() });
same<z.infer<typeof Preview>, WirePreview>(true);

export const Progress = z.object({
  status,
  counts: Counts,
  steps: Counts.optional(),
  rate_per_sec: z.number(),
  eta_ms: z.number().nullable(),
  started_at: z.number().nullable(),
  finished_at: z.number().nullable(),
  at: z.number(),
});
same<z.infer<typeof Progress>, WireProgress>(true);

export const Job = z.object({
  id,
  kind,
  parent_id: id.nullable(),
  step_id: id.nullable(),
  manager_id: id,
  depth: z.number().int(),
  type: z.string(),
  name: z.string(),
  status,
  attempt: z.number().int(),
  max_attempts: z.number().int(),
  priority: z.number().int(),
  run_at: z.number().nullable(),
  created_at: z.number(),
  started_at: z.number().nullable(),
  finished_at: z.number().nullable(),
  payload: Preview,
  result: Preview.nullable(),
  error: Preview.nullable(),
  progress: Progress.optional(),
  step: z
    .object({
      depends_on: z.array(z.string()),
      description: z.string().nullable(),
      planned: z.number().int().nullable(),
      policy: z.object({
        on_error: z.enum(['fail', 'continue']),
        max_failures: z.string(),
        retries: z.number().int(),
        backoff: z.object({ type: z.string(), base_ms: z.number(), max_ms: z.number() }),
        timeout_ms: z.number().nullable(),
        concurrency: z.number().int().nullable(),
        priority: z.number().int(),
      }),
    })
    .optional(),
  run: z.object({ definition_id: z.string(), params: z.record(z.string(), z.unknown()) }).optional(),
});
same<z.infer<typeof Job>, WireJob>(true);

export const JobDetail = Job.extend({
  retries: z.array(z.object({ at: z.number(), from_status: status, attempt: z.number().int() })),
});
same<z.infer<typeof JobDetail>, WireJobDetail>(true);

export const LogLine = z.object({
  id,
  job_id: id,
  step_id: id.nullable(),
  manager_id: id,
  level,
  message: z.string(),
  at: z.number(),
});
same<z.infer<typeof LogLine>, WireLogLine>(true);

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

export const Stats = z.object({ runs: Counts });
same<z.infer<typeof Stats>, WireStats>(true);

export const Issue = z.object({
  file: z.string().optional(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  path: z.string(),
  message: z.string(),
});

const ParamSpec = z.object({
  type: z.enum(['string', 'number', 'integer', 'boolean']),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  description: z.string().optional(),
  required: z.boolean(),
});

export const Definition = z.object({
  id: z.string(),
  name: z.string(),
  valid: z.boolean(),
  issues: z.array(Issue),
  file: z.string().nullable(),
  updated_at: z.number().nullable(),
  description: z.string().nullable(),
  tags: z.array(z.string()),
  schedule: z.string().nullable(),
  enabled: z.boolean(),
  params: z.record(z.string(), ParamSpec),
  steps: z.array(z.object({ name: z.string(), type: z.string(), depends_on: z.array(z.string()), description: z.string().nullable() })),
});
same<z.infer<typeof Definition>, WireDefinition>(true);

export const DefinitionDetail = Definition.extend({ source: z.string() });
same<z.infer<typeof DefinitionDetail>, WireDefinitionDetail>(true);

export const Validation = z.object({ valid: z.boolean(), issues: z.array(Issue), definition: Definition.optional() });
same<z.infer<typeof Validation>, WireValidation>(true);

export const StepType = z.object({ name: z.string(), description: z.string().nullable(), enabled: z.boolean() });
same<z.infer<typeof StepType>, WireStepType>(true);

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }) });
export const Affected = z.object({ affected: z.number().int() });
export const Deleted = z.object({ affected: z.object({ jobs: z.number().int(), logs: z.number().int() }) });
export const Started = z.object({ manager_id: id });

// ---- requests ------------------------------------------------------------------------------------

/** A job id as text: at most 15 digits, so it stays an exact integer in JavaScript. */
export const JOB_ID_TEXT = '[1-9]\\d{0,14}';
const jobIdText = z.string().regex(new RegExp(`^${JOB_ID_TEXT}$`), 'a job id (a positive whole number of at most 15 digits)');

export const IdParams = z.object({ id: jobIdText });
export const DefinitionIdParams = z.object({ id: z.string().min(1).max(64) });

const csvStatuses = z
  .string()
  .regex(/^(pending|running|completed|failed|cancelled)(,(pending|running|completed|failed|cancelled))*$/, 'statuses separated by commas');

export const JobsQuery = z.object({
  parent_id: z
    .string()
    .regex(new RegExp(`^(root|${JOB_ID_TEXT})$`), 'root or a job id')
    .optional(),
  step_id: jobIdText.optional(),
  manager_id: jobIdText.optional(),
  kind: kind.optional(),
  status: csvStatuses.optional(),
  q: z.string().max(200).optional(),
  definition_id: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(200).optional(),
  /** Row number to start at (instead of a cursor): jumps into a long list in one request. */
  offset: z.coerce.number().int().min(0).max(100_000_000).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});

export const LogsQuery = z.object({
  level: level.optional(),
  limit: z.coerce.number().int().min(1).max(2000).optional(),
  cursor: z.string().max(200).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});

export const ExecuteBody = z.object({ params: z.record(z.string(), z.unknown()).optional() }).strict();

/** JSON Schema (draft 7, what Fastify's Ajv speaks) of a zod schema. */
export function json(schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** The error responses every route may give, for the OpenAPI document. */
export function withErrors(responses: Record<number, z.ZodType>): Record<number, Record<string, unknown>> {
  const out: Record<number, Record<string, unknown>> = {};
  for (const [code, schema] of Object.entries(responses)) out[Number(code)] = json(schema);
  for (const code of [400, 401, 404, 409, 413]) out[code] ??= json(ErrorBody);
  return out;
}
