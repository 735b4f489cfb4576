-- Issue 24, point 4: one poisoned item never stops the others.
-- Each callback and each job item (a payment request to poll, a payout to queue, send or
-- check, a pulled transaction, …) runs on its own. When one throws, the error is recorded
-- here with the item — how many times it failed, the last error, when to try again (backoff
-- with jitter) — and the rest of the pass goes on. A success deletes the row, so every row
-- is an item failing right now; the metrics scrape counts them by job and an alert pages
-- when one has failed for too long (observability/alerts.yml, DescrowJobItemFailing).
-- `item` '*' is a whole job step that failed (e.g. the chain RPC down for the payout queue):
-- recorded and counted the same way, but run again every pass.
-- The columns mirror a job queue's (attempts, last_error, run_at) so that moving these jobs
-- onto graphile-worker (issue 27) maps one row to one job keyed `job:item`.
CREATE TABLE job_item_failures (
  job             text NOT NULL,
  item            text NOT NULL,
  attempts        integer NOT NULL DEFAULT 1 CHECK (attempts > 0),
  last_error      text NOT NULL,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at  timestamptz NOT NULL DEFAULT now(),
  run_at          timestamptz NOT NULL,
  PRIMARY KEY (job, item)
);
