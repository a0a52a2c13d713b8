/**
 * The command line. Each command lives in its own module; this file only declares them.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { endQuietlyOnBrokenPipe } from './broken-pipe.js';
import { runCommand } from './run.js';
import { serveCommand } from './serve.js';
import { validateCommand } from './validate.js';
import { workerCommand } from './worker.js';
import { jobsAction, jobsList, jobsLogs, jobsShow } from './jobs.js';
import { definitionsAdd, definitionsList, definitionsRemove, definitionsRun, definitionsShow } from './definitions.js';

const DEFAULT_STORE = 'sqlite:./stepq.db';
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** --store, defaulting to $STEPQ_STORE without printing its value (it may hold a password). */
function storeOption(description = 'sqlite:PATH or postgres://…'): Option {
  return new Option('--store <url>', description).default(
    process.env.STEPQ_STORE ?? DEFAULT_STORE,
    process.env.STEPQ_STORE ? '$STEPQ_STORE' : DEFAULT_STORE,
  );
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnBrokenPipe();
  const io = { out: process.stdout, err: process.stderr };
  let code = 0;
  const program = new Command()
    .name('stepq')
    .description('Durable workflows: TOML definitions fan out into worker jobs, watched live.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run a definition to its end in this process, with live progress')
    .argument('<file>', 'the definition (TOML)')
    .option('-p, --param <key=value>', 'a param for this run (repeatable)', collect, [])
    .addOption(storeOption())
    .option('-c, --concurrency <n>', 'worker jobs run at once', positiveInt, 32)
    .option('--allow-shell', 'allow the shell step type', false)
    .option('--allow-script', 'allow the script step type (modules from this machine)', false)
    .option('--json', 'print the outcome as JSON instead of a summary', false)
    .addOption(new Option('--log-level <level>', 'engine log level').choices(['debug', 'info', 'warn', 'error', 'silent']).default('warn'))
    .action(async (file: string, opts) => {
      code = await runCommand(file, opts, io);
    });

  program
    .command('serve')
    .description('serve the API, the live socket and the page (and run workers unless --no-workers)')
    .addOption(storeOption())
    .option('--host <host>', 'address to bind (any other than loopback needs STEPQ_TOKEN)', '127.0.0.1')
    .option(
      '--port <port>',
      'port to listen on',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number');
        return n;
      },
      7700,
    )
    .option('--definitions <dir>', 'folder of *.toml definitions to load (repeatable; default ./definitions and the examples)', collect, [])
    .option('--no-workers', 'serve only; run no jobs in this process')
    .option('-c, --concurrency <n>', 'worker jobs run at once', positiveInt, 32)
    .option('--allow-shell', 'allow the shell step type', false)
    .option('--allow-script', 'allow the script step type (modules from this machine)', false)
    .option('--token <token>', 'require this token (default: $STEPQ_TOKEN)')
    .option(
      '--allow-origin <origin>',
      'let pages from this origin act on the server too, e.g. a dev server (repeatable; also $STEPQ_ALLOWED_ORIGINS)',
      collect,
      [],
    )
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error', 'silent']).default('warn'))
    .action(async (opts) => {
      code = await serveCommand(opts, io);
    });

  program
    .command('worker')
    .description('work the shared queue of a PostgreSQL store: worker pool and lease rescuer, no HTTP (run as many as you like)')
    .addOption(storeOption('postgres://user@host:port/db (SQLite stores belong to one process)'))
    .option('-c, --concurrency <n>', 'worker jobs run at once', positiveInt, 32)
    .option('--types <a,b>', 'claim only jobs of these step types')
    .option('--allow-shell', 'allow the shell step type', false)
    .option('--allow-script', 'allow the script step type (modules from this machine)', false)
    .option('--lease-ms <ms>', 'lease length; heartbeats every third of it (default 30000)', positiveInt)
    .option('--rescue-ms <ms>', 'how often expired leases are reclaimed (default 5000)', positiveInt)
    .option('--grace-ms <ms>', 'on SIGINT/SIGTERM, how long running jobs may finish before they are handed back', positiveInt, 10_000)
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .action(async (opts) => {
      code = await workerCommand(opts, io);
    });

  const storeOpt = (): Option => storeOption();
  const jsonOpt = (): Option => new Option('--json', 'print JSON').default(false);
  const jobs = program.command('jobs').description('look at and act on runs and jobs in a store');
  jobs
    .command('list')
    .description('runs (newest first), or the steps of --run, or the worker jobs of --step')
    .addOption(new Option('--run <id>', 'the steps of this run').conflicts('step'))
    .option('--step <id>', 'the worker jobs of this step')
    .option('--status <list>', 'only these statuses, e.g. failed or pending,running')
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .addOption(storeOpt())
    .addOption(jsonOpt())
    .action(async (opts) => {
      code = await jobsList(opts, io);
    });
  jobs
    .command('show')
    .description('one job: status, attempts, times, progress, payload, result, error')
    .argument('<id>')
    .addOption(storeOpt())
    .addOption(jsonOpt())
    .action(async (id: string, opts) => {
      code = await jobsShow(id, opts, io);
    });
  jobs
    .command('logs')
    .description("a job's log lines (a run's or step's: all of its jobs')")
    .argument('<id>')
    .addOption(new Option('--level <level>', 'minimum level').choices(['debug', 'info', 'warn', 'error']))
    .option('--limit <n>', 'the newest n lines', positiveInt, 200)
    .addOption(storeOpt())
    .addOption(jsonOpt())
    .action(async (id: string, opts) => {
      code = await jobsLogs(id, opts, io);
    });
  for (const [action, what] of [
    ['cancel', 'cancel a run, a step or a job, with everything under it not yet ended'],
    ['retry', 'retry the failed jobs under a run, a step or one job'],
    ['rerun', 'run the definition of a run again with the same params'],
    ['delete', 'delete a finished run with its jobs and logs'],
  ] as const) {
    jobs
      .command(action)
      .description(what)
      .argument('<id>')
      .addOption(storeOpt())
      .action(async (id: string, opts) => {
        code = await jobsAction(action, id, opts, io);
      });
  }

  const defs = program.command('definitions').description('definitions stored for `stepq serve` and its schedules');
  defs
    .command('list')
    .addOption(storeOpt())
    .addOption(jsonOpt())
    .action(async (opts) => {
      code = await definitionsList(opts, io);
    });
  defs
    .command('show')
    .argument('<id>')
    .addOption(storeOpt())
    .addOption(jsonOpt())
    .action(async (id: string, opts) => {
      code = await definitionsShow(id, opts, io);
    });
  defs
    .command('add')
    .description('validate a TOML file and store it (replacing one with the same id)')
    .argument('<file>')
    .addOption(storeOpt())
    .action(async (file: string, opts) => {
      code = await definitionsAdd(file, opts, io);
    });
  defs
    .command('remove')
    .argument('<id>')
    .addOption(storeOpt())
    .action(async (id: string, opts) => {
      code = await definitionsRemove(id, opts, io);
    });
  defs
    .command('run')
    .description('start a run of a stored definition (`stepq serve` on the store runs it, or `stepq worker` on PostgreSQL)')
    .argument('<id>')
    .option('-p, --param <key=value>', 'a param for this run (repeatable)', collect, [])
    .addOption(storeOpt())
    .addOption(jsonOpt())
    .action(async (id: string, opts) => {
      code = await definitionsRun(id, opts, io);
    });

  program
    .command('validate')
    .description('check definitions without running them (exit 2 when any is invalid)')
    .argument('<files...>', 'definition files')
    .option('--allow-shell', 'accept the shell step type', false)
    .option('--allow-script', 'accept the script step type', false)
    .action(async (files: string[], opts) => {
      code = await validateCommand(files, opts, io);
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    if (typeof e.exitCode === 'number') return e.exitCode === 1 ? 2 : e.exitCode;
    throw err;
  }
  return code;
}

// Run directly (`tsx src/cli/main.ts ...` in development); the published entry is bin/stepq.js.
if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv);
}
