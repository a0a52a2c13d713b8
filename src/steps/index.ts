/**
 * The step types that ship with stepq. The engine registers all of them; `shell` is privileged and
 * only runs when the operator enables it (`--allow-shell`).
 */
import type { StepType } from '../core/step-type.js';
import { crawlerStep } from './crawler.js';
import { filesStep } from './files.js';
import { httpStep } from './http.js';
import { reportStep } from './report.js';
import { scriptStep } from './script.js';
import { shellStep } from './shell.js';
import { synthetic } from './synthetic.js';

export { crawlerStep, filesStep, httpStep, reportStep, scriptStep, shellStep, synthetic };

export const builtinStepTypes: ReadonlyArray<StepType<unknown>> = [
  filesStep,
  crawlerStep,
  httpStep,
  shellStep,
  scriptStep,
  reportStep,
  synthetic,
];
