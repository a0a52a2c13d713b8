/**
 * SQLite statements. Named parameters (`@name`); times are epoch ms; JSON is TEXT. Id lists are
 * passed as one JSON array and expanded with json_each, so a statement is prepared once whatever
 * the list length.
 */

/**
 * Columns of a status change (see JobChange), in this order: hot statements return rows as arrays
 * (better-sqlite3 builds wide row objects slowly: measured 22 vs 9.5 µs per claimed job), read by
 * position in sqlite-tx.ts.
 */
const CHANGE_COLS = 'id, kind, parent_id, step_id, manager_id, type, name, status, attempt, started_at, finished_at, error';
/** Columns a claim returns: the change plus what the worker needs to run the job. */
const CLAIM_COLS = `${CHANGE_COLS}, payload, max_attempts, timeout_ms, depth, lease_token`;

/** Inserts one job. All columns by name; returns the new id. */
export const INSERT_JOB = `
INSERT INTO jobs (kind, parent_id, step_id, manager_id, depth, type, name, key, status, attempt, max_attempts,
                  priority, run_at, timeout_ms, lane, concurrency, payload, definition_id, created_at, started_at)
VALUES (@kind, @parentId, @stepId, @managerId, @depth, @type, @name, @key, @status, 1, @maxAttempts,
        @priority, @runAt, @timeoutMs, @lane, @concurrency, @payload, @definitionId, @now, @startedAt)
RETURNING id`;

/**
 * Inserts one worker job unless its (step_id, key) exists. Positional parameters (binding by name
 * costs a third more per row at fan-out rates): kind, parent_id, step_id, manager_id, depth, type,
 * name, key, status, max_attempts, priority, run_at, timeout_ms, lane, concurrency, payload,
 * definition_id, created_at, started_at.
 */
export const INSERT_WORKER = `
INSERT INTO jobs (kind, parent_id, step_id, manager_id, depth, type, name, key, status, attempt, max_attempts,
                  priority, run_at, timeout_ms, lane, concurrency, payload, definition_id, created_at, started_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING`;

/** A manager is its own manager: @id. */
export const SET_MANAGER_SELF = `UPDATE jobs SET manager_id = @id WHERE id = @id`;

/** Creates the counter row of @owner in @scope. */
export const INIT_COUNTERS = `INSERT OR IGNORE INTO counters (owner_id, scope) VALUES (@owner, @scope)`;

/** Adds deltas to one counter row: @owner, @scope, and one delta per status. */
export const ADD_COUNTERS = `
UPDATE counters SET pending = pending + @pending, running = running + @running, completed = completed + @completed,
                    failed = failed + @failed, cancelled = cancelled + @cancelled
WHERE owner_id = @owner AND scope = @scope`;

/** Counter rows of the owners in the JSON array @ids, in @scope. */
export const GET_COUNTERS = `
SELECT owner_id, pending, running, completed, failed, cancelled FROM counters
WHERE scope = @scope AND owner_id IN (SELECT value FROM json_each(@ids))`;

/** One job by @id, every column. */
export const GET_JOB = `SELECT * FROM jobs WHERE id = @id`;

/** The steps of run @managerId in creation order. */
export const STEPS_OF_RUN = `SELECT * FROM jobs WHERE manager_id = @managerId AND kind = 'step' ORDER BY id`;

/** Every descendant of job @id through parent_id. */
export const DESCENDANT_IDS = `
WITH RECURSIVE sub(id) AS (
  SELECT id FROM jobs WHERE parent_id = @id
  UNION ALL
  SELECT j.id FROM jobs j JOIN sub ON j.parent_id = sub.id
)
SELECT id FROM sub`;

const CLAIM_SET = `
SET status = 'running', lease_owner = @owner, lease_token = @token, lease_expires_at = @expiresAt,
    started_at = CASE WHEN kind = 'step' THEN coalesce(started_at, @now) ELSE @now END`;

/**
 * Claims up to @limit runnable jobs of the shared lane (steps to plan, workers of unlimited steps),
 * highest priority first, then oldest run_at, then id. @owner/@token/@expiresAt set the lease.
 */
export const CLAIM = `
UPDATE jobs ${CLAIM_SET}
WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND lane = 0 AND run_at <= @now
             ORDER BY priority DESC, run_at, id LIMIT @limit)
RETURNING ${CLAIM_COLS}`;

/** CLAIM restricted to the step types in the JSON array @types. */
export const CLAIM_TYPES = `
UPDATE jobs ${CLAIM_SET}
WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND lane = 0 AND run_at <= @now
               AND type IN (SELECT value FROM json_each(@types))
             ORDER BY priority DESC, run_at, id LIMIT @limit)
RETURNING ${CLAIM_COLS}`;

