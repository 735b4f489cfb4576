-- Order ids are bound to their creator on chain (Escrow.orderIdFor(creator, salt)): the
-- buyer for a native order, the oracle for an M-Pesa order. The draft keeps the salt the
-- creator must send.
ALTER TABLE order_drafts ADD COLUMN order_salt text CHECK (order_salt ~ '^0x[0-9a-f]{64}$');
