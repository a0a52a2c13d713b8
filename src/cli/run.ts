/**
 * `stepq run FILE`: runs one definition to its end in this process, on the embedded store by
 * default, with live progress and a summary. Exit 0 = completed, 1 = failed or cancelled,
 * 2 = invalid input, 130 = interrupted (Ctrl-C cancels the run cleanly first), 143 = stopped by
 * SIGTERM without cancelling the run (its running jobs handed back; `stepq serve` resumes it).
 */
import { redactStoreUrl } from '../engine/store-url.js';
import { storeFileProblem } from './store-file.js';
import { readTextFile } from './read-text.js';
import { relative } from 'node:path';
import { errorMessage, StepqError } from '../core/errors.js';
import { formatIssues, parseDefinitionText, resolveRun } from '../definitions/index.js';
import { createStepq, type RunOutcome, type Stepq } from '../engine/engine.js';
import { StepTypeRegistry } from '../engine/step-types.js';
import { builtinStepTypes } from '../steps/index.js';
import { formatMs, countsLine, safeText, storeRunners } from './format.js';
import { lineLogger } from './log-lines.js';
import { showProgress } from './progress-view.js';
import { onBrokenPipe } from './broken-pipe.js';

export interface RunOptions {
  param: string[];
  store: string;
  concurrency: number;
  allowShell: boolean;
  allowScript?: boolean;
  json: boolean;
  logLevel: string;
}

export interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

/** `k=v` pairs into a record; the value may contain `=`. */
export function parseParams(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new StepqError('ERR_PARAMS_INVALID', `--param expects key=value, got "${pair}".`);
    const key = pair.slice(0, i);
    if (Object.hasOwn(out, key)) throw new StepqError('ERR_PARAMS_INVALID', `--param ${key} is given twice; give each param once.`);
    out[key] = pair.slice(i + 1);
  }
  return out;
}

export function builtinRegistry(allowShell: boolean, allowScript = false): StepTypeRegistry {
  const registry = new StepTypeRegistry();
  for (const t of builtinStepTypes) registry.register(t);
  if (allowShell) registry.enable('shell');
  if (allowScript) registry.enable('script');
  return registry;
}

/** Why `stepq run` stopped without cancelling its run: SIGTERM, or its output pipe closed. */
type Detach = 'SIGTERM' | 'EPIPE';

/** How long running jobs may finish when `stepq run` stops without cancelling (docker stop waits 10 s). */
const DETACH_GRACE_MS = 5000;

/** The command that finishes a run `stepq run` left unfinished, for its message. */
function resumeCommand(engine: Stepq, store: string): string {
  const url = shellWord(redactStoreUrl(store));
  return engine.store.capabilities.multiProcess
    ? `\`stepq serve --store ${url}\` or \`stepq worker --store ${url}\``
    : `\`stepq serve --store ${url}\``;
}

/** A word the shell takes as is: quoted when it holds anything else (`?`, `&`, spaces in a path). */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

