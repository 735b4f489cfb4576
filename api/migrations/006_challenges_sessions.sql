-- Sign-in challenges belong to whoever asked for them (issue 25): `requester` is a hash of
-- the client's address, and the per-address bound drops only that requester's oldest
-- challenge, so nobody can evict or use up someone else's.
ALTER TABLE login_challenges ADD COLUMN requester text NOT NULL DEFAULT '';
CREATE INDEX login_challenges_address_requester_created_at_idx ON login_challenges (address, requester, created_at);

-- Revocations of the last access-token lifetime are written back to Redis whenever the API
-- (re)connects to it, so a logout made while Redis was down stays in force when it returns.
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at);
