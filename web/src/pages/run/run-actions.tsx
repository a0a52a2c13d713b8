/**
 * The actions on a run or a step, each behind a confirm that reports what the server did.
 */
import { cancelJob, deleteJob, rerunJob, retryJob, type JobView } from '../../api/jobs.js';
import { ConfirmAction, plural } from '../../components/confirm-action.js';
import { navigate } from '../../router.js';
import { isTerminalStatus } from '../../status.js';

function what(job: JobView): string {
  return job.kind === 'manager' ? 'run' : 'step';
}

export function CancelButton({ job, small }: { job: JobView; small?: boolean }) {
  const w = what(job);
  return (
    <ConfirmAction
      label={`Cancel ${w}`}
      small={small}
      danger
      disabled={isTerminalStatus(job.status)}
      title={`Cancel ${w} “${job.name}”?`}
      body={
        <p>Every pending or running job of this {w} is cancelled; running handlers are asked to stop. Completed jobs keep their results.</p>
      }
      confirmLabel={`Cancel ${w}`}
      testId={`cancel-${job.id}`}
      run={async () => {
        const n = await cancelJob(job.id);
        return n === 0 ? `Nothing to cancel: the ${w} had no pending or running jobs.` : `${plural(n, 'job')} cancelled.`;
      }}
    />
  );
}

export function RetryButton({ job, small }: { job: JobView; small?: boolean }) {
  const w = what(job);
  const failed = job.progress?.counts.failed ?? 0;
  return (
    <ConfirmAction
      label="Retry failed"
      small={small}
      // Nothing failed and the job itself did not fail (a step whose planning failed has no failed jobs): nothing to retry.
      disabled={failed === 0 && job.status !== 'failed'}
      title={`Retry the failed jobs of ${w} “${job.name}”?`}
      body={
        <p>
          {failed > 0 ? `${plural(failed, 'failed job')} go back to pending` : 'Failed jobs go back to pending'} with one more attempt; jobs
          cancelled because of those failures are queued again too.
        </p>
      }
      confirmLabel="Retry"
      testId={`retry-${job.id}`}
      run={async () => {
        const n = await retryJob(job.id);
        return n === 0 ? 'Nothing to retry: no failed jobs.' : `${plural(n, 'job')} retried.`;
      }}
    />
  );
}

export function RerunButton({ run }: { run: JobView }) {
  let started: number | null = null;
  return (
    <ConfirmAction
      label="Run again"
      title={`Run “${run.run?.definitionId ?? run.name}” again?`}
      body={<p>A new run of the definition starts, with the same params as this one.</p>}
      confirmLabel="Start run"
      testId={`rerun-${run.id}`}
      run={async () => {
        started = await rerunJob(run.id);
        return `Run #${started} started.`;
      }}
      onDone={() => {
        if (started !== null) navigate(`/runs/${started}`);
      }}
    />
  );
}

export function DeleteRunButton({ run }: { run: JobView }) {
  return (
    <ConfirmAction
      label="Delete run"
      danger
      disabled={!isTerminalStatus(run.status)}
      title={`Delete run “${run.name}”?`}
      body={<p>The run, all its jobs and their log lines are removed for good.</p>}
      confirmLabel="Delete"
      testId={`delete-${run.id}`}
      run={async () => {
        const a = await deleteJob(run.id);
        return `Deleted ${plural(a.jobs, 'job')} and ${plural(a.logs, 'log line')}.`;
      }}
      onDone={() => navigate('/runs')}
    />
  );
}
