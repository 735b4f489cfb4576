-- Sessions: a short-lived access token (JWT, carries the session id) and a rotating
-- refresh token. A session is one refresh-token family: every rotation adds a token to it;
-- presenting a used one again revokes the whole family (it was stolen, or the client is
-- confused: either way nobody should keep using it). Refresh tokens are stored hashed.
CREATE TABLE sessions (
  id              uuid PRIMARY KEY,
  address         text NOT NULL,
  created_at      timestamptz(6) NOT NULL DEFAULT now(),
  expires_at      timestamptz(6) NOT NULL,
  revoked_at      timestamptz(6),
  revoked_reason  text
);
CREATE INDEX sessions_address_idx ON sessions (address);

CREATE TABLE refresh_tokens (
  token_hash  text PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES sessions (id),
  created_at  timestamptz(6) NOT NULL DEFAULT now(),
  used_at     timestamptz(6)
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
