-- The oracle's ledger: what it *did* (requests, callbacks, payouts, transactions sent).
-- It never decides an order's status; the chain does. Unique keys make every external
-- effect idempotent.

CREATE TABLE payment_requests (
  id                   uuid PRIMARY KEY,
  order_id             text NOT NULL CHECK (order_id ~ '^0x[0-9a-f]{64}$'),
  buyer                text NOT NULL,
  seller               text NOT NULL,
  amount_kes           integer NOT NULL CHECK (amount_kes BETWEEN 1 AND 250000),
  phone                text NOT NULL CHECK (phone ~ '^254(7|1)[0-9]{8}$'),
  seller_phone         text NOT NULL CHECK (seller_phone ~ '^254(7|1)[0-9]{8}$'),
  metadata_cid         text NOT NULL DEFAULT '',
  account_reference    text NOT NULL,
  -- creating: row written, STK not yet acknowledged; pending: Daraja accepted it;
  -- paid: verified (callback + STK query); failed/expired: terminal, nothing owed.
  status               text NOT NULL CHECK (status IN ('creating', 'pending', 'paid', 'failed', 'expired')),
  merchant_request_id  text,
  checkout_request_id  text UNIQUE,
  mpesa_receipt        text UNIQUE,
  paid_amount          integer,
  paid_phone           text,
  result_code          text,
  result_desc          text,
  failure_reason       text,
  query_attempts       integer NOT NULL DEFAULT 0,
  next_query_at        timestamptz,
  expires_at           timestamptz NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  paid_at              timestamptz,
  -- set once the chain (at the confirmation depth) shows nothing more owed on the order
  settled_at           timestamptz
);
-- One live payment per order: a new STK is allowed only after the last one failed/expired.
CREATE UNIQUE INDEX payment_requests_one_live_per_order ON payment_requests (order_id) WHERE status IN ('creating', 'pending', 'paid');
CREATE INDEX payment_requests_unsettled ON payment_requests (order_id) WHERE status = 'paid' AND settled_at IS NULL;
CREATE INDEX payment_requests_due_query ON payment_requests (next_query_at) WHERE status IN ('creating', 'pending');

-- Every callback exactly as received, before anything is decided from it.
CREATE TABLE callbacks (
  id             bigserial PRIMARY KEY,
  kind           text NOT NULL CHECK (kind IN ('stk', 'b2c_result', 'b2c_timeout', 'status_result', 'status_timeout')),
  correlation_id text,
  source_ip      text NOT NULL,
  raw            jsonb NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  processed_at   timestamptz,
  outcome        text
);
CREATE INDEX callbacks_unprocessed ON callbacks (id) WHERE processed_at IS NULL;
CREATE INDEX callbacks_correlation ON callbacks (correlation_id);

CREATE TABLE payouts (
  id                          uuid PRIMARY KEY,
  order_id                    text NOT NULL,
  beneficiary                 text NOT NULL,
  role                        text NOT NULL CHECK (role IN ('seller', 'buyer')),
  phone                       text NOT NULL,
  amount_kes                  integer NOT NULL CHECK (amount_kes > 0),
  attempt                     integer NOT NULL DEFAULT 1,
  -- Deterministic from order, beneficiary and attempt: Daraja refuses a reused one.
  originator_conversation_id  text NOT NULL UNIQUE,
  conversation_id             text,
  -- queued: row written, B2C not yet acknowledged; sent: acknowledged, waiting for the
  -- result; unknown: queue timeout or lost answer, Transaction Status decides;
  -- succeeded: paid (receipt known); failed: Daraja said no and a retry may help;
  -- needs_attention: a person must act (2040, 1, 2001, …).
  status                      text NOT NULL CHECK (status IN ('queued', 'sent', 'unknown', 'succeeded', 'failed', 'needs_attention')),
  mpesa_receipt               text UNIQUE,
  result_code                 text,
  result_desc                 text,
  reason                      text,
  trigger_block               bigint,
  next_check_at               timestamptz,
  checks                      integer NOT NULL DEFAULT 0,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  completed_at                timestamptz
);
-- At most one payout per order and beneficiary that is live or done.
CREATE UNIQUE INDEX payouts_one_per_beneficiary ON payouts (order_id, role) WHERE status IN ('queued', 'sent', 'unknown', 'succeeded', 'needs_attention');

-- Chain transactions to send, written in the same transaction as the fact that needs them.
CREATE TABLE outbox (
  id               bigserial PRIMARY KEY,
  idempotency_key  text NOT NULL UNIQUE,
  kind             text NOT NULL CHECK (kind IN ('record_payment', 'record_payout')),
  order_id         text NOT NULL,
  payload          jsonb NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending', 'sent', 'confirmed', 'failed')),
  nonce            bigint,
  tx_hash          text,
  raw_tx           text, -- the signed transaction, stored before broadcast so a restart re-sends the same one
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  confirmed_at     timestamptz,
  block_number     bigint
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sent');

CREATE TABLE reconciliation_runs (
  id            bigserial PRIMARY KEY,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  checked       integer NOT NULL DEFAULT 0,
  discrepancies jsonb NOT NULL DEFAULT '[]'
);
