/**
 * PostgreSQL statements: the same names as sqlite/queries.ts where a statement exists in both, with
 * positional parameters ($1 ...). Times are epoch ms (bigint); JSON is `json` text. Id lists are
 * bigint arrays (`= ANY($n::bigint[])`), and batches are one statement over `unnest` of column arrays,
 * so a batch of 200 acknowledgements is one round trip, not 200.
 *
 * Locking rules (see ARCHITECTURE.md beside this file):
 * - claims lock their candidates `FOR UPDATE SKIP LOCKED`: concurrent workers never take the same job
 *   and never wait for each other;
 * - statements that need a row's status before they change it (set-based cancel and retry, step and
 *   manager transitions) lock the rows in a CTE `ORDER BY id FOR UPDATE`: the CTE returns the status
 *   at lock time (the prior status the counters need), and a fixed lock order avoids deadlocks;
 * - per-step advisory locks (two int4 keys: FENCE_KEY or LANE_KEY, and the step id) fence inserts
 *   against set-based cancellation, and serialise claims of a concurrency-limited step.
 */

/** Counter shards per (owner, scope); a transaction writes to one, chosen at random. */
export const COUNTER_SHARDS = 16;
/** Advisory-lock class of the step fence (insertWorkers shared, set-based cancel exclusive). */
export const FENCE_KEY = 0x5354_5046; // "STPF"
/** Advisory-lock class of a concurrency-limited step's claim lane. */
export const LANE_KEY = 0x5354_504c; // "STPL"

/** Columns of a status change (see JobChange), qualified by the updated table's alias `j`. */
const CHANGE_COLS =
  'j.id, j.kind, j.parent_id, j.step_id, j.manager_id, j.type, j.name, j.status, j.attempt, j.started_at, j.finished_at, j.error';
/** Columns a claim returns: the change plus what the worker needs to run the job. */
const CLAIM_COLS = `${CHANGE_COLS}, j.payload, j.max_attempts, j.timeout_ms, j.depth, j.lease_token`;
const CLEAR_LEASE = 'lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL';

/** The database clock in epoch ms: the one clock every lease is compared against. */
export const NOW = `SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now`;

/**
 * Inserts one job; returns its id. $1 kind, $2 parent_id, $3 step_id, $4 manager_id, $5 depth,
 * $6 type, $7 name, $8 key, $9 status, $10 max_attempts, $11 priority, $12 run_at, $13 timeout_ms,
 * $14 lane, $15 concurrency, $16 payload (JSON text), $17 definition_id, $18 now (created_at),
 * $19 started_at.
 */
export const INSERT_JOB = `
INSERT INTO jobs (kind, parent_id, step_id, manager_id, depth, type, name, key, status, attempt, max_attempts,
                  priority, run_at, timeout_ms, lane, concurrency, payload, definition_id, created_at, started_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12, $13, $14, $15, $16::json, $17, $18, $19)
RETURNING id`;

/**
 * Inserts worker jobs from column arrays (one element per job), skipping those whose (step_id, key)
 * exists (also within the batch). $1 parent_id[], $2 step_id[], $3 manager_id[], $4 depth[],
 * $5 type[], $6 name[], $7 key[], $8 max_attempts[], $9 priority[], $10 run_at[], $11 timeout_ms[],
 * $12 lane[], $13 payload[] (JSON text), $14 now (created_at). Kind 'worker', status 'pending'.
 */
export const INSERT_WORKERS = `
INSERT INTO jobs (kind, parent_id, step_id, manager_id, depth, type, name, key, status, attempt, max_attempts,
                  priority, run_at, timeout_ms, lane, payload, created_at)
SELECT 'worker', t.parent_id, t.step_id, t.manager_id, t.depth, t.type, t.name, t.key, 'pending', 1, t.max_attempts,
       t.priority, t.run_at, t.timeout_ms, t.lane, t.payload::json, $14
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[],
            $9::int[], $10::bigint[], $11::bigint[], $12::smallint[], $13::text[])
     AS t(parent_id, step_id, manager_id, depth, type, name, key, max_attempts, priority, run_at, timeout_ms, lane, payload)
ON CONFLICT DO NOTHING`;

/** A manager is its own manager: $1 id. */
export const SET_MANAGER_SELF = `UPDATE jobs SET manager_id = id WHERE id = $1`;