/** CLAIM restricted to the jobs of run @managerId (`stepq run` works on its own run only). */
export const CLAIM_RUN = `
UPDATE jobs ${CLAIM_SET}
WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND lane = 0 AND run_at <= @now AND manager_id = @managerId
             ORDER BY priority DESC, run_at, id LIMIT @limit)
RETURNING ${CLAIM_COLS}`;

/** Running steps with a concurrency limit, free slots and pending jobs: (step_id, manager_id, free). */
export const LIMITED_STEPS_WITH_ROOM = `
SELECT s.id AS step_id, s.manager_id, s.concurrency - c.running AS free
FROM jobs s JOIN counters c ON c.owner_id = s.id AND c.scope = 'w'
WHERE s.kind = 'step' AND s.status = 'running' AND s.concurrency IS NOT NULL
  AND c.running < s.concurrency AND c.pending > 0
ORDER BY s.priority DESC, s.id`;

/** Claims up to @limit runnable jobs of step @stepId's own lane (the step limits its concurrency). */
export const CLAIM_FROM_STEP = `
UPDATE jobs ${CLAIM_SET}
WHERE id IN (SELECT id FROM jobs WHERE step_id = @stepId AND status = 'pending' AND lane = 1 AND run_at <= @now
             ORDER BY priority DESC, run_at, id LIMIT @limit)
RETURNING ${CLAIM_COLS}`;

/** CLAIM_FROM_STEP restricted to the step types in the JSON array @types. */
export const CLAIM_FROM_STEP_TYPES = `
UPDATE jobs ${CLAIM_SET}
WHERE id IN (SELECT id FROM jobs WHERE step_id = @stepId AND status = 'pending' AND lane = 1 AND run_at <= @now
               AND type IN (SELECT value FROM json_each(@types))
             ORDER BY priority DESC, run_at, id LIMIT @limit)
RETURNING ${CLAIM_COLS}`;

const CLEAR_LEASE = 'lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL';

/** Completes job @id with @result if it is running under lease @token. */
export const COMPLETE = `
UPDATE jobs SET status = 'completed', result = @result, error = NULL, finished_at = @now, ${CLEAR_LEASE}
WHERE id = @id AND status = 'running' AND lease_token = @token
RETURNING ${CHANGE_COLS}`;

/** Fails job @id for good with @error if it is running under lease @token. */
export const FAIL = `
UPDATE jobs SET status = 'failed', error = @error, finished_at = @now, ${CLEAR_LEASE}
WHERE id = @id AND status = 'running' AND lease_token = @token
RETURNING ${CHANGE_COLS}`;

/** Queues job @id again (attempt + 1) from @runAt, keeping @error, if it runs under lease @token. */
export const BACKOFF = `
UPDATE jobs SET status = 'pending', attempt = attempt + 1, run_at = @runAt, error = @error, ${CLEAR_LEASE}
WHERE id = @id AND status = 'running' AND lease_token = @token
RETURNING ${CHANGE_COLS}`;

/** Extends the leases @owner holds among the JSON array @ids to @expiresAt; returns the ids still held. */
export const EXTEND_LEASES = `
UPDATE jobs SET lease_expires_at = @expiresAt
WHERE id IN (SELECT value FROM json_each(@ids)) AND lease_owner = @owner AND status = 'running'
RETURNING id`;

/** Hands job @id back to the queue (no attempt spent) if @owner holds it. */
export const RELEASE = `
UPDATE jobs SET status = 'pending', run_at = @now, ${CLEAR_LEASE}
WHERE id = @id AND lease_owner = @owner AND status = 'running'
RETURNING ${CHANGE_COLS}`;

/** Up to @limit running jobs whose lease expired before @now, oldest expiry first. */
export const EXPIRED_LEASES = `
SELECT * FROM jobs WHERE status = 'running' AND lease_expires_at < @now
ORDER BY lease_expires_at LIMIT @limit`;

/** Lease expired, attempts left: job @id (lease @token) back to pending at @runAt with @error. */
export const RESCUE_TO_PENDING = `
UPDATE jobs SET status = 'pending', attempt = attempt + 1, run_at = @runAt, error = @error, ${CLEAR_LEASE}
WHERE id = @id AND status = 'running' AND lease_token = @token AND lease_expires_at < @now
RETURNING ${CHANGE_COLS}`;

