import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = `${ROOT}src/cli/main.ts`;
/** tsx's loader by URL, so the CLI can start from any working directory. */
const TSX = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI from source (tsx) as its own process. */
export function startCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): ChildProcess & { output: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { output: { stdout: string; stderr: string } };
  child.output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (child.output.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (child.output.stderr += d.toString()));
  return child;
}

/** Runs the CLI to its end (killed after `timeoutMs`). */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = startCli(args, opts);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ...child.output });
    });
  });
}

/** Resolves when `pred` holds for the child's stderr+stdout, or rejects after `ms`. */
export function waitForOutput(child: ReturnType<typeof startCli>, pred: (text: string) => boolean, ms = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => pred(child.output.stderr + child.output.stdout);
    if (check()) return resolve();
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`output never matched; got:\n${child.output.stderr}\n${child.output.stdout}`));
    }, ms);
    const onData = (): void => {
      if (check()) {
        cleanup();
        resolve();
      }
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}
