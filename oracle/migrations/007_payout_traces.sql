-- Issue 19: a payout's trace. The first attempt to send a payout starts a trace (W3C
-- traceparent/tracestate); Daraja's call, the result callback's settlement and the chain
-- record of the receipt (written later by the outbox) join it.
ALTER TABLE payouts ADD COLUMN trace_context jsonb;