/** Lease expired, no attempt left: job @id (lease @token) fails with @error. */
export const RESCUE_TO_FAILED = `
UPDATE jobs SET status = 'failed', error = @error, finished_at = @now, ${CLEAR_LEASE}
WHERE id = @id AND status = 'running' AND lease_token = @token AND lease_expires_at < @now
RETURNING ${CHANGE_COLS}`;

const CANCEL_SET = `SET status = 'cancelled', cancel_cause = @cause, error = @error, finished_at = @now, ${CLEAR_LEASE}`;

/** Cancels the worker jobs of step @stepId that are in status @from. */
export const CANCEL_STEP_WORKERS = `
UPDATE jobs ${CANCEL_SET}
WHERE id IN (SELECT id FROM jobs WHERE step_id = @stepId AND status = @from LIMIT @chunk)
RETURNING ${CHANGE_COLS}`;

/** Cancels the worker jobs in the JSON array @ids that are in status @from. */
export const CANCEL_WORKER_IDS = `
UPDATE jobs ${CANCEL_SET}
WHERE id IN (SELECT value FROM json_each(@ids)) AND kind = 'worker' AND status = @from
RETURNING ${CHANGE_COLS}`;

/** A recorded retry: one more attempt (max_attempts grows with it, so a job never reads "attempt 2 of 1"). */
const RETRY_SET = `
SET status = 'pending', attempt = attempt + 1, max_attempts = max(max_attempts, attempt + 1), run_at = @now, error = NULL, result = NULL, cancel_cause = NULL,
    finished_at = NULL, ${CLEAR_LEASE}`;
/**
 * Retryable jobs in status @from: failed ones, and those cancelled by a failure cascade, a cancelled
 * dependency or a timeout (never a user's cancel). Run once per status to know each row's prior status.
 */
const RETRYABLE = `status = @from AND (@from = 'failed' OR cancel_cause IN ('failure', 'dependency', 'timeout'))`;

/** Retries the retryable worker jobs of step @stepId in status @from. */
export const RETRY_STEP_WORKERS = `
UPDATE jobs ${RETRY_SET}
WHERE id IN (SELECT id FROM jobs WHERE step_id = @stepId AND ${RETRYABLE} LIMIT @chunk)
RETURNING ${CHANGE_COLS}`;

/** Retries the retryable worker jobs in the JSON array @ids in status @from. */
export const RETRY_WORKER_IDS = `
UPDATE jobs ${RETRY_SET} WHERE id IN (SELECT value FROM json_each(@ids)) AND kind = 'worker' AND ${RETRYABLE}
RETURNING ${CHANGE_COLS}`;

/** Records the retry of job @jobId (run @managerId) from @fromStatus, starting @attempt. */
export const RECORD_RETRY = `
INSERT INTO job_retries (job_id, manager_id, from_status, attempt, at) VALUES (@jobId, @managerId, @fromStatus, @attempt, @now)`;

/** Makes waiting step @id claimable now. */
export const RELEASE_STEP = `UPDATE jobs SET run_at = @now WHERE id = @id AND status = 'pending' AND run_at IS NULL`;

/** Planning of step @id (lease @token) ended with @planned jobs; the planning lease is dropped. */
export const MARK_PLANNED = `
UPDATE jobs SET planned = @planned, ${CLEAR_LEASE}
WHERE id = @id AND status = 'running' AND lease_token = @token`;

/** Up to @limit running runs past their deadline at @now. */
export const RUNS_PAST_DEADLINE = `
SELECT id FROM jobs WHERE kind = 'manager' AND status = 'running' AND timeout_ms IS NOT NULL
  AND started_at + timeout_ms < @now LIMIT @limit`;

/** Up to @limit running runs. */
export const RUNNING_MANAGERS = `SELECT id FROM jobs WHERE kind = 'manager' AND status = 'running' ORDER BY id LIMIT @limit`;

/** Up to @limit running steps whose planning ended. */
export const PLANNED_RUNNING_STEPS = `
SELECT id FROM jobs WHERE kind = 'step' AND status = 'running' AND planned IS NOT NULL ORDER BY id LIMIT @limit`;

/** Deletes the logs of run @managerId. */
export const DELETE_RUN_LOGS = `DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE manager_id = @managerId LIMIT @chunk)`;
/** Deletes the retry records of run @managerId. */
export const DELETE_RUN_RETRIES = `DELETE FROM job_retries WHERE manager_id = @managerId`;
/** Deletes the counters of run @managerId's manager and steps. */
export const DELETE_RUN_COUNTERS = `
DELETE FROM counters WHERE owner_id IN (SELECT id FROM jobs WHERE manager_id = @managerId AND kind IN ('manager', 'step'))`;
/** Deletes every job of run @managerId. */
export const DELETE_RUN_JOBS = `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE manager_id = @managerId LIMIT @chunk)`;

