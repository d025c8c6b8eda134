-- End users of one logical database (pgcube.users.repository): its _users, _sessions and _otps
-- tables (migration 0006, pgcube.setup_end_users). {schema} stands for that database's schema:
-- the repository puts it in, quoted by query.sql.quote_ident, once per schema; it is never a
-- value from a request. Statements that decide a race are single UPDATE ... RETURNING
-- statements (rotating a refresh token, spending a code), so PostgreSQL's row locks decide it.

-- --- users -------------------------------------------------------------------------------

-- name: create_user
-- Nothing when the address is taken (the caller answers the same either way).
INSERT INTO {schema}._users (_userkey, email, email_canonical, password_hash, display_name, phone_number,
                             metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (email_canonical) DO NOTHING
RETURNING _userkey;

-- name: signin_row
SELECT _userkey, password_hash, email_verified, disabled FROM {schema}._users WHERE email_canonical = $1;

-- name: password_row
SELECT password_hash FROM {schema}._users WHERE _userkey = $1 AND NOT disabled;

-- name: profile
SELECT _userkey, email, email_verified, display_name, photo_url, phone_number, metadata, roles, auth_types
FROM {schema}._users WHERE _userkey = $1;

-- name: signed_in
-- A sign-in that succeeded (nothing for a disabled user); $2: its code proved the address.
UPDATE {schema}._users
SET last_signin_at = now(), email_verified = email_verified OR $2::bool
WHERE _userkey = $1 AND NOT disabled
RETURNING _userkey, email, email_verified, display_name, photo_url, phone_number, metadata, roles,
          auth_types;

-- name: upgrade_hash
-- Re-hash with current parameters, unless the password changed meanwhile.
UPDATE {schema}._users SET password_hash = $3 WHERE _userkey = $1 AND password_hash = $2;

-- name: update_profile
-- Each field with its flag: set (even to null) when the flag is true, kept otherwise.
UPDATE {schema}._users
SET display_name = CASE WHEN $2::bool THEN $3::text ELSE display_name END,
    phone_number = CASE WHEN $4::bool THEN $5::text ELSE phone_number END,
    photo_url = CASE WHEN $6::bool THEN $7::text ELSE photo_url END,
    metadata = CASE WHEN $8::bool THEN $9::jsonb ELSE metadata END,
    updated_at = now()
WHERE _userkey = $1 AND NOT disabled
RETURNING _userkey, email, email_verified, display_name, photo_url, phone_number, metadata, roles,
          auth_types;

-- name: set_password
-- $3: changed with a code sent to the address, which proves it; every session of the user ends
-- (whoever held one is out), a session opened later in this transaction excepted.
UPDATE {schema}._users
SET password_hash = $2, updated_at = now(), email_verified = email_verified OR $3::bool,
    sessions_valid_after = CASE WHEN $3::bool THEN now() ELSE sessions_valid_after END
WHERE _userkey = $1 AND NOT disabled
RETURNING _userkey, email, email_verified, display_name, photo_url, phone_number, metadata, roles,
          auth_types;

-- name: verify_email
UPDATE {schema}._users SET email_verified = true, updated_at = now() WHERE _userkey = $1 AND NOT disabled
RETURNING _userkey;

-- name: change_email
-- Nothing when another user has the address; the code sent there proved it.
UPDATE {schema}._users
SET email = $2, email_canonical = $3, email_verified = true, updated_at = now()
WHERE _userkey = $1 AND NOT disabled
  AND NOT EXISTS (SELECT FROM {schema}._users other WHERE other.email_canonical = $3 AND other._userkey <> $1)
RETURNING _userkey, email, email_verified, display_name, photo_url, phone_number, metadata, roles,
          auth_types;

-- --- sessions ----------------------------------------------------------------------------

-- name: purge_dead_sessions
-- The user's ended and expired sessions: their tokens are refused without them.
DELETE FROM {schema}._sessions WHERE _userkey = $1 AND (ended_at IS NOT NULL OR expires_at <= now());

-- name: open_session
INSERT INTO {schema}._sessions (_userkey, aud, refresh_hash, expires_at)
VALUES ($1, $2, $3, now() + $4::int * interval '1 second')
RETURNING id::text;

-- name: session_state
-- What an id_token's check needs (cached per process, evicted by notification).
SELECT s._userkey,
       s.ended_at IS NULL AND NOT u.disabled AND s.created_at >= coalesce(u.sessions_valid_after, '-infinity'),
       extract(epoch FROM s.expires_at)::float8
FROM {schema}._sessions s JOIN {schema}._users u ON u._userkey = s._userkey
WHERE s.id = $1::uuid;

-- name: rotate_refresh_token
-- Spend the live refresh token $1 of a live session for $2: the spent one is kept (the last 1000)
-- to recognise a replay. Of concurrent refreshes with one token, one matches.
UPDATE {schema}._sessions s
SET refresh_hash = $2, previous_hash = s.refresh_hash, rotated_at = now(),
    spent_hashes = (s.spent_hashes || s.refresh_hash)[greatest(1, cardinality(s.spent_hashes) - 998):]
FROM {schema}._users u
WHERE s.refresh_hash = $1 AND u._userkey = s._userkey
  AND s.ended_at IS NULL AND s.expires_at > now()
  AND NOT u.disabled AND s.created_at >= coalesce(u.sessions_valid_after, '-infinity')
RETURNING s.id::text, s.aud,
          u._userkey, u.email, u.email_verified, u.display_name, u.photo_url, u.phone_number, u.metadata,
          u.roles, u.auth_types;

-- name: rotate_session
-- A new refresh token $3 for the live session $1 of user $2 (profile or password changed); its aud.
UPDATE {schema}._sessions
SET refresh_hash = $3, previous_hash = refresh_hash, rotated_at = now(),
    spent_hashes = (spent_hashes || refresh_hash)[greatest(1, cardinality(spent_hashes) - 998):]
WHERE id = $1::uuid AND _userkey = $2 AND ended_at IS NULL AND expires_at > now()
RETURNING aud;

-- name: replayed_session
-- The session that spent the refresh token $1: whether it was its last rotation, how long
-- ago that was, and whether the session has ended.
SELECT id::text, _userkey, previous_hash = $1, extract(epoch FROM now() - rotated_at)::float8,
       ended_at IS NOT NULL
FROM {schema}._sessions WHERE spent_hashes @> ARRAY[$1::bytea];

-- name: end_session
UPDATE {schema}._sessions SET ended_at = now()
WHERE id = $1::uuid AND _userkey = $2 AND ended_at IS NULL
RETURNING id::text;

-- name: end_sessions
-- Every live session of the user but $2 (none kept when $2 is null).
UPDATE {schema}._sessions SET ended_at = now()
WHERE _userkey = $1 AND ended_at IS NULL AND expires_at > now() AND ($2::uuid IS NULL OR id <> $2::uuid)
RETURNING id::text;

-- --- one-time codes ------------------------------------------------------------------------

-- name: issue_code
-- A code ($3: its hash) for the user with the address $1, for intent $2, unless that user is
-- disabled, has no need of it (verify_email when verified) or was sent one in the last $5
-- seconds; the user's earlier codes of that intent are spent. The address to send it to.
WITH target AS (
    SELECT _userkey, email FROM {schema}._users
    WHERE email_canonical = $1 AND NOT disabled AND ($2 <> 'verify_email' OR NOT email_verified)
    FOR UPDATE
), fresh AS (
    SELECT t._userkey, t.email FROM target t
    WHERE NOT EXISTS (
        SELECT FROM {schema}._otps o
        WHERE o._userkey = t._userkey AND o.intent = $2 AND o.created_at > now() - $5::int * interval '1 second'
    )
), spent AS (
    UPDATE {schema}._otps o SET used_at = now() FROM fresh f
    WHERE o._userkey = f._userkey AND o.intent = $2 AND o.used_at IS NULL
)
INSERT INTO {schema}._otps (email_canonical, _userkey, intent, code_hash, expires_at)
SELECT $1, f._userkey, $2, $3, now() + $4::int * interval '1 second' FROM fresh f
RETURNING (SELECT email FROM fresh);

-- name: issue_email_change_code
-- A change_email code ($3: its hash) for user $6, sent to the new address $7 ($1: its canonical
-- form), unless another user has that address or one was sent in the last $5 seconds. $2 is
-- 'change_email'.
WITH fresh AS (
    SELECT u._userkey FROM {schema}._users u
    WHERE u._userkey = $6 AND NOT u.disabled
      AND NOT EXISTS (SELECT FROM {schema}._users other WHERE other.email_canonical = $1)
      AND NOT EXISTS (
          SELECT FROM {schema}._otps o
          WHERE o._userkey = u._userkey AND o.intent = $2 AND o.created_at > now() - $5::int * interval '1 second'
      )
    FOR UPDATE
), spent AS (
    UPDATE {schema}._otps o SET used_at = now() FROM fresh f
    WHERE o._userkey = f._userkey AND o.intent = $2 AND o.used_at IS NULL
)
INSERT INTO {schema}._otps (email_canonical, _userkey, intent, code_hash, new_email, expires_at)
SELECT $1, f._userkey, $2, $3, $7, now() + $4::int * interval '1 second' FROM fresh f
RETURNING new_email;

-- name: check_code
-- One try of the live code for ($1, $2) (the newest; user $5 when not null): counted, and spent
-- when its hash is $3. Codes past $4 tries are dead. The code's user, whether it matched, and the
-- new address of a change_email code.
UPDATE {schema}._otps SET tries = tries + 1, used_at = CASE WHEN code_hash = $3 THEN now() END
WHERE id = (
    SELECT id FROM {schema}._otps
    WHERE email_canonical = $1 AND intent = $2 AND used_at IS NULL AND expires_at > now() AND tries < $4
      AND ($5::text IS NULL OR _userkey = $5)
    ORDER BY created_at DESC, id DESC LIMIT 1
    FOR UPDATE
)
RETURNING _userkey, used_at IS NOT NULL, new_email;
