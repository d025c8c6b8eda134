-- Accounts, sessions, email tokens, API keys, the login throttle and the outbox
-- (pgcube.auth.repository). Statements that must be atomic under concurrency are single
-- UPDATE ... RETURNING statements, so PostgreSQL's row locks decide the races.

-- --- accounts ---------------------------------------------------------------------------

-- name: create_account
INSERT INTO pgcube.accounts (email, email_canonical, first_name, last_name, password_hash, last_email_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (email_canonical) DO NOTHING
RETURNING id::text;

-- name: spend_pending_verifications
UPDATE pgcube.email_tokens SET used_at = now()
WHERE purpose = 'verify_email' AND used_at IS NULL
  AND account_id = (SELECT id FROM pgcube.accounts WHERE email_canonical = $1 AND NOT email_verified);

-- name: replace_pending_account
UPDATE pgcube.accounts
SET email = $2, first_name = $3, last_name = $4, password_hash = $5,
    password_changed_at = now(), updated_at = now()
WHERE email_canonical = $1 AND NOT email_verified
RETURNING id::text;

-- name: login_row
SELECT id::text, password_hash, email_verified FROM pgcube.accounts WHERE email_canonical = $1;

-- name: claim_mail_slot
UPDATE pgcube.accounts SET last_email_at = now()
WHERE email_canonical = $1
  AND (last_email_at IS NULL OR last_email_at <= now() - $2::int * interval '1 second')
RETURNING id::text, email, email_verified;

-- name: claim_reset_slot
UPDATE pgcube.accounts SET last_reset_email_at = now()
WHERE email_canonical = $1
  AND (last_reset_email_at IS NULL OR last_reset_email_at <= now() - $2::int * interval '1 second')
RETURNING id::text, email, email_verified;

-- name: profile
SELECT id::text, email, first_name, last_name, email_verified, created_at
FROM pgcube.accounts WHERE id = $1::uuid;

-- name: update_profile
UPDATE pgcube.accounts
SET first_name = coalesce($2, first_name), last_name = coalesce($3, last_name), updated_at = now()
WHERE id = $1::uuid
RETURNING id::text, email, first_name, last_name, email_verified, created_at;

-- name: mark_verified
UPDATE pgcube.accounts SET email_verified = true, updated_at = now() WHERE id = $1::uuid;

-- name: replace_password
UPDATE pgcube.accounts
SET password_hash = $2, password_changed_at = now(), email_verified = true, updated_at = now()
WHERE id = $1::uuid;

-- name: upgrade_hash
UPDATE pgcube.accounts SET password_hash = $3 WHERE id = $1::uuid AND password_hash = $2;

-- name: canonical_email_of
SELECT email_canonical FROM pgcube.accounts WHERE id = $1::uuid;

-- name: lock_account
SELECT true FROM pgcube.accounts WHERE id = $1::uuid FOR UPDATE;

-- --- the login throttle (pgcube.auth.throttle) -------------------------------------------

-- name: add_buckets
INSERT INTO pgcube.login_throttle (bucket, failures, last_failure_at)
SELECT name, 0, now() FROM unnest($1::text[]) AS name
ON CONFLICT (bucket) DO NOTHING;

-- name: lock_buckets
SELECT bucket, failures, extract(epoch FROM last_failure_at)::float8,
       extract(epoch FROM blocked_until)::float8, extract(epoch FROM now())::float8
FROM pgcube.login_throttle WHERE bucket = ANY($1::text[])
ORDER BY bucket FOR UPDATE;

-- name: record_failures
UPDATE pgcube.login_throttle AS t
SET failures = c.failures, last_failure_at = now(), blocked_until = to_timestamp(c.blocked)
FROM unnest($1::text[], $2::int[], $3::float8[]) AS c (bucket, failures, blocked)
WHERE t.bucket = c.bucket;

-- name: clear_buckets
DELETE FROM pgcube.login_throttle WHERE bucket = ANY($1::text[]);

-- name: refund_attempt
UPDATE pgcube.login_throttle
SET failures = greatest(failures - 1, 0),
    blocked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE blocked_until END
WHERE bucket = $1;

-- name: purge_quiet_buckets
DELETE FROM pgcube.login_throttle
WHERE last_failure_at <= now() - $1::int * interval '1 second'
  AND (blocked_until IS NULL OR blocked_until <= now());

-- --- one-time email tokens ---------------------------------------------------------------

-- name: add_email_token
INSERT INTO pgcube.email_tokens (token_hash, account_id, purpose, expires_at)
VALUES ($1, $2::uuid, $3, now() + $4::int * interval '1 second');

-- name: redeem_email_token
UPDATE pgcube.email_tokens SET used_at = now()
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
RETURNING account_id::text;

-- name: email_token_is_live
SELECT true FROM pgcube.email_tokens
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now();

-- name: spend_email_tokens
UPDATE pgcube.email_tokens SET used_at = now()
WHERE account_id = $1::uuid AND purpose = $2 AND used_at IS NULL;

-- --- sessions and refresh tokens ---------------------------------------------------------

-- name: add_refresh_token
INSERT INTO pgcube.refresh_tokens (token_hash, account_id, family_id, expires_at)
VALUES ($1, $2::uuid, $3::uuid, now() + $4::int * interval '1 second');

-- name: add_session
INSERT INTO pgcube.sessions (id, account_id) VALUES ($1::uuid, $2::uuid);

-- name: session_state
SELECT s.account_id::text, s.revoked_at IS NULL AND s.created_at >= a.sessions_valid_after
FROM pgcube.sessions s JOIN pgcube.accounts a ON a.id = s.account_id
WHERE s.id = $1::uuid;

-- name: spend_refresh_token
UPDATE pgcube.refresh_tokens SET spent_at = now()
WHERE token_hash = $1 AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > now()
RETURNING account_id::text, family_id::text;

-- name: refresh_state
SELECT account_id::text, family_id::text,
       extract(epoch FROM now() - spent_at)::float8,
       revoked_at IS NOT NULL, expires_at <= now()
FROM pgcube.refresh_tokens WHERE token_hash = $1;

-- name: revoke_family_tokens
UPDATE pgcube.refresh_tokens SET revoked_at = now() WHERE family_id = $1::uuid AND revoked_at IS NULL;

-- name: revoke_session
UPDATE pgcube.sessions SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL;

-- name: end_sessions
UPDATE pgcube.accounts SET sessions_valid_after = now(), updated_at = now() WHERE id = $1::uuid;

-- name: revoke_account_tokens
UPDATE pgcube.refresh_tokens SET revoked_at = now() WHERE account_id = $1::uuid AND revoked_at IS NULL;

-- name: revoke_account_sessions
UPDATE pgcube.sessions SET revoked_at = now() WHERE account_id = $1::uuid AND revoked_at IS NULL;

-- name: revoke_account_keys
UPDATE pgcube.api_keys SET revoked_at = now()
WHERE account_id = $1::uuid AND revoked_at IS NULL
RETURNING id;

-- name: purge_expired_refresh_tokens
DELETE FROM pgcube.refresh_tokens WHERE account_id = $1::uuid AND expires_at < now();

-- name: purge_empty_sessions
DELETE FROM pgcube.sessions s
WHERE s.account_id = $1::uuid
  AND NOT EXISTS (SELECT 1 FROM pgcube.refresh_tokens r WHERE r.family_id = s.id);

-- --- API keys ----------------------------------------------------------------------------

-- name: count_live_keys
SELECT count(*) FROM pgcube.api_keys WHERE account_id = $1::uuid AND revoked_at IS NULL;

-- name: owns_database
SELECT true FROM pgcube.databases WHERE id = $1 AND account_id = $2::uuid;

-- name: add_key
INSERT INTO pgcube.api_keys (id, account_id, name, prefix, secret_hash, database_id, kind)
VALUES ($1, $2::uuid, $3, $4, $5, $6, $7)
RETURNING id, name, prefix, database_id, kind, created_at, last_used_at;

-- name: list_keys
SELECT id, name, prefix, database_id, kind, created_at, last_used_at FROM pgcube.api_keys
WHERE account_id = $1::uuid AND revoked_at IS NULL
ORDER BY created_at, id;

-- name: revoke_key
UPDATE pgcube.api_keys SET revoked_at = now()
WHERE id = $1 AND account_id = $2::uuid AND revoked_at IS NULL
RETURNING true;

-- name: key_for_auth
SELECT account_id::text, secret_hash, database_id, kind
FROM pgcube.api_keys WHERE id = $1 AND revoked_at IS NULL;

-- name: touch_keys
-- Skips keys written in the last $2 seconds and rows locked now (another process writes them).
UPDATE pgcube.api_keys SET last_used_at = now()
WHERE id IN (
    SELECT id FROM pgcube.api_keys
    WHERE id = ANY($1::text[])
      AND (last_used_at IS NULL OR last_used_at < now() - $2::int * interval '1 second')
    FOR UPDATE SKIP LOCKED
);

-- --- the outbox --------------------------------------------------------------------------

-- name: keep_mail
INSERT INTO pgcube.outbox (account_id, to_address, subject, body)
VALUES ($1::uuid, $2, $3, $4) RETURNING id;