/** Creates shard 0 of owner $1 in each scope of $2 (text[]), so snapshots always find a row. */
export const INIT_COUNTERS = `
INSERT INTO counters (owner_id, scope, shard) SELECT $1, s, 0 FROM unnest($2::text[]) AS s
ON CONFLICT DO NOTHING`;

/**
 * Adds deltas to counter shard $1: one element per (owner, scope) in the arrays $2 owner_id[],
 * $3 scope[], $4 pending[], $5 running[], $6 completed[], $7 failed[], $8 cancelled[]. Rows are
 * taken in (owner, scope) order so that two transactions on the same shard lock in the same order.
 */
export const ADD_COUNTERS = `
INSERT INTO counters AS c (owner_id, scope, shard, pending, running, completed, failed, cancelled)
SELECT t.o, t.s, $1, t.p, t.r, t.d, t.f, t.x
FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])
     AS t(o, s, p, r, d, f, x)
ORDER BY t.o, t.s
ON CONFLICT (owner_id, scope, shard) DO UPDATE SET
  pending = c.pending + excluded.pending, running = c.running + excluded.running,
  completed = c.completed + excluded.completed, failed = c.failed + excluded.failed,
  cancelled = c.cancelled + excluded.cancelled`;

/** Counters of the owners in $2 (bigint[]) in scope $1, shards summed. */
export const GET_COUNTERS = `
SELECT owner_id, sum(pending)::bigint AS pending, sum(running)::bigint AS running, sum(completed)::bigint AS completed,
       sum(failed)::bigint AS failed, sum(cancelled)::bigint AS cancelled
FROM counters WHERE scope = $1 AND owner_id = ANY($2::bigint[]) GROUP BY owner_id`;

/** One job by $1 id, every column. */
export const GET_JOB = `SELECT * FROM jobs WHERE id = $1`;
/** GET_JOB holding the row until commit. */
export const GET_JOB_FOR_UPDATE = `SELECT * FROM jobs WHERE id = $1 FOR UPDATE`;

/** The steps of run $1 in creation order. */
export const STEPS_OF_RUN = `SELECT * FROM jobs WHERE manager_id = $1 AND kind = 'step' ORDER BY id`;
/** STEPS_OF_RUN holding the rows until commit (locked in id order). */
export const STEPS_OF_RUN_FOR_UPDATE = `SELECT * FROM jobs WHERE manager_id = $1 AND kind = 'step' ORDER BY id FOR UPDATE`;

/** Every descendant of job $1 through parent_id. */
export const DESCENDANT_IDS = `
WITH RECURSIVE sub(id) AS (
  SELECT id FROM jobs WHERE parent_id = $1
  UNION ALL
  SELECT j.id FROM jobs j JOIN sub ON j.parent_id = sub.id
)
SELECT id FROM sub`;

/** Lease columns of a claim: $1 owner, $2 token, $3 expires_at, $4 now. */
const CLAIM_SET = `
SET status = 'running', lease_owner = $1, lease_token = $2, lease_expires_at = $3,
    started_at = CASE WHEN j.kind = 'step' THEN coalesce(j.started_at, $4) ELSE $4 END`;

/**
 * Claims up to $5 runnable jobs of the shared lane (steps to plan, workers of unlimited steps),
 * highest priority first, then oldest run_at, then id; rows another claimer holds are skipped.
 * $1 owner, $2 token, $3 expires_at, $4 now.
 */
export const CLAIM = `
WITH c AS (
  SELECT id FROM jobs WHERE status = 'pending' AND lane = 0 AND run_at <= $4
  ORDER BY priority DESC, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED
)
UPDATE jobs j ${CLAIM_SET} FROM c WHERE j.id = c.id
RETURNING ${CLAIM_COLS}`;

/** CLAIM restricted to the step types in $6 (text[]). */
export const CLAIM_TYPES = `
WITH c AS (
  SELECT id FROM jobs WHERE status = 'pending' AND lane = 0 AND run_at <= $4 AND type = ANY($6::text[])
  ORDER BY priority DESC, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED
)
UPDATE jobs j ${CLAIM_SET} FROM c WHERE j.id = c.id
RETURNING ${CLAIM_COLS}`;

