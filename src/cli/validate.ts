/** `stepq validate FILE...`: checks definitions without running anything; exit 2 when any is invalid. */
import { readTextFile } from './read-text.js';
import { errorMessage } from '../core/errors.js';
import { formatIssues, parseDefinitionText } from '../definitions/index.js';
import { builtinRegistry, type Io } from './run.js';

export async function validateCommand(files: string[], opts: { allowShell: boolean; allowScript?: boolean }, io: Io): Promise<number> {
  const registry = builtinRegistry(opts.allowShell, opts.allowScript);
  let bad = 0;
  for (const file of files) {
    let source: string;
    try {
      source = await readTextFile(file);
    } catch (err) {
      io.err.write(`${file}: cannot read: ${errorMessage(err)}\n`);
      bad += 1;
      continue;
    }
    const r = parseDefinitionText(source, { file, stepTypes: registry });
    if (r.ok) {
      const d = r.definition;
      io.out.write(`${file}: ok — ${d.id} (${d.steps.length} step${d.steps.length === 1 ? '' : 's'}: ${stages(d.steps)})\n`);
    } else {
      bad += 1;
      io.err.write(`${formatIssues(r.issues)}\n`);
    }
  }
  if (bad > 0) io.err.write(`${bad} of ${files.length} definition${files.length === 1 ? '' : 's'} invalid.\n`);
  return bad > 0 ? 2 : 0;
}

/** Steps by stage: those of one stage run in parallel ("a, b → c → d"). */
export function stages(steps: ReadonlyArray<{ name: string; dependsOn: readonly string[] }>): string {
  const level = new Map<string, number>();
  for (const s of steps) level.set(s.name, 1 + Math.max(-1, ...s.dependsOn.map((d) => level.get(d) ?? 0)));
  const byLevel: string[][] = [];
  for (const s of steps) (byLevel[level.get(s.name) ?? 0] ??= []).push(s.name);
  return byLevel
    .filter(Boolean)
    .map((names) => names.join(', '))
    .join(' → ');
}
