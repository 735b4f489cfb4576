-- Order ids are bound to their creator on chain: an M-Pesa order's id is
-- Escrow.orderIdFor(oracle, salt). The oracle keeps the salt it will create the order with.
ALTER TABLE payment_requests ADD COLUMN order_salt text CHECK (order_salt ~ '^0x[0-9a-f]{64}$');
