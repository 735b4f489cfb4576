-- A person can settle a payout outside M-Pesa (a bank transfer, cash): the payout row says
-- who, why and under which reference, and the chain records it under MANUAL:<reference>.
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_status_check
  CHECK (status IN ('queued', 'sent', 'unknown', 'succeeded', 'failed', 'needs_attention', 'overpaid', 'settled'));
ALTER TABLE payouts ADD COLUMN settled_by text;
ALTER TABLE payouts ADD COLUMN settled_reference text UNIQUE;
-- A settled payout holds its order's slot like a paid one: no new attempt follows it.
DROP INDEX payouts_one_per_beneficiary;
CREATE UNIQUE INDEX payouts_one_per_beneficiary ON payouts (order_id, role) WHERE status IN ('queued', 'sent', 'unknown', 'succeeded', 'needs_attention', 'settled');
