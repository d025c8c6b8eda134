-- A database's files (SPEC §12; pgcube.files.repository, ADR 0021). Loaded by pgcube.db.statements.
--
-- The files live in the database's own schema (migration 0007, pgcube.setup_files): {schema}
-- stands for that schema, quoted by pgcube.management.naming.in_schema before the statement is
-- sent. Each row is a file object without its url (built per answer); the bytes are in the store
-- under data->>'object_key'. A web key's statements run as pgcube_web under the table's
-- row-level security: a row the rules hide is not there for them.

-- name: insert_file
-- $1: _key; $2: the file object (data); $3: _userkey set by a server credential (a web key's
-- comes from the column's default: the signed-in end user).
INSERT INTO {schema}._files (_key, _userkey, data)
VALUES ($1, coalesce($3, nullif(current_setting('pgcube.userkey', true), '')), $2::jsonb)
RETURNING _key, _userkey, _created_at, _modified_at, data;

-- name: get_file
SELECT _key, _userkey, _created_at, _modified_at, data FROM {schema}._files WHERE _key = $1;

-- name: finish_upload
-- A pending file whose bytes arrived: $2 its size (bytes), $3 their sha256 (hex).
UPDATE {schema}._files
SET data = data || jsonb_build_object('status', 'ready', 'filesize', $2::bigint, 'sha256', $3::text),
    _modified_at = now()
WHERE _key = $1 AND data->>'status' = 'pending'
RETURNING _key, _userkey, _created_at, _modified_at, data;

-- name: fail_upload
UPDATE {schema}._files
SET data = data || jsonb_build_object('status', 'failed', 'errors', $2::jsonb), _modified_at = now()
WHERE _key = $1 AND data->>'status' = 'pending'
RETURNING _key, _userkey, _created_at, _modified_at, data;

-- name: update_file
-- $2: the keys to set (acl, filename); $3: the metadata to merge in (an object, or null).
UPDATE {schema}._files
SET data = (data || $2::jsonb)
        || jsonb_build_object('metadata', coalesce(data->'metadata', '{}') || coalesce($3::jsonb, '{}')),
    _modified_at = now()
WHERE _key = $1
RETURNING _key, _userkey, _created_at, _modified_at, data;

-- name: delete_files
-- The files $1 (an array of _key); their object keys, for the bytes to go after the commit.
DELETE FROM {schema}._files WHERE _key = ANY($1::text[])
RETURNING data->>'object_key' AS object_key;

-- name: storage_used
-- The bytes the database's files take or have announced (pending uploads count at their size),
-- all of them whoever asks (migration 0007's SECURITY DEFINER function; $1: the schema).
SELECT pgcube.storage_used($1);

-- name: remove_stale_uploads
-- Files that never became ready and are older than $1 seconds, removed; their object keys.
DELETE FROM {schema}._files
WHERE data @> '{"status": "pending"}' AND _created_at < now() - make_interval(secs => $1)
   OR data @> '{"status": "failed"}' AND _created_at < now() - make_interval(secs => $1)
RETURNING data->>'object_key' AS object_key;

-- name: file_schemas
-- The schemas whose database has its _files table (the housekeeping sweep of stale uploads).
SELECT schema_name FROM pgcube.databases
WHERE to_regclass(format('%I._files', schema_name)) IS NOT NULL ORDER BY schema_name;
