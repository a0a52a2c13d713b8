/**
 * One run's state: the manager job and its steps, with the `run:<id>` topic's pushes applied —
 * manager_progress to the run, step_progress to the step it names (each step keeps its own counts),
 * status changes of the run and its steps.
 */
import type { ServerMessage } from '../../../../src/wire/live.js';
import { withProgress, withStatusChange } from '../../api/jobs.js';
import type { RunSnapshot } from '../../api/runs.js';

export function reduceRun(state: RunSnapshot, messages: ServerMessage[]): RunSnapshot {
  let run = state.run;
  let steps: RunSnapshot['steps'] | null = null;
  const index = new Map(state.steps.map((s, i) => [s.id, i]));
  for (const m of messages) {
    if (m.type === 'manager_progress') {
      if (m.payload.manager_id === run.id) run = withProgress(run, m.payload);
    } else if (m.type === 'step_progress') {
      const i = index.get(m.payload.step_id);
      if (i === undefined) continue;
      steps ??= [...state.steps];
      steps[i] = withProgress(steps[i]!, m.payload);
    } else if (m.type === 'job_status_change') {
      if (m.payload.job_id === run.id) {
        run = withStatusChange(run, m.payload);
        continue;
      }
      const i = index.get(m.payload.job_id);
      if (i === undefined) continue;
      steps ??= [...state.steps];
      steps[i] = withStatusChange(steps[i]!, m.payload);
    }
  }
  if (run === state.run && steps === null) return state;
  return { run, steps: steps ?? state.steps };
}
