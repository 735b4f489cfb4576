-- Issue 24 (outsider's attack): every result is processed, whatever state its attempt is in,
-- even after the verification window. Transaction Status is asked about an attempt for
-- ORACLE_B2C_VERIFY_SECONDS from verify_from: its creation, or the last time something
-- reopened its verification — a B2C result for it (M-Pesa may have paid it after all) or a
-- person's retry or settlement that needs proof first. Before, the window ran from
-- created_at only, so a result or an admin's action after it was never verified.
ALTER TABLE payouts ADD COLUMN verify_from timestamptz;
