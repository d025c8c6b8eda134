-- A database's auth settings and its end users, as the account that owns it manages them
-- (SPEC §11.3; pgcube.management.end_users, ADR 0019). Loaded by pgcube.db.statements.
--
-- The end users live in the database's own schema (migration 0006, pgcube.setup_end_users):
-- {schema} stands for that schema, quoted by pgcube.management.naming.in_schema before the
-- statement is sent. Nothing else is ever put into the text: every value is a parameter.

-- name: update_auth_settings
-- $2: the settings to change, a JSON object of known keys (the others keep their stored value).
UPDATE pgcube.databases SET auth_settings = auth_settings || $2::jsonb
WHERE id = $1 AND account_id = $3::uuid
RETURNING auth_settings;

-- name: count_users
-- $1: a case-insensitive substring of the email or the display name, or null for everyone.
SELECT count(*) FROM {schema}._users
WHERE $1::text IS NULL
   OR strpos(lower(email), lower($1)) > 0
   OR strpos(lower(coalesce(display_name, '')), lower($1)) > 0;

-- name: list_users
-- count_users' users, newest first (ties by _userkey: pages never repeat or skip one).
-- Never the password hash.
SELECT _userkey, email, email_verified, display_name, photo_url, phone_number, metadata, roles,
       auth_types, disabled, created_at, last_signin_at
FROM {schema}._users
WHERE $1::text IS NULL
   OR strpos(lower(email), lower($1)) > 0
   OR strpos(lower(coalesce(display_name, '')), lower($1)) > 0
ORDER BY created_at DESC, _userkey
LIMIT $2 OFFSET $3;

-- name: set_disabled
-- Disabling also moves sessions_valid_after to now: every session and id_token the user holds
-- is older than that (end_sessions marks the sessions themselves).
UPDATE {schema}._users
SET disabled = $2::boolean,
    sessions_valid_after = CASE WHEN $2::boolean THEN now() ELSE sessions_valid_after END,
    updated_at = now()
WHERE _userkey = $1
RETURNING _userkey, email, email_verified, display_name, photo_url, phone_number, metadata, roles,
          auth_types, disabled, created_at, last_signin_at;

-- name: end_sessions
UPDATE {schema}._sessions SET ended_at = now() WHERE _userkey = $1 AND ended_at IS NULL;

-- name: delete_user
-- Their sessions and codes go by the foreign keys' cascade; codes sent to their email before
-- the row existed (no _userkey) go too. Their documents stay, with their _userkey.
WITH gone AS (
    DELETE FROM {schema}._users WHERE _userkey = $1 RETURNING _userkey, email_canonical
), codes AS (
    DELETE FROM {schema}._otps AS o USING gone WHERE o.email_canonical = gone.email_canonical
)
SELECT _userkey FROM gone;

-- name: announce
-- $1: the channel every pgcube process listens on (pgcube.db.notify); sent at commit.
SELECT pg_notify($1, $2);
