-- stepq schema, PostgreSQL dialect. Times are epoch milliseconds (bigint), read from the database
-- clock; ids are bigint identities. Payloads and results are `json` (not `jsonb`): `json` keeps the
-- exact text a handler produced (key order, a `\u0000` escape that jsonb refuses) and costs no
-- conversion on the hot path; the store never queries inside them.
--
-- A row of `jobs` is one job of a run: the run's manager (kind 'manager', parent_id NULL,
-- manager_id = its own id), one of its steps (kind 'step', parent_id = manager) or a worker job
-- (kind 'worker', parent_id = the step or the worker job that spawned it). step_id and manager_id are
-- on every worker row so that "all jobs of a step" and "everything in a run" are index look-ups.
--
-- Every status change of a job is a non-HOT update (status and lease columns are indexed), so each
-- index below costs a write per transition of the rows it covers; most are partial for that reason.

CREATE TABLE jobs (
  id               bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind             text     NOT NULL CHECK (kind IN ('manager', 'step', 'worker')),
  parent_id        bigint,
  step_id          bigint,                  -- worker rows: their step; NULL for steps and managers
  manager_id       bigint   NOT NULL,
  depth            integer  NOT NULL,
  type             text     NOT NULL,       -- step type; for a manager, its definition id
  name             text     NOT NULL,
  key              text,                    -- unique within a step when set (idempotent planning, dedupe)
  status           text     NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  attempt          integer  NOT NULL DEFAULT 1,
  max_attempts     integer  NOT NULL DEFAULT 1,
  priority         integer  NOT NULL DEFAULT 0,
  run_at           bigint,                  -- claimable from this time; NULL: a step waiting for dependencies
  timeout_ms       bigint,                  -- worker: per-attempt timeout; manager: whole-run timeout
  lane             smallint NOT NULL DEFAULT 0, -- 1: the step limits concurrency, claimed per step
  concurrency      integer,                 -- steps: max running worker jobs
  planned          bigint,                  -- steps: worker jobs planned, NULL until planning ends
  lease_owner      text,
  lease_token      text,
  lease_expires_at bigint,
  payload          json,
  result           json,
  error            text,
  cancel_cause     text,
  definition_id    text,                    -- managers: the definition that ran
  created_at       bigint   NOT NULL,
  started_at       bigint,
  finished_at      bigint
);

-- Claims: the next pending jobs by priority, then time, then id (steps to plan and unlimited workers).
-- Claimers lock candidates FOR UPDATE SKIP LOCKED, so concurrent workers walk past each other's rows.
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, id) WHERE status = 'pending' AND lane = 0;
-- Claims for steps that limit their concurrency: pending jobs of one step.
CREATE INDEX jobs_claim_lane ON jobs (step_id, priority DESC, run_at, id) WHERE status = 'pending' AND lane = 1;
-- A step's worker list in id order, and the same filtered by status (e.g. only failed); also the
-- step-by-step path of run-wide cancel and retry.
CREATE INDEX jobs_step ON jobs (step_id, id);
CREATE INDEX jobs_step_status ON jobs (step_id, status, id);
-- Everything in a run, in id order (run deletion, the run's job list).
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
-- index by owner.
CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at) WHERE status = 'running' AND lease_expires_at IS NOT NULL;
-- Dedupe of keyed jobs within a step (insertWorkers: ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX jobs_step_key ON jobs (step_id, key) WHERE key IS NOT NULL;

-- Progress counters, maintained in the transaction of every transition so reading progress is O(1).
-- scope 'w': worker jobs under owner (a step or a manager; owner 0: every worker job of every run);
-- 's': steps of a manager (owner = manager); 'm': managers of every run (owner 0).
--
-- Sharded: a transaction adds its deltas to one shard (0..15, chosen at random per transaction), and
-- readers sum the shards. One row per owner would be locked by every transaction that moves a job of
-- that step until it commits, serialising all workers of a step on one row; with 16 shards concurrent
-- transactions rarely meet. Deltas are exact (each comes from rows a guarded UPDATE returned), so the
-- sum is exact. Rows are created on first use (upsert); shard 0 is created with its owner so a
-- snapshot always finds a row. fillfactor leaves room for HOT updates (no indexed column changes).
CREATE TABLE counters (
  owner_id  bigint   NOT NULL,
  scope     text     NOT NULL CHECK (scope IN ('w', 's', 'm')),
  shard     smallint NOT NULL,
  pending   bigint   NOT NULL DEFAULT 0,
  running   bigint   NOT NULL DEFAULT 0,
  completed bigint   NOT NULL DEFAULT 0,
  failed    bigint   NOT NULL DEFAULT 0,
  cancelled bigint   NOT NULL DEFAULT 0,
  PRIMARY KEY (owner_id, scope, shard)
) WITH (fillfactor = 50);
INSERT INTO counters (owner_id, scope, shard) VALUES (0, 'm', 0), (0, 'w', 0);

-- The recorded retries: the only way a terminal job becomes pending again. id keeps their order.
CREATE TABLE job_retries (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      bigint NOT NULL,
  manager_id  bigint NOT NULL,
  from_status text   NOT NULL,
  attempt     integer NOT NULL,             -- the attempt number the retry starts
  at          bigint NOT NULL
);
CREATE INDEX job_retries_job ON job_retries (job_id, id);
CREATE INDEX job_retries_manager ON job_retries (manager_id);

-- Log lines of jobs. id orders lines written in the same millisecond.
CREATE TABLE logs (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id     bigint NOT NULL,
  step_id    bigint,
  manager_id bigint NOT NULL,
  level      text   NOT NULL,
  message    text   NOT NULL,
  at         bigint NOT NULL
);
-- One job's lines, a step's subtree (lines of its workers carry step_id), a whole run's.
CREATE INDEX logs_job ON logs (job_id, id);
CREATE INDEX logs_step ON logs (step_id, id) WHERE step_id IS NOT NULL;
CREATE INDEX logs_manager ON logs (manager_id, id);

-- Definitions registered with the server (TOML or JSON source, validated before it is saved).
CREATE TABLE definitions (
  id         text   PRIMARY KEY,
  name       text   NOT NULL,
  source     text   NOT NULL,
  format     text   NOT NULL,
  file       text,
  updated_at bigint NOT NULL
);

-- Next fire time of each scheduled definition; advanced with a guarded UPDATE so one process fires.
CREATE TABLE schedules (
  definition_id text   PRIMARY KEY,
  next_at       bigint NOT NULL
);
