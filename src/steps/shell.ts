/**
 * `shell`: runs a program once per item (or once), without a shell: the program gets its arguments as
 * a list, so `; rm -rf /` or `$(whoami)` in an item stays text. Privileged: the engine refuses it
 * unless the operator enabled it (`--allow-shell`).
 *
 * No timeout of its own: the step option `timeout` (every step takes it) bounds each worker job by
 * aborting `ctx.signal`, and that abort kills the program's whole process group, exactly as
 * cancelling does. Without a step `timeout` a program may run for as long as it likes, so operators
 * should set one on every `shell` step.
 */
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import { defineStepType } from '../core/step-type.js';
import { checkItemSource, itemSourceShape, parseItemPayload, planItems } from './item-fanout.js';
import { runProcess } from './process-run.js';
import { renderTemplate, templateString } from './template.js';

export const shellConfig = z
  .strictObject({
    ...itemSourceShape,
    /** Program path or name (looked up on PATH). Not a template, and never run through a shell. */
    command: z.string().min(1),
    /** Arguments, each a template (`{{item}}`, `{{item.field}}`, `{{index}}`). */
    args: z.array(templateString()).default([]),
    /** Working directory; relative paths resolve against the worker's current directory. */
    cwd: z.string().min(1).optional(),
    /** Added to (or overriding) the worker's environment; values are templates. */
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name'), templateString()).default({}),
    /** Bytes of stdout and of stderr kept (each); the program still runs to its end. */
    max_output: z
      .number()
      .int()
      .positive()
      .default(64 * 1024),
  })
  .superRefine(checkItemSource);

export type ShellConfig = z.output<typeof shellConfig>;

export const shellStep = defineStepType<ShellConfig>({
  name: 'shell',
  description: 'Run a program (no shell) once per item; capture exit code and output.',
  privileged: true,
  config: shellConfig,

  plan(ctx) {
    return planItems({
      ctx,
      name: (scope) => [ctx.config.command, ...ctx.config.args.map((a) => renderTemplate(a, scope))].join(' '),
    });
  },

  async run(job, ctx): Promise<JsonValue> {
    const config = ctx.config;
    const scope = parseItemPayload(job.payload);
    const args = config.args.map((a) => renderTemplate(a, scope));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [name, value] of Object.entries(config.env)) env[name] = renderTemplate(value, scope);

    const out = await runProcess({
      command: config.command,
      args,
      cwd: config.cwd,
      env,
      maxOutput: config.max_output,
      signal: ctx.signal,
    });
    const tail = out.stderrTail.trim();
    const detail = tail ? `: ${tail}` : '';
    if (out.exitCode === null) throw new Error(`${config.command} was killed by ${out.signal ?? 'a signal'}${detail}`);
    if (out.exitCode !== 0) throw new Error(`${config.command} exited with code ${out.exitCode}${detail}`);
    return {
      exit_code: out.exitCode,
      stdout: out.stdout,
      stderr: out.stderr,
      truncated: out.truncated,
      elapsed_ms: out.elapsedMs,
    };
  },
});
