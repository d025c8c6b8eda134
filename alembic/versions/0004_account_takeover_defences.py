"""Sessions that end access tokens, and a login throttle that cannot lock an owner out (ADR 0015).

* ``pgcube.sessions`` — one row per login session (the refresh-token family of
  ``refresh_tokens.family_id``); an access token names its session (``sid``)
  and is refused once the session is revoked. Existing families are copied
  in, so tokens issued before the upgrade keep working until they expire.
* ``accounts.sessions_valid_after`` — a session created before this instant
  is dead: a password reset sets it, so a login that raced the reset cannot
  keep a session either.
* Both announce their changes on ``pgcube_catalog`` (``session:<id>``,
  ``sessions:<account id>``) so every process evicts its cached session state
  (``pgcube.control_plane_cache``) as it does for API keys (migration 0002).
* ``pgcube.login_throttle`` replaces ``pgcube.login_failures``: failed logins
  counted per bucket (account, client address, device cookie), each with a
  progressive delay instead of a fixed lockout.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE pgcube.sessions (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES pgcube.accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX sessions_account ON pgcube.sessions (account_id);
COMMENT ON TABLE pgcube.sessions IS 'pgcube login sessions: one refresh-token family each';

INSERT INTO pgcube.sessions (id, account_id, created_at, revoked_at)
SELECT family_id, min(account_id::text)::uuid, min(created_at),
       CASE WHEN bool_and(revoked_at IS NOT NULL) THEN max(revoked_at) END
FROM pgcube.refresh_tokens GROUP BY family_id;

ALTER TABLE pgcube.accounts ADD COLUMN sessions_valid_after timestamptz NOT NULL DEFAULT '-infinity';

CREATE TRIGGER notify_catalog AFTER UPDATE OF revoked_at, account_id OR DELETE ON pgcube.sessions
    FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('session', 'id');
CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON pgcube.sessions
    FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
CREATE TRIGGER notify_sessions AFTER UPDATE OF sessions_valid_after ON pgcube.accounts
    FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('sessions', 'id');

DROP TABLE pgcube.login_failures;
-- Failed logins per bucket: acct:<canonical email>, addr:<client address>, device:<cookie nonce>.
-- Counts forget themselves after a quiet window; past the bucket's free failures each failure
-- blocks the bucket for twice as long as the one before (pgcube.auth.throttle).
CREATE TABLE pgcube.login_throttle (
    bucket          text PRIMARY KEY,
    failures        integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    blocked_until   timestamptz
);
CREATE INDEX login_throttle_last_failure ON pgcube.login_throttle (last_failure_at);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS pgcube.login_throttle;
CREATE TABLE pgcube.login_failures (
    email_canonical text PRIMARY KEY,
    window_start    timestamptz NOT NULL,
    failures        integer NOT NULL
);
CREATE INDEX login_failures_window ON pgcube.login_failures (window_start);
DROP TRIGGER IF EXISTS notify_sessions ON pgcube.accounts;
ALTER TABLE pgcube.accounts DROP COLUMN IF EXISTS sessions_valid_after;
DROP TABLE IF EXISTS pgcube.sessions;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
