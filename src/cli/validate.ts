/** `stepq validate FILE...`: checks definitions without running anything; exit 2 when any is invalid. */
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../core/errors.js';
import { formatIssues, parseDefinition } from '../definitions/index.js';
import { builtinRegistry, type Io } from './run.js';

export async function validateCommand(files: string[], opts: { allowShell: boolean; allowScript?: boolean }, io: Io): Promise<number> {
  const registry = builtinRegistry(opts.allowShell, opts.allowScript);
  let bad = 0;
  for (const file of files) {
    let source: string;
    try {
      source = await readFile(file, 'utf8');
    } catch (err) {
      io.err.write(`${file}: cannot read: ${errorMessage(err)}\n`);
      bad += 1;
      continue;
    }
    const r = parseDefinition(source, { file, stepTypes: registry });
    if (r.ok) {
      const d = r.definition;
      io.out.write(`${file}: ok — ${d.id} (${d.steps.length} step${d.steps.length === 1 ? '' : 's'}: ${d.steps.map((s) => s.name).join(' → ')})\n`);
    } else {
      bad += 1;
      io.err.write(`${formatIssues(r.issues)}\n`);
    }
  }
  if (bad > 0) io.err.write(`${bad} of ${files.length} definition${files.length === 1 ? '' : 's'} invalid.\n`);
  return bad > 0 ? 2 : 0;
}
