/**
 * `stepq definitions …`: the definitions stored for `stepq serve` (and its scheduler).
 */
import { readTextFile } from './read-text.js';
import { StepqError } from '../core/errors.js';
import { formatIssues } from '../definitions/index.js';
import { withEngine, type StoreOption } from './jobs.js';
import { parseParams, type Io } from './run.js';
import { safeText, storeRunners } from './format.js';

export async function definitionsList(opts: StoreOption, io: Io): Promise<number> {
  return withEngine(opts, io, async (engine) => {
    const defs = await engine.listDefinitions();
    if (opts.json) {
      io.out.write(
        `${JSON.stringify(
          defs.map(({ definition, ...d }) => ({ ...d, steps: definition?.steps.map((s) => s.name) ?? [] })),
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    if (defs.length === 0) io.err.write('No definitions stored. Add one with `stepq definitions add FILE`.\n');
    for (const d of defs) {
      const status = d.valid ? 'valid  ' : 'INVALID';
      const schedule = d.definition?.schedule ? `  cron ${d.definition.schedule}` : '';
      io.out.write(`${d.id.padEnd(24)} ${status}  ${safeText(d.name, 50)}${schedule}${d.file ? `  (${d.file})` : ''}\n`);
      if (!d.valid) io.out.write(`${formatIssues(d.issues).replace(/^/gm, '    ')}\n`);
    }
    return 0;
  });
}

export async function definitionsShow(id: string, opts: StoreOption, io: Io): Promise<number> {
  return withEngine(opts, io, async (engine) => {
    const d = await engine.getDefinition(id);
    if (!d) throw new StepqError('ERR_DEFINITION_NOT_FOUND', `No definition "${id}".`);
    io.out.write(opts.json ? `${JSON.stringify(d, null, 2)}\n` : d.source.endsWith('\n') ? d.source : `${d.source}\n`);
    return 0;
  });
}

export async function definitionsAdd(file: string, opts: StoreOption, io: Io): Promise<number> {
  let source: string;
  try {
    source = await readTextFile(file);
  } catch (err) {
    io.err.write(`stepq: cannot read ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  return withEngine({ ...opts, mayCreate: true }, io, async (engine) => {
    const parsed = engine.parse(source, file);
    if (!parsed.ok) {
      io.err.write(`${formatIssues(parsed.issues)}\n${file} was not stored.\n`);
      return 2;
    }
    const saved = await engine.saveDefinition({ source, file });
    io.out.write(`Stored ${saved.id} (${parsed.definition.steps.length} steps).\n`);
    return 0;
  });
}

export async function definitionsRemove(id: string, opts: StoreOption, io: Io): Promise<number> {
  return withEngine(opts, io, async (engine) => {
    if (!(await engine.deleteDefinition(id))) throw new StepqError('ERR_DEFINITION_NOT_FOUND', `No definition "${id}".`);
    io.out.write(`Removed ${id}; its past runs stay.\n`);
    return 0;
  });
}

export async function definitionsRun(id: string, opts: StoreOption & { param: string[] }, io: Io): Promise<number> {
  return withEngine(opts, io, async (engine) => {
    const started = await engine.startRun({ definition: { id }, params: parseParams(opts.param) });
    io.out.write(
      opts.json
        ? `${JSON.stringify({ manager_id: started.managerId })}\n`
        : `Run ${started.managerId} started; ${storeRunners(engine.store)} on this store runs it.\n`,
    );
    return 0;
  });
}