/** CLAIM restricted to the jobs of run $6 (`stepq run` works on its own run only). */
export const CLAIM_RUN = `
WITH c AS (
  SELECT id FROM jobs WHERE status = 'pending' AND lane = 0 AND run_at <= $4 AND manager_id = $6
  ORDER BY priority DESC, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED
)
UPDATE jobs j ${CLAIM_SET} FROM c WHERE j.id = c.id
RETURNING ${CLAIM_COLS}`;

/** Running steps with a concurrency limit, free slots and pending jobs: (step_id, manager_id, free). */
export const LIMITED_STEPS_WITH_ROOM = `
SELECT s.id AS step_id, s.manager_id, s.concurrency - c.running AS free
FROM jobs s
JOIN LATERAL (SELECT sum(running)::bigint AS running, sum(pending)::bigint AS pending
              FROM counters WHERE owner_id = s.id AND scope = 'w') c ON true
WHERE s.kind = 'step' AND s.status = 'running' AND s.concurrency IS NOT NULL
  AND c.running < s.concurrency AND c.pending > 0
ORDER BY s.priority DESC, s.id`;

/** Serialises claims of concurrency-limited step $1 until commit (so two claimers cannot both fill it). */
export const LANE_LOCK = `SELECT pg_advisory_xact_lock(${LANE_KEY}, ($1::bigint % 2147483647)::int)`;

/** Free slots of concurrency-limited step $1, read under LANE_LOCK: concurrency minus running. */
export const STEP_ROOM = `
SELECT (s.concurrency - coalesce((SELECT sum(running) FROM counters WHERE owner_id = s.id AND scope = 'w'), 0))::bigint AS free
FROM jobs s WHERE s.id = $1 AND s.status = 'running'`;

/** Claims up to $5 runnable jobs of step $6's own lane. $1 owner, $2 token, $3 expires_at, $4 now. */
export const CLAIM_FROM_STEP = `
WITH c AS (
  SELECT id FROM jobs WHERE step_id = $6 AND status = 'pending' AND lane = 1 AND run_at <= $4
  ORDER BY priority DESC, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED
)
UPDATE jobs j ${CLAIM_SET} FROM c WHERE j.id = c.id
RETURNING ${CLAIM_COLS}`;

/** CLAIM_FROM_STEP restricted to the step types in $7 (text[]). */
export const CLAIM_FROM_STEP_TYPES = `
WITH c AS (
  SELECT id FROM jobs WHERE step_id = $6 AND status = 'pending' AND lane = 1 AND run_at <= $4 AND type = ANY($7::text[])
  ORDER BY priority DESC, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED
)
UPDATE jobs j ${CLAIM_SET} FROM c WHERE j.id = c.id
RETURNING ${CLAIM_COLS}`;

/**
 * Locks the running jobs among $1 (bigint[]) in id order before a statement changes them: a set-based
 * cancel locks in id order too, so the two wait for each other instead of deadlocking.
 */
const LOCK_RUNNING = `l AS (SELECT id FROM jobs WHERE id = ANY($1::bigint[]) AND status = 'running' ORDER BY id FOR UPDATE)`;

/** Completes the jobs in $1 (bigint[]) that run under the matching lease token in $2 with results $3 (JSON text[]); $4 now. */
export const COMPLETE = `
WITH ${LOCK_RUNNING}
UPDATE jobs j SET status = 'completed', result = a.result::json, error = NULL, finished_at = $4, ${CLEAR_LEASE}
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS a(id, token, result), l
WHERE l.id = a.id AND j.id = a.id AND j.status = 'running' AND j.lease_token = a.token
RETURNING ${CHANGE_COLS}`;

/** Fails for good the jobs in $1 that run under the matching lease token in $2, with errors $3; $4 now. */
export const FAIL = `
WITH ${LOCK_RUNNING}
UPDATE jobs j SET status = 'failed', error = a.error, finished_at = $4, ${CLEAR_LEASE}
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS a(id, token, error), l
WHERE l.id = a.id AND j.id = a.id AND j.status = 'running' AND j.lease_token = a.token
RETURNING ${CHANGE_COLS}`;

/** Queues again (attempt + 1) the jobs in $1 running under lease tokens $2, keeping errors $3, runnable from $4 (bigint[]). */
export const BACKOFF = `
WITH ${LOCK_RUNNING}
UPDATE jobs j SET status = 'pending', attempt = j.attempt + 1, run_at = a.run_at, error = a.error, ${CLEAR_LEASE}
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS a(id, token, error, run_at), l
WHERE l.id = a.id AND j.id = a.id AND j.status = 'running' AND j.lease_token = a.token
RETURNING ${CHANGE_COLS}`;

