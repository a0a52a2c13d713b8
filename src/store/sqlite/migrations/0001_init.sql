-- stepq schema, SQLite dialect. Times are epoch milliseconds (INTEGER); JSON is stored as TEXT.
--
-- A row of `jobs` is one job of a run: the run's manager (kind 'manager', parent_id NULL,
-- manager_id = its own id), one of its steps (kind 'step', parent_id = manager) or a worker job
-- (kind 'worker', parent_id = the step or the worker job that spawned it). step_id and manager_id are
-- on every worker row so that "all jobs of a step" and "everything in a run" are index look-ups.

CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: ids name runs in URLs, reports and caches
  kind             TEXT    NOT NULL CHECK (kind IN ('manager', 'step', 'worker')),
  parent_id        INTEGER,
  step_id          INTEGER,                 -- worker rows: their step; NULL for steps and managers
  manager_id       INTEGER NOT NULL,
  depth            INTEGER NOT NULL,
  type             TEXT    NOT NULL,        -- step type; for a manager, its definition id
  name             TEXT    NOT NULL,
  key              TEXT,                    -- unique within a step when set (idempotent planning, dedupe)
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  attempt          INTEGER NOT NULL DEFAULT 1,
  max_attempts     INTEGER NOT NULL DEFAULT 1,
  priority         INTEGER NOT NULL DEFAULT 0,
  run_at           INTEGER,                 -- claimable from this time; NULL: a step waiting for dependencies
  timeout_ms       INTEGER,                 -- worker: per-attempt timeout; manager: whole-run timeout
  lane             INTEGER NOT NULL DEFAULT 0, -- 1: the step limits concurrency, claimed per step
  concurrency      INTEGER,                 -- steps: max running worker jobs
  planned          INTEGER,                 -- steps: worker jobs planned, NULL until planning ends
  lease_owner      TEXT,
  lease_token      TEXT,
  lease_expires_at INTEGER,
  payload          TEXT,
  result           TEXT,
  error            TEXT,
  cancel_cause     TEXT,
  definition_id    TEXT,                    -- managers: the definition that ran
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER
);

-- Claims: the next pending jobs by priority, then time, then id (steps to plan and unlimited workers).
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, id) WHERE status = 'pending' AND lane = 0;
-- Claims for steps that limit their concurrency: pending jobs of one step.
CREATE INDEX jobs_claim_lane ON jobs (step_id, priority DESC, run_at, id) WHERE status = 'pending' AND lane = 1;
-- A step's worker list in id order, and the same filtered by status (e.g. only failed).
CREATE INDEX jobs_step ON jobs (step_id, id);
CREATE INDEX jobs_step_status ON jobs (step_id, status, id);
-- Everything in a run, in id order. Deliberately without status: a status change must not touch it
-- (run-wide cancel and retry go step by step through jobs_step_status instead).
CREATE INDEX jobs_manager ON jobs (manager_id, id);
-- Steps by status: the sweep's running steps, concurrency-limited steps with room.
CREATE INDEX jobs_steps_status ON jobs (status, id) WHERE kind = 'step';
-- Children of a job (spawned subtrees).
CREATE INDEX jobs_parent ON jobs (parent_id, id);
-- The runs list, newest first, optionally by status or definition.
CREATE INDEX jobs_runs ON jobs (id) WHERE kind = 'manager';
CREATE INDEX jobs_runs_status ON jobs (status, id) WHERE kind = 'manager';
CREATE INDEX jobs_runs_definition ON jobs (definition_id, id) WHERE kind = 'manager';
-- Lease rescue, expired first. Heartbeats go by id (the worker knows what it holds), so there is no
-- index by owner: every index on a status or lease column costs two writes per job.
CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at) WHERE status = 'running' AND lease_expires_at IS NOT NULL;
-- Dedupe of keyed jobs within a step.
CREATE UNIQUE INDEX jobs_step_key ON jobs (step_id, key) WHERE key IS NOT NULL;

-- Progress counters, maintained in the transaction of every transition so reading progress is O(1).
-- scope 'w': worker jobs under owner (a step or a manager; owner 0: every worker job of every run);
-- 's': steps of a manager (owner = manager); 'm': managers of every run (owner 0).
CREATE TABLE counters (
  owner_id  INTEGER NOT NULL,
  scope     TEXT    NOT NULL CHECK (scope IN ('w', 's', 'm')),
  pending   INTEGER NOT NULL DEFAULT 0,
  running   INTEGER NOT NULL DEFAULT 0,
  completed INTEGER NOT NULL DEFAULT 0,
  failed    INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (owner_id, scope)
) WITHOUT ROWID;
INSERT INTO counters (owner_id, scope) VALUES (0, 'm'), (0, 'w');

-- The recorded retries: the only way a terminal job becomes pending again.
CREATE TABLE job_retries (
  job_id      INTEGER NOT NULL,
  manager_id  INTEGER NOT NULL,
  from_status TEXT    NOT NULL,
  attempt     INTEGER NOT NULL,             -- the attempt number the retry starts
  at          INTEGER NOT NULL
);
CREATE INDEX job_retries_job ON job_retries (job_id);
CREATE INDEX job_retries_manager ON job_retries (manager_id);

-- Log lines of jobs. id orders lines written in the same millisecond.
CREATE TABLE logs (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id     INTEGER NOT NULL,
  step_id    INTEGER,
  manager_id INTEGER NOT NULL,
  level      TEXT    NOT NULL,
  message    TEXT    NOT NULL,
  at         INTEGER NOT NULL
);
-- One job's lines, a step's subtree (lines of its workers carry step_id), a whole run's.
CREATE INDEX logs_job ON logs (job_id, id);
CREATE INDEX logs_step ON logs (step_id, id) WHERE step_id IS NOT NULL;
CREATE INDEX logs_manager ON logs (manager_id, id);

-- Definitions registered with the server (TOML or JSON source, validated before it is saved).
CREATE TABLE definitions (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  source     TEXT NOT NULL,
  format     TEXT NOT NULL,
  file       TEXT,
  updated_at INTEGER NOT NULL
);

-- Next fire time of each scheduled definition; advanced with a guarded UPDATE so one process fires.
CREATE TABLE schedules (
  definition_id TEXT PRIMARY KEY,
  next_at       INTEGER NOT NULL
);
