-- `stepq run` claims only its own run's jobs (CLAIM_RUN). Without an index led by manager_id in the
-- claim order, every claim read and sorted all of the run's jobs: a 100,000-job run slowed to a crawl.
CREATE INDEX jobs_claim_run ON jobs (manager_id, priority DESC, run_at, id) WHERE status = 'pending' AND lane = 0;