/** Extends the leases $1 (owner) holds among $2 (bigint[]) to $3; returns the ids still held (rows locked in id order). */
export const EXTEND_LEASES = `
WITH l AS (SELECT id FROM jobs WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND status = 'running' ORDER BY id FOR UPDATE)
UPDATE jobs j SET lease_expires_at = $3 FROM l
WHERE j.id = l.id AND j.lease_owner = $1 AND j.status = 'running'
RETURNING j.id`;

/** Hands the jobs in $2 (bigint[]) back to the queue (no attempt spent) if $1 (owner) holds them; $3 now. */
export const RELEASE = `
WITH l AS (SELECT id FROM jobs WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND status = 'running' ORDER BY id FOR UPDATE)
UPDATE jobs j SET status = 'pending', run_at = $3, ${CLEAR_LEASE} FROM l
WHERE j.id = l.id AND j.lease_owner = $1 AND j.status = 'running'
RETURNING ${CHANGE_COLS}`;

/**
 * Up to $2 running jobs whose lease expired before $1, oldest expiry first. Locked, skipping rows
 * another rescuer (or a late acknowledgement) holds: concurrent rescuers split the work.
 */
export const EXPIRED_LEASES = `
SELECT * FROM jobs WHERE status = 'running' AND lease_expires_at < $1
ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`;

/** Lease expired, attempts left: jobs $1 (leases $2) back to pending at $3 (bigint[]) with errors $4; $5 now. */
export const RESCUE_TO_PENDING = `
UPDATE jobs j SET status = 'pending', attempt = j.attempt + 1, run_at = a.run_at, error = a.error, ${CLEAR_LEASE}
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS a(id, token, run_at, error)
WHERE j.id = a.id AND j.status = 'running' AND j.lease_token = a.token AND j.lease_expires_at < $5
RETURNING ${CHANGE_COLS}`;

/** Lease expired, no attempt left: jobs $1 (leases $2) fail with errors $3; $4 now. */
export const RESCUE_TO_FAILED = `
UPDATE jobs j SET status = 'failed', error = a.error, finished_at = $4, ${CLEAR_LEASE}
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS a(id, token, error)
WHERE j.id = a.id AND j.status = 'running' AND j.lease_token = a.token AND j.lease_expires_at < $4
RETURNING ${CHANGE_COLS}`;

/**
 * Step fence, shared, on step $1: held by a transaction inserting worker jobs into the step (taken
 * before it locks the inserting parent), so a set-based cancel of the step waits for it to commit.
 */
export const FENCE_STEP_SHARED = `SELECT pg_advisory_xact_lock_shared(${FENCE_KEY}, ($1::bigint % 2147483647)::int)`;
/**
 * Step fence, exclusive, on step $1: a set-based cancel waits for inserts in flight and keeps new ones
 * out until it commits (they then find the step ended). Its next statement sees every committed insert.
 */
export const FENCE_STEP = `SELECT pg_advisory_xact_lock(${FENCE_KEY}, ($1::bigint % 2147483647)::int)`;
/** FENCE_STEP on every step of run $1, in id order. */
export const FENCE_RUN_STEPS = `
SELECT pg_advisory_xact_lock(${FENCE_KEY}, (s.id % 2147483647)::int)
FROM (SELECT id FROM jobs WHERE manager_id = $1 AND kind = 'step' ORDER BY id) AS s`;

/** Cancel columns: $1 cause, $2 error, $3 now. */
const CANCEL_SET = `SET status = 'cancelled', cancel_cause = $1, error = $2, finished_at = $3, ${CLEAR_LEASE}`;

/** Cancels the pending and running worker jobs of step $4; returns each row with its prior status. */
export const CANCEL_STEP_WORKERS = `
WITH old AS (
  SELECT id, status FROM jobs WHERE step_id = $4 AND status IN ('pending', 'running') ORDER BY id FOR UPDATE
)
UPDATE jobs j ${CANCEL_SET} FROM old WHERE j.id = old.id
RETURNING ${CHANGE_COLS}, old.status AS prev_status`;

