-- Issue 15: a payout leaves `sent` only on a verified outcome; a paid collection is never
-- lost; refund-needed cases a person settles; the paybill's own record (transaction pull).

-- ---- payouts -------------------------------------------------------------------------
-- overpaid: this attempt was paid after it had been given up while another attempt holds
-- the order's slot; the over-payment goes to a person (it is never dropped).
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check;
ALTER TABLE payouts ADD CONSTRAINT payouts_status_check
  CHECK (status IN ('queued', 'sent', 'unknown', 'succeeded', 'failed', 'needs_attention', 'overpaid'));
-- "Not completed" answers from Transaction Status, and when the first came: a new attempt
-- needs two of them at least ORACLE_B2C_FAILURE_CONFIRM_SECONDS apart.
ALTER TABLE payouts ADD COLUMN not_completed_answers integer NOT NULL DEFAULT 0;
ALTER TABLE payouts ADD COLUMN first_not_completed_at timestamptz;
-- The last unverified hint (a failure result, a "no record" answer), kept beside `reason`.
ALTER TABLE payouts ADD COLUMN hint text;

-- Every Transaction Status query we sent, keyed by the ids in Daraja's acknowledgement. A
-- status result counts only as the answer to one of these.
CREATE TABLE status_queries (
  originator_conversation_id text PRIMARY KEY,
  conversation_id            text NOT NULL,
  payout_id                  uuid NOT NULL REFERENCES payouts (id),
  sent_at                    timestamptz NOT NULL DEFAULT now(),
  answered_at                timestamptz,
  answer                     text
);
CREATE INDEX status_queries_payout ON status_queries (payout_id);

-- ---- payment requests ----------------------------------------------------------------
-- What a paid callback said, kept even while STK Query cannot confirm it yet.
ALTER TABLE payment_requests ADD COLUMN callback_receipt text;
ALTER TABLE payment_requests ADD COLUMN callback_amount integer;
ALTER TABLE payment_requests ADD COLUMN callback_phone text;
ALTER TABLE payment_requests ADD COLUMN callback_at timestamptz;
-- Two "paid" callbacks with different receipts (one forged through a leaked URL): neither
-- receipt is believed; a verified payment is then keyed by CHECKOUT:<id> and its real
-- receipt comes from the transaction pull.
ALTER TABLE payment_requests ADD COLUMN callback_receipt_conflict boolean NOT NULL DEFAULT false;
-- The key the chain record uses (receipt, or CHECKOUT:<id> when only STK Query confirmed
-- it). Set when the request is marked paid; the one place that rule lives.
ALTER TABLE payment_requests ADD COLUMN chain_receipt_key text;
UPDATE payment_requests SET chain_receipt_key = COALESCE(mpesa_receipt, 'CHECKOUT:' || checkout_request_id) WHERE status = 'paid';
-- A receipt learned later (from the paybill's transaction pull) for a request confirmed
-- without one.
ALTER TABLE payment_requests ADD COLUMN pulled_receipt text UNIQUE;
CREATE INDEX payment_requests_account_reference ON payment_requests (account_reference);
CREATE INDEX payment_requests_due_verify ON payment_requests (next_query_at) WHERE callback_receipt IS NOT NULL AND status IN ('creating', 'pending');

-- A request's history: every failure, hint and decision, appended, never overwritten.
CREATE TABLE payment_events (
  id         bigserial PRIMARY KEY,
  request_id uuid NOT NULL REFERENCES payment_requests (id),
  at         timestamptz NOT NULL DEFAULT now(),
  kind       text NOT NULL,
  detail     text NOT NULL
);
CREATE INDEX payment_events_request ON payment_events (request_id, id);

-- ---- refund-needed cases -------------------------------------------------------------
-- Money a customer paid that funds no order: a person refunds it (or dismisses the case
-- with a note). One case per kind and payment.
CREATE TABLE refund_cases (
  id          bigserial PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('paid_twice', 'cannot_record', 'query_denied', 'unverified', 'unmatched_payment')),
  dedupe_key  text NOT NULL,
  request_id  uuid,
  order_id    text,
  receipt     text,
  phone       text,
  amount_kes  integer NOT NULL,
  reason      text NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'refunded', 'dismissed')),
  note        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  UNIQUE (kind, dedupe_key)
);
CREATE INDEX refund_cases_open ON refund_cases (created_at) WHERE status = 'open';

-- ---- the paybill's own record (Daraja transaction pull) ------------------------------
CREATE TABLE pulled_transactions (
  receipt            text PRIMARY KEY,
  bill_reference     text NOT NULL,
  amount_kes         integer NOT NULL,
  msisdn             text,
  trx_date           timestamptz,
  pulled_at          timestamptz NOT NULL DEFAULT now(),
  matched_request_id uuid,
  outcome            text NOT NULL
);
