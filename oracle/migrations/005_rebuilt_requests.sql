-- Issue 19 (backups): after a restore, the transaction pull rebuilds a payment request the
-- backup predates from the chain's record of it (flows/transactionPull.ts). The chain holds
-- no phone numbers: the payer's comes from the paybill's record or the buyer's last request,
-- the seller's from the seller's last request; with none known the column is NULL and a
-- payout to that party waits for a person (flows/payoutWatcher.ts).
ALTER TABLE payment_requests ALTER COLUMN phone DROP NOT NULL;
ALTER TABLE payment_requests ALTER COLUMN seller_phone DROP NOT NULL;