/** Cancels the pending and running worker jobs of every step of run $4 (step by step through jobs_step_status). */
export const CANCEL_RUN_WORKERS = `
WITH old AS (
  SELECT id, status FROM jobs
  WHERE step_id IN (SELECT id FROM jobs WHERE manager_id = $4 AND kind = 'step') AND status IN ('pending', 'running')
  ORDER BY id FOR UPDATE
)
UPDATE jobs j ${CANCEL_SET} FROM old WHERE j.id = old.id
RETURNING ${CHANGE_COLS}, old.status AS prev_status`;

/**
 * Cancels the pending and running worker jobs among $4 (bigint[]) and their descendants. The closure is
 * taken again here; the store repeats the statement until it changes nothing, so children that a
 * concurrent spawn committed while this statement waited for its parent's row are cancelled too.
 */
export const CANCEL_WORKER_IDS = `
WITH RECURSIVE sub(id) AS (
  SELECT unnest($4::bigint[])
  UNION
  SELECT j.id FROM jobs j JOIN sub ON j.parent_id = sub.id
),
old AS (
  SELECT id, status FROM jobs
  WHERE id IN (SELECT id FROM sub) AND kind = 'worker' AND status IN ('pending', 'running')
  ORDER BY id FOR UPDATE
)
UPDATE jobs j ${CANCEL_SET} FROM old WHERE j.id = old.id
RETURNING ${CHANGE_COLS}, old.status AS prev_status`;

/**
 * Retryable worker jobs: failed ones, and those cancelled by a failure cascade, a cancelled dependency
 * or a timeout (never a user's cancel).
 */
const RETRYABLE = `kind = 'worker' AND (status = 'failed' OR (status = 'cancelled' AND cancel_cause IN ('failure', 'dependency', 'timeout')))`;
/** Back to pending with attempt + 1, recorded in job_retries; $1 now. `scope` selects the candidates. */
function retryStatement(scope: string): string {
  return `
WITH old AS (SELECT id, status FROM jobs WHERE ${scope} AND ${RETRYABLE} ORDER BY id FOR UPDATE),
upd AS (
  UPDATE jobs j SET status = 'pending', attempt = j.attempt + 1, max_attempts = GREATEST(j.max_attempts, j.attempt + 1), run_at = $1, error = NULL, result = NULL,
                    cancel_cause = NULL, finished_at = NULL, ${CLEAR_LEASE}
  FROM old WHERE j.id = old.id
  RETURNING ${CHANGE_COLS}, old.status AS prev_status
),
rec AS (
  INSERT INTO job_retries (job_id, manager_id, from_status, attempt, at)
  SELECT id, manager_id, prev_status, attempt, $1 FROM upd ORDER BY id
)
SELECT * FROM upd`;
}
/** Retries the retryable worker jobs of step $2; $1 now. */
export const RETRY_STEP_WORKERS = retryStatement('step_id = $2');
/** Retries the retryable worker jobs of run $2 (step by step through jobs_step_status); $1 now. */
export const RETRY_RUN_WORKERS = retryStatement(`step_id IN (SELECT id FROM jobs WHERE manager_id = $2 AND kind = 'step')`);
/** Retries the retryable worker jobs among $2 (bigint[]); $1 now. */
export const RETRY_WORKER_IDS = retryStatement('id = ANY($2::bigint[])');

/** Makes the waiting steps in $1 (bigint[]) claimable at $2. */
export const RELEASE_STEP = `UPDATE jobs SET run_at = $2 WHERE id = ANY($1::bigint[]) AND status = 'pending' AND run_at IS NULL`;

/** Planning of step $1 (lease $2) ended with $3 jobs; the planning lease is dropped. */
export const MARK_PLANNED = `
UPDATE jobs SET planned = $3, ${CLEAR_LEASE}
WHERE id = $1 AND status = 'running' AND lease_token = $2`;

/** Up to $2 running runs past their deadline at $1. */
export const RUNS_PAST_DEADLINE = `
SELECT id FROM jobs WHERE kind = 'manager' AND status = 'running' AND timeout_ms IS NOT NULL
  AND started_at + timeout_ms < $1 LIMIT $2`;

/** Up to $1 running runs. */
export const RUNNING_MANAGERS = `SELECT id FROM jobs WHERE kind = 'manager' AND status = 'running' ORDER BY id LIMIT $1`;

/** Up to $1 running steps whose planning ended. */
export const PLANNED_RUNNING_STEPS = `
SELECT id FROM jobs WHERE kind = 'step' AND status = 'running' AND planned IS NOT NULL ORDER BY id LIMIT $1`;

