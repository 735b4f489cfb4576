-- The API's off-chain data (schema `app`). Mirrors api/prisma/schema.prisma; the
-- agreement test fails when the two drift apart.

CREATE TYPE "PaymentMode" AS ENUM ('NATIVE', 'MPESA');

CREATE TABLE users (
  address       text PRIMARY KEY CHECK (address ~ '^0x[0-9a-f]{40}$'),
  display_name  text,
  phone         text CHECK (phone ~ '^254(7|1)[0-9]{8}$'),
  created_at    timestamptz(6) NOT NULL DEFAULT now(),
  updated_at    timestamptz(6) NOT NULL DEFAULT now()
);

CREATE TABLE login_challenges (
  nonce       text PRIMARY KEY,
  address     text NOT NULL,
  message     text NOT NULL,
  expires_at  timestamptz(6) NOT NULL,
  used_at     timestamptz(6),
  created_at  timestamptz(6) NOT NULL DEFAULT now()
);
CREATE INDEX login_challenges_address_idx ON login_challenges (address);

CREATE TABLE products (
  id            uuid PRIMARY KEY,
  seller_id     text NOT NULL REFERENCES users (address),
  title         text NOT NULL,
  description   text NOT NULL DEFAULT '',
  price_native  numeric(78, 0) CHECK (price_native > 0),
  price_kes     integer CHECK (price_kes BETWEEN 1 AND 250000),
  image_cid     text,
  active        boolean NOT NULL DEFAULT true,
  created_at    timestamptz(6) NOT NULL DEFAULT now(),
  updated_at    timestamptz(6) NOT NULL DEFAULT now(),
  deleted_at    timestamptz(6),
  CHECK (price_native IS NOT NULL OR price_kes IS NOT NULL)
);
CREATE INDEX products_seller_id_idx ON products (seller_id);
CREATE INDEX products_created_at_id_idx ON products (created_at, id);

CREATE TABLE order_drafts (
  order_id             text PRIMARY KEY CHECK (order_id ~ '^0x[0-9a-f]{64}$'),
  product_id           uuid REFERENCES products (id),
  buyer                text NOT NULL,
  seller               text NOT NULL,
  quantity             integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
  amount               numeric(78, 0) NOT NULL CHECK (amount > 0),
  payment_mode         "PaymentMode" NOT NULL,
  delivery_address     text NOT NULL,
  buyer_phone          text,
  metadata_cid         text NOT NULL,
  checkout_request_id  text,
  created_at           timestamptz(6) NOT NULL DEFAULT now()
);
CREATE INDEX order_drafts_buyer_created_at_idx ON order_drafts (buyer, created_at);
CREATE INDEX order_drafts_seller_created_at_idx ON order_drafts (seller, created_at);

CREATE TABLE evidence (
  id          uuid PRIMARY KEY,
  order_id    text NOT NULL,
  uploader    text NOT NULL,
  cid         text NOT NULL,
  filename    text NOT NULL,
  mime_type   text NOT NULL,
  size        integer NOT NULL CHECK (size >= 0),
  note        text NOT NULL DEFAULT '',
  created_at  timestamptz(6) NOT NULL DEFAULT now()
);
CREATE INDEX evidence_order_id_created_at_idx ON evidence (order_id, created_at);
