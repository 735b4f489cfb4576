-- Documents the API stores for an order and whose CID goes on chain: tracking details
-- (markShipped) and dispute statements (raiseDispute). The CID on chain is public, so anyone
-- can put it on an order of their own; a document is shown on an order only when this table
-- says the API stored it for that order (and the sealed document names that order too).
CREATE TABLE order_documents (
  cid         text PRIMARY KEY,
  order_id    text NOT NULL CHECK (order_id ~ '^0x[0-9a-f]{64}$'),
  kind        text NOT NULL CHECK (kind IN ('tracking', 'dispute')),
  author      text NOT NULL,
  created_at  timestamptz(6) NOT NULL DEFAULT now()
);
CREATE INDEX order_documents_order_id_idx ON order_documents (order_id);