/** Deletes the logs of run $1. */
export const DELETE_RUN_LOGS = `DELETE FROM logs WHERE manager_id = $1`;
/** Deletes the retry records of run $1. */
export const DELETE_RUN_RETRIES = `DELETE FROM job_retries WHERE manager_id = $1`;
/** Deletes the counters (every shard) of run $1's manager and steps. */
export const DELETE_RUN_COUNTERS = `
DELETE FROM counters WHERE owner_id IN (SELECT id FROM jobs WHERE manager_id = $1 AND kind IN ('manager', 'step'))`;
/** Deletes every job of run $1. */
export const DELETE_RUN_JOBS = `DELETE FROM jobs WHERE manager_id = $1`;

/** Worker counters of the owners in $1 (bigint[]), shards summed: a lateral per-owner sum. */
const SUMMED = (scope: 'w' | 's', owner: string) => `
LEFT JOIN LATERAL (SELECT sum(pending)::bigint AS pending, sum(running)::bigint AS running, sum(completed)::bigint AS completed,
                          sum(failed)::bigint AS failed, sum(cancelled)::bigint AS cancelled
                   FROM counters WHERE owner_id = ${owner} AND scope = '${scope}') `;

/** Snapshots of the steps in $1 (bigint[]): status, times and worker counters. */
export const STEP_SNAPSHOTS = `
SELECT j.id, j.manager_id, j.name, j.status, j.started_at, j.finished_at,
       c.pending, c.running, c.completed, c.failed, c.cancelled
FROM jobs j ${SUMMED('w', 'j.id')} c ON true
WHERE j.id = ANY($1::bigint[]) AND j.kind = 'step'`;

/**
 * The running steps among $1 (bigint[]) with what judges them: planned, payload (the policy) and
 * worker counters, shards summed. Read right after a commit that moved their jobs (settle.ts).
 */
export const STEPS_TO_SETTLE = `
SELECT j.id, j.planned, j.payload, c.pending, c.running, c.completed, c.failed, c.cancelled
FROM jobs j ${SUMMED('w', 'j.id')} c ON true
WHERE j.id = ANY($1::bigint[]) AND j.kind = 'step' AND j.status = 'running'`;

/** Snapshots of the managers in $1 (bigint[]): worker counters (w) and step counters (s). */
export const MANAGER_SNAPSHOTS = `
SELECT j.id, j.name, j.status, j.definition_id, j.created_at, j.started_at, j.finished_at,
       w.pending, w.running, w.completed, w.failed, w.cancelled,
       s.pending AS s_pending, s.running AS s_running, s.completed AS s_completed, s.failed AS s_failed,
       s.cancelled AS s_cancelled
FROM jobs j ${SUMMED('w', 'j.id')} w ON true ${SUMMED('s', 'j.id')} s ON true
WHERE j.id = ANY($1::bigint[]) AND j.kind = 'manager'`;

function sqlInt(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
  return String(n);
}

function sqlInts(xs: number[]): string {
  return `'{${xs.map(sqlInt).join(',')}}'`;
}

/**
 * ADD_COUNTERS with its values written into the text (integers only, scopes from a closed set), so
 * that it travels with COMMIT in one round trip (the simple query protocol takes no parameters).
 */
export function addCountersSql(
  shard: number,
  rows: Array<{ owner: number; scope: 'w' | 's' | 'm'; d: Record<'pending' | 'running' | 'completed' | 'failed' | 'cancelled', number> }>,
): string {
  const scope = (s: string): string => {
    if (s !== 'w' && s !== 's' && s !== 'm') throw new Error(`not a counter scope: ${s}`);
    return s;
  };
  const values: string[] = [
    sqlInt(shard),
    sqlInts(rows.map((r) => r.owner)),
    `'{${rows.map((r) => scope(r.scope)).join(',')}}'`,
    ...(['pending', 'running', 'completed', 'failed', 'cancelled'] as const).map((k) => sqlInts(rows.map((r) => r.d[k]))),
  ];
  return ADD_COUNTERS.replace(/\$(\d+)/g, (_, i: string) => values[Number(i) - 1]!);
}

/**
 * STEP_SNAPSHOTS and MANAGER_SNAPSHOTS of the given ids as two JSON arrays in one row, with the ids
 * written into the text, to travel with COMMIT in one round trip.
 */