/** Snapshots of the steps in the JSON array @ids: status, times and worker counters. */
export const STEP_SNAPSHOTS = `
SELECT j.id, j.manager_id, j.name, j.status, j.started_at, j.finished_at,
       c.pending, c.running, c.completed, c.failed, c.cancelled
FROM jobs j LEFT JOIN counters c ON c.owner_id = j.id AND c.scope = 'w'
WHERE j.id IN (SELECT value FROM json_each(@ids)) AND j.kind = 'step'`;

/** Snapshots of the managers in the JSON array @ids: worker counters (w) and step counters (s). */
export const MANAGER_SNAPSHOTS = `
SELECT j.id, j.name, j.status, j.definition_id, j.created_at, j.started_at, j.finished_at,
       w.pending, w.running, w.completed, w.failed, w.cancelled,
       s.pending AS s_pending, s.running AS s_running, s.completed AS s_completed, s.failed AS s_failed,
       s.cancelled AS s_cancelled
FROM jobs j
LEFT JOIN counters w ON w.owner_id = j.id AND w.scope = 'w'
LEFT JOIN counters s ON s.owner_id = j.id AND s.scope = 's'
WHERE j.id IN (SELECT value FROM json_each(@ids)) AND j.kind = 'manager'`;

/** Global counts: managers (scope m) and worker jobs (scope w) by status. */
export const STATS = `SELECT scope, pending, running, completed, failed, cancelled FROM counters WHERE owner_id = 0`;

/** Counts a worker's subtree (@id and its descendants) by status. */
export const SUBTREE_COUNTS = `
WITH RECURSIVE sub(id) AS (
  SELECT @id
  UNION ALL
  SELECT j.id FROM jobs j JOIN sub ON j.parent_id = sub.id
)
SELECT j.status, count(*) AS n FROM jobs j JOIN sub ON j.id = sub.id GROUP BY j.status`;

/** The retry records of job @jobId, oldest first. */
export const LIST_RETRIES = `SELECT at, from_status, attempt FROM job_retries WHERE job_id = @jobId ORDER BY rowid`;

/** Appends one log line; returns its id. */
export const INSERT_LOG = `
INSERT INTO logs (job_id, step_id, manager_id, level, message, at) VALUES (@jobId, @stepId, @managerId, @level, @message, @at)
RETURNING id`;

export const SAVE_DEFINITION = `
INSERT INTO definitions (id, name, source, format, file, updated_at) VALUES (@id, @name, @source, @format, @file, @now)
ON CONFLICT (id) DO UPDATE SET name = excluded.name, source = excluded.source, format = excluded.format,
  file = excluded.file, updated_at = excluded.updated_at`;
export const GET_DEFINITION = `SELECT * FROM definitions WHERE id = @id`;
export const LIST_DEFINITIONS = `SELECT * FROM definitions ORDER BY id`;
export const DELETE_DEFINITION = `DELETE FROM definitions WHERE id = @id`;
export const DELETE_SCHEDULE = `DELETE FROM schedules WHERE definition_id = @id`;

/** Sets the first fire time of @definitionId's schedule when it has none. */
export const INSERT_SCHEDULE = `INSERT OR IGNORE INTO schedules (definition_id, next_at) VALUES (@definitionId, @next)`;
/** Moves @definitionId's schedule from @expected to @next; zero rows: another process fired it. */
export const ADVANCE_SCHEDULE = `UPDATE schedules SET next_at = @next WHERE definition_id = @definitionId AND next_at = @expected`;
export const GET_SCHEDULE = `SELECT next_at FROM schedules WHERE definition_id = @definitionId`;

/**
 * Columns of a job summary (lists): worker payloads, results and errors cut to @head characters in
 * the database, with their full sizes in bytes; managers and steps keep their (small) payload whole.
 */
export const SUMMARY_COLS = `
  id, kind, parent_id, step_id, manager_id, depth, type, name, key, status, attempt, max_attempts, priority, run_at,
  timeout_ms, lease_owner, lease_expires_at, cancel_cause, planned, definition_id, created_at, started_at, finished_at,
  CASE WHEN kind = 'worker' THEN NULL ELSE payload END AS payload,
  substr(payload, 1, @head) AS payload_head, octet_length(payload) AS payload_bytes,
  substr(result, 1, @head) AS result_head, octet_length(result) AS result_bytes,
  substr(error, 1, @head) AS error_head, octet_length(error) AS error_bytes`;
