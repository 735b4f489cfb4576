-- Issue 24: no payout attempt is ever assumed unpaid (flows/payoutProof.ts).
--
-- b2c_calls / b2c_refusals: B2C requests sent for this attempt (counted before each call)
-- and those Daraja answered with a refusal that proves it did not take the request. Only
-- when every call was refused did Daraja never accept the attempt: "no stored
-- ConversationID" is not that proof (a crash or a timeout loses the acknowledgement).
ALTER TABLE payouts ADD COLUMN b2c_calls integer NOT NULL DEFAULT 0;
ALTER TABLE payouts ADD COLUMN b2c_refusals integer NOT NULL DEFAULT 0;
-- When Transaction Status last said "not completed": two answers at least
-- ORACLE_B2C_FAILURE_CONFIRM_SECONDS apart, first to last, prove an attempt did not pay.
ALTER TABLE payouts ADD COLUMN last_not_completed_at timestamptz;
-- M-Pesa's final word on this attempt (Transaction Status): completed, or not completed
-- (Declined/Cancelled/Expired/Failed, proven as above). Until then, whatever the attempt's
-- status (failed, settled, needs_attention, …), it keeps being verified.
ALTER TABLE payouts ADD COLUMN mpesa_final text CHECK (mpesa_final IN ('completed', 'not_completed'));
-- What M-Pesa paid out for this attempt (Transaction Status' Amount): reconciliation sums it.
ALTER TABLE payouts ADD COLUMN paid_kes integer;

-- Rows written before this migration: every attempt is taken as possibly accepted by
-- Daraja, except those that waited for a person from the start and were never sent.
UPDATE payouts SET b2c_calls = 1
 WHERE status <> 'queued' AND NOT (conversation_id IS NULL AND status = 'needs_attention'
       AND coalesce(reason, '') ~ '(below the B2C minimum|attempts failed|M-Pesa number is unknown|Daraja refused the payout)');
UPDATE payouts SET b2c_refusals = 1 WHERE status = 'needs_attention' AND conversation_id IS NULL AND reason LIKE 'Daraja refused the payout%';
UPDATE payouts SET b2c_calls = 1 WHERE b2c_refusals = 1;
UPDATE payouts SET mpesa_final = 'completed', paid_kes = amount_kes WHERE mpesa_receipt IS NOT NULL;
UPDATE payouts SET last_not_completed_at = first_not_completed_at WHERE not_completed_answers >= 2;

-- The verifier's queue: attempts M-Pesa has not given its final word on.
CREATE INDEX payouts_to_verify ON payouts (next_check_at) WHERE mpesa_final IS NULL;
