-- Issue 19: observability.
-- The trace a payment request started in (W3C traceparent/tracestate and the API's request
-- id), so its chain record, written later by the outbox, joins the same trace.
ALTER TABLE payment_requests ADD COLUMN trace_context jsonb;
-- The metrics scrape counts open payouts and failed outbox rows by status: partial indexes
-- keep it from reading the whole table (open payment requests and the outbox backlog
-- already have theirs: payment_requests_due_query, outbox_due).
CREATE INDEX payouts_open ON payouts (status) WHERE status IN ('queued', 'sent', 'unknown', 'needs_attention', 'overpaid');
CREATE INDEX outbox_failed ON outbox (created_at) WHERE status = 'failed';