export async function runCommand(file: string, opts: RunOptions, io: Io): Promise<number> {
  let source: string;
  try {
    source = await readTextFile(file);
  } catch (err) {
    io.err.write(`stepq: cannot read ${file}: ${errorMessage(err)}\n`);
    return 2;
  }
  let params: Record<string, string>;
  try {
    params = parseParams(opts.param);
  } catch (err) {
    io.err.write(`stepq: ${errorMessage(err)}\n`);
    return 2;
  }
  // Validate whole before opening the store: nothing is written for invalid input.
  const registry = builtinRegistry(opts.allowShell, opts.allowScript);
  const parsed = parseDefinitionText(source, { file, stepTypes: registry });
  if (!parsed.ok) {
    io.err.write(
      `${formatIssues(parsed.issues)}\n${file} is not a valid definition (${parsed.issues.length} problem${parsed.issues.length === 1 ? '' : 's'}).\n`,
    );
    return 2;
  }
  const resolved = resolveRun(parsed.definition, params, { stepTypes: registry });
  if (!resolved.ok) {
    io.err.write(`${formatIssues(resolved.issues.map((i) => ({ ...i, file })))}\nThe params do not fit ${file}.\n`);
    return 2;
  }

  const problem = storeFileProblem(opts.store, 'create');
  if (problem) {
    io.err.write(`stepq: ${problem}\n`);
    return 2;
  }
  let engine: Stepq;
  try {
    engine = await createStepq({
      store: opts.store,
      concurrency: opts.concurrency,
      allowShell: opts.allowShell,
      allowScript: opts.allowScript ?? false,
      logger: lineLogger(opts.logLevel, io.err),
    });
  } catch (err) {
    io.err.write(`stepq: cannot open the store ${redactStoreUrl(opts.store)}: ${errorMessage(err)}\n`);
    return 2;
  }
  const def = parsed.definition;
  const started = await engine.startRun({ definition: def, params });
  const managerId = started.managerId;
  // This process works on its own run only; the others are another `stepq run`'s, or wait for
  // `stepq serve` (or, on PostgreSQL, `stepq worker`).
  engine.start({ onlyRun: managerId });
  const others = (await engine.stats()).runs.running - 1;
  if (others > 0) {
    io.err.write(
      `Note: ${others} other run${others === 1 ? ' is' : 's are'} unfinished in this store; this command works on run ${managerId} only ` +
        `(the others are run by the \`stepq run\` that started them, while it lasts, or by ${storeRunners(engine.store)} on this store).\n`,
    );
  }
  io.err.write(
    `Run ${managerId} started: ${safeText(def.name, 120)} (${def.steps.length} step${def.steps.length === 1 ? '' : 's'}) on ${redactStoreUrl(opts.store)}\n`,
  );
  const view = opts.json ? null : showProgress({ bus: engine.bus, managerId, stepNames: def.steps.map((s) => s.name), out: io.err });

  // Ctrl-C (SIGINT) cancels the run: the user at the terminal means to stop it. SIGTERM (docker
  // stop, systemd, a CI timeout) and a closed output pipe stop this process only: the engine's
  // graceful stop (as for serve and worker) lets running jobs finish for a while and hands the rest
  // back to the queue, and the run stays resumable by `stepq serve` on the store.
  let interrupted: 'SIGINT' | Detach | null = null;
  const detached = new AbortController();
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (interrupted) {
      io.err.write(
        `\nstepq: second ${signal === 'SIGINT' ? 'Ctrl-C' : signal}, exiting now; unfinished jobs are reclaimed when their leases expire.\n`,
      );
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    if (signal === 'SIGTERM') return detach('SIGTERM');
    interrupted = 'SIGINT';
    io.err.write(`\nstepq: cancelling run ${managerId} (Ctrl-C again to exit at once)…\n`);
    void engine.cancel(managerId).catch((err: unknown) => io.err.write(`stepq: cancel failed: ${errorMessage(err)}\n`));
  };
  const detach = (why: Detach): void => {
    if (interrupted) return;
    interrupted = why;
    detached.abort();
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  const offBrokenPipe = onBrokenPipe(() => detach('EPIPE'));
  const stopListening = (): void => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    offBrokenPipe();
  };

  let outcome: RunOutcome | null = null;
  try {
    outcome = await engine.waitForRun(managerId, { signal: detached.signal });
  } catch (err) {
    if (!detached.signal.aborted) throw err;
  } finally {
    view?.stop();
  }
  if (outcome === null) {
    // Detached: nothing is cancelled; what ran is acknowledged, the rest released (nothing stays leased).
    io.err.write(
      `\nstepq: ${interrupted === 'SIGTERM' ? 'SIGTERM' : 'output closed'}: stopping without cancelling run ${managerId} ` +
        `(running jobs get ${DETACH_GRACE_MS / 1000} s, then go back to the queue); resume it with ${resumeCommand(engine, opts.store)}.\n`,
    );
    await engine.stop({ graceMs: DETACH_GRACE_MS, closeStore: false });
    stopListening();
    if (opts.json) io.out.write(`${JSON.stringify({ ...(await engine.outcome(managerId)), stopped: interrupted }, null, 2)}\n`);
    await engine.store.close();
    return interrupted === 'EPIPE' ? 141 : 143;
  }
  const reports = await reportFiles(engine, outcome);
  const failures = await failureSamples(engine, outcome);
  await engine.stop({ graceMs: 5000 });
  stopListening();

  if (opts.json) {
    io.out.write(`${JSON.stringify({ ...outcome, reports, failures }, null, 2)}\n`);
  } else {
    printSummary(io.out, outcome, failures, reports);
  }
  if (interrupted === 'SIGINT') return 130;
  return outcome.manager.status === 'completed' ? 0 : 1;
}

async function reportFiles(engine: Stepq, outcome: RunOutcome): Promise<string[]> {
  const files: string[] = [];
  for (const step of outcome.steps) {
    const job = await engine.getJob(step.stepId);
    if (job?.type !== 'report') continue;
    const done = await engine.listJobs({ stepId: step.stepId, status: ['completed'], limit: 10 });
    for (const j of done.data) {
      const r = j.result as { files?: unknown } | null;
      if (r && Array.isArray(r.files)) files.push(...r.files.filter((f): f is string => typeof f === 'string'));
    }
  }
  return files;
}

async function failureSamples(engine: Stepq, outcome: RunOutcome): Promise<Array<{ step: string; job: string; error: string }>> {
  const out: Array<{ step: string; job: string; error: string }> = [];
  for (const step of outcome.steps) {
    if (step.counts.failed === 0) continue;
    const page = await engine.listJobs({ stepId: step.stepId, status: ['failed'], limit: 5 });
    for (const j of page.data) out.push({ step: step.name, job: j.name, error: j.error ?? '' });
  }
  return out;
}

function printSummary(
  out: NodeJS.WriteStream,
  outcome: RunOutcome,
  failures: Array<{ step: string; job: string; error: string }>,
  reports: string[],
): void {
  const m = outcome.manager;
  const took = m.finishedAt && m.startedAt ? formatMs(m.finishedAt - m.startedAt) : '—';
  out.write(`\nRun ${m.managerId} ${m.status} in ${took} — ${safeText(m.name)}\n`);
  const width = Math.max(...outcome.steps.map((s) => s.name.length), 4);
  for (const s of outcome.steps) {
    const dur = s.startedAt && s.finishedAt ? formatMs(s.finishedAt - s.startedAt) : '—';
    out.write(`  ${s.name.padEnd(width)}  ${s.status.padEnd(9)}  ${countsLine(s.counts)}  (${dur})\n`);
    if (s.error) out.write(`  ${''.padEnd(width)}  ${safeText(s.error)}\n`);
  }
  const totalFailed = outcome.steps.reduce((n, s) => n + s.counts.failed, 0);
  if (totalFailed > 0) {
    out.write(`\nFailures (${totalFailed}${failures.length < totalFailed ? `, first ${failures.length} shown` : ''}):\n`);
    for (const f of failures) out.write(`  ${f.step} › ${safeText(f.job, 120)}: ${safeText(f.error)}\n`);
  }
  if (reports.length > 0) {
    out.write('\nReport:\n');
    for (const r of reports) out.write(`  ${relative(process.cwd(), r) || r}\n`);
  }
}
