/**
 * /api/job-definitions: list, read (with source), add (validated whole), validate, delete, execute.
 */
import type { FastifyInstance } from 'fastify';
import { StepqError } from '../../core/errors.js';
import type { Stepq } from '../../engine/engine.js';
import type { DefinitionIssue } from '../../definitions/types.js';
import { z, z as zod } from 'zod';
import { DefinitionDetail, DefinitionIdParams, Definition, ExecuteBody, Started, Validation, json, withErrors } from '../schemas.js';
import { wireDefinition, wireDefinitionSummary, wireIssue } from '../wire-mappers.js';
import type { WireDefinition } from '../../wire/api.js';

/** Definition files that could not be loaded at startup: listed as invalid, never hidden. */
export interface FileProblem {
  file: string;
  id: string;
  issues: DefinitionIssue[];
}

function sourceOf(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body && typeof body === 'object' && typeof (body as { source?: unknown }).source === 'string')
    return (body as { source: string }).source;
  throw new StepqError(
    'ERR_BAD_REQUEST',
    'Send the definition as TOML text (Content-Type: application/toml), or JSON { "source": "<toml>" }.',
  );
}

export async function definitionRoutes(app: FastifyInstance, opts: { engine: Stepq; fileProblems: () => FileProblem[] }): Promise<void> {
  const { engine } = opts;
  const idParams = json(DefinitionIdParams, 'input');

  app.get(
    '/api/job-definitions',
    { schema: { summary: 'Definitions, with their validity', response: withErrors({ 200: zod.array(Definition) }) } },
    async () => {
      const stored = (await engine.listDefinitions()).map(wireDefinition);
      const ids = new Set(stored.map((d) => d.id));
      const broken: WireDefinition[] = opts
        .fileProblems()
        .filter((p) => !ids.has(p.id))
        .map((p) => ({
          id: p.id,
          name: p.id,
          valid: false,
          issues: p.issues.map(wireIssue),
          file: p.file,
          updated_at: null,
          description: null,
          tags: [],
          schedule: null,
          enabled: false,
          params: {},
          steps: [],
        }));
      return [...stored, ...broken].sort((a, b) => a.id.localeCompare(b.id));
    },
  );

  app.get(
    '/api/job-definitions/:id',
    { schema: { summary: 'One definition with its TOML source', params: idParams, response: withErrors({ 200: DefinitionDetail }) } },
    async (request) => {
      const { id } = request.params as { id: string };
      const d = await engine.getDefinition(id);
      if (!d) {
        const problem = opts.fileProblems().find((p) => p.id === id);
        if (problem)
          throw new StepqError('ERR_DEFINITION_INVALID', `The definition file ${problem.file} is invalid.`, { issues: problem.issues });
        throw new StepqError('ERR_DEFINITION_NOT_FOUND', `No definition "${id}".`, { id });
      }
      return { ...wireDefinition(d), source: d.source };
    },
  );

  app.post(
    '/api/job-definitions',
    {
      schema: {
        summary: 'Add or replace a definition (TOML body); refused whole when invalid',
        response: withErrors({ 201: DefinitionDetail }),
      },
    },
    async (request, reply) => {
      const source = sourceOf(request.body);
      const saved = await engine.saveDefinition({ source });
      void reply.status(201);
      return { ...wireDefinition(saved), source: saved.source };
    },
  );

  app.post(
    '/api/job-definitions/validate',
    { schema: { summary: 'Validate a definition (TOML body) without saving it', response: withErrors({ 200: Validation }) } },
    async (request) => {
      const r = engine.parse(sourceOf(request.body));
      if (!r.ok) return { valid: false, issues: r.issues.map(wireIssue) };
      return {
        valid: true,
        issues: [],
        definition: { ...wireDefinitionSummary(r.definition), valid: true, issues: [], file: null, updated_at: null },
      };
    },
  );

  app.delete(
    '/api/job-definitions/:id',
    {
      schema: {
        summary: 'Delete a definition (its past runs stay)',
        params: idParams,
        response: withErrors({ 200: zod.object({ affected: zod.number().int() }) }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const deleted = await engine.deleteDefinition(id);
      if (!deleted) throw new StepqError('ERR_DEFINITION_NOT_FOUND', `No definition "${id}".`, { id });
      return { affected: 1 };
    },
  );

  app.post(
    '/api/job-definitions/:id/execute',
    {
      schema: {
        summary: 'Start a run of a definition with params; body { "params": { … } } (optional)',
        params: idParams,
        response: withErrors({ 202: Started }),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      // The definition first (an unknown one is a 404 whatever the body), then the body.
      if (!(await engine.getDefinition(id))) throw new StepqError('ERR_DEFINITION_NOT_FOUND', `No definition "${id}".`, { id });
      const parsed = ExecuteBody.safeParse(request.body ?? {});
      if (!parsed.success) {
        throw new StepqError('ERR_BAD_REQUEST', `The body must be { "params": { … } }: ${z.prettifyError(parsed.error)}`, {
          issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        });
      }
      const started = await engine.startRun({ definition: { id }, params: parsed.data.params ?? {} });
      void reply.status(202);
      return { manager_id: started.managerId };
    },
  );
}