export function snapshotsSql(stepIds: number[], managerIds: number[]): string {
  const steps = STEP_SNAPSHOTS.replaceAll('$1', sqlInts(stepIds));
  const managers = MANAGER_SNAPSHOTS.replaceAll('$1', sqlInts(managerIds));
  return `SELECT (SELECT json_agg(x) FROM (${steps}) x) AS steps, (SELECT json_agg(y) FROM (${managers}) y) AS managers`;
}

/** Global counts: managers (scope m) and worker jobs (scope w) by status, shards summed. */
export const STATS = `
SELECT scope, sum(pending)::bigint AS pending, sum(running)::bigint AS running, sum(completed)::bigint AS completed,
       sum(failed)::bigint AS failed, sum(cancelled)::bigint AS cancelled
FROM counters WHERE owner_id = 0 GROUP BY scope`;

/** Counts a worker's subtree ($1 and its descendants) by status. */
export const SUBTREE_COUNTS = `
WITH RECURSIVE sub(id) AS (
  SELECT $1::bigint
  UNION ALL
  SELECT j.id FROM jobs j JOIN sub ON j.parent_id = sub.id
)
SELECT j.status, count(*) AS n FROM jobs j JOIN sub ON j.id = sub.id GROUP BY j.status`;

/** The retry records of job $1, oldest first. */
export const LIST_RETRIES = `SELECT at, from_status, attempt FROM job_retries WHERE job_id = $1 ORDER BY id`;

/**
 * Appends log lines from column arrays; returns their ids (assigned in input order).
 * $1 job_id[], $2 step_id[], $3 manager_id[], $4 level[], $5 message[], $6 at[].
 */
export const INSERT_LOGS = `
INSERT INTO logs (job_id, step_id, manager_id, level, message, at)
SELECT t.job_id, t.step_id, t.manager_id, t.level, t.message, t.at
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY
     AS t(job_id, step_id, manager_id, level, message, at, n)
ORDER BY t.n
RETURNING id`;

/** Saves definition $1 (name $2, source $3, format $4, file $5) at $6, replacing one with the same id. */
export const SAVE_DEFINITION = `
INSERT INTO definitions (id, name, source, format, file, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET name = excluded.name, source = excluded.source, format = excluded.format,
  file = excluded.file, updated_at = excluded.updated_at`;
/** Definition $1. */
export const GET_DEFINITION = `SELECT * FROM definitions WHERE id = $1`;
/** Every definition by id. */
export const LIST_DEFINITIONS = `SELECT * FROM definitions ORDER BY id`;
/** Deletes definition $1. */
export const DELETE_DEFINITION = `DELETE FROM definitions WHERE id = $1`;
/** Deletes the schedule of definition $1. */
export const DELETE_SCHEDULE = `DELETE FROM schedules WHERE definition_id = $1`;

/** Sets the first fire time $2 of $1's schedule when it has none. */
export const INSERT_SCHEDULE = `INSERT INTO schedules (definition_id, next_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`;
/** Moves $1's schedule from $2 to $3; zero rows: another process fired it. */
export const ADVANCE_SCHEDULE = `UPDATE schedules SET next_at = $3 WHERE definition_id = $1 AND next_at = $2`;
/** Next fire time of definition $1's schedule. */
export const GET_SCHEDULE = `SELECT next_at FROM schedules WHERE definition_id = $1`;

/**
 * Columns of a job summary (lists): worker payloads, results and errors cut to $1 characters in the
 * database, with their full sizes in bytes; managers and steps keep their (small) payload whole.
 * A fragment: the store puts it in front of its own FROM and WHERE.
 */
export const SUMMARY_COLS = `
  id, kind, parent_id, step_id, manager_id, depth, type, name, key, status, attempt, max_attempts, priority, run_at,
  timeout_ms, lease_owner, lease_expires_at, cancel_cause, planned, definition_id, created_at, started_at, finished_at,
  CASE WHEN kind = 'worker' THEN NULL ELSE payload END AS payload,
  substr(payload::text, 1, $1) AS payload_head, octet_length(payload::text) AS payload_bytes,
  substr(result::text, 1, $1) AS result_head, octet_length(result::text) AS result_bytes,
  substr(error, 1, $1) AS error_head, octet_length(error) AS error_bytes`;
