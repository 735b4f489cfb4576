-- KYC: sellers submit documents (encrypted, content-addressed), admins decide. Every admin
-- decision goes to an append-only audit log.
CREATE TYPE "KycState" AS ENUM ('NONE', 'PENDING', 'APPROVED', 'REJECTED');
ALTER TABLE users
  ADD COLUMN kyc_state       "KycState" NOT NULL DEFAULT 'NONE',
  ADD COLUMN kyc_reason      text,
  ADD COLUMN kyc_decided_at  timestamptz(6),
  ADD COLUMN kyc_decided_by  text;

CREATE TABLE kyc_documents (
  id          uuid PRIMARY KEY,
  address     text NOT NULL REFERENCES users (address),
  kind        text NOT NULL,
  cid         text NOT NULL,
  filename    text NOT NULL,
  mime_type   text NOT NULL,
  size        integer NOT NULL CHECK (size > 0),
  created_at  timestamptz(6) NOT NULL DEFAULT now()
);
CREATE INDEX kyc_documents_address_created_at_idx ON kyc_documents (address, created_at);

CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  actor       text NOT NULL,
  action      text NOT NULL,
  subject     text NOT NULL,
  -- JSON text: what was decided and why
  details     text NOT NULL,
  created_at  timestamptz(6) NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);

-- Append-only: no row is ever changed or removed, whoever connects.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
