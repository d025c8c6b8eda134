-- The catalog's fixed statements (pgcube.management.repository): databases, collections and
-- their declared fields. Loaded by pgcube.db.statements.

-- name: lock_account
-- Serialise this account's database creations until the transaction ends (quota, names).
SELECT pg_advisory_xact_lock(hashtextextended('pgcube.account:' || $1::text, 0));

-- name: account_email
SELECT email FROM pgcube.accounts WHERE id = $1::uuid;

-- name: count_databases
SELECT count(*) FROM pgcube.databases WHERE account_id = $1::uuid;

-- name: insert_database
INSERT INTO pgcube.databases (id, account_id, name, schema_name)
VALUES ($1, $2::uuid, $3, $4)
ON CONFLICT DO NOTHING
RETURNING id, account_id::text AS account_id, name, schema_name, created_at, auth_settings,
    files_access_read, files_access_write;

-- name: database_name_taken
SELECT EXISTS (
    SELECT 1 FROM pgcube.databases WHERE account_id = $1::uuid AND lower(name) = lower($2)
);

-- name: schema_name_taken
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)
    OR EXISTS (SELECT 1 FROM pgcube.databases WHERE schema_name = $1);

-- name: fetch_database
SELECT id, account_id::text AS account_id, name, schema_name, created_at, auth_settings,
    files_access_read, files_access_write
FROM pgcube.databases WHERE id = $1 AND account_id = $2::uuid;

-- name: lock_database
-- fetch_database, its row locked until the transaction ends: DDL inside one database is
-- serialised, and waits for a concurrent drop (then the row is gone).
SELECT id, account_id::text AS account_id, name, schema_name, created_at, auth_settings,
    files_access_read, files_access_write
FROM pgcube.databases WHERE id = $1 AND account_id = $2::uuid FOR NO KEY UPDATE;

-- name: count_listed_databases
SELECT count(*) FROM pgcube.databases
WHERE account_id = $1::uuid
  AND ($2::text IS NULL OR id = $2)
  AND ($3::text IS NULL OR strpos(lower(name), lower($3)) > 0);

-- name: list_databases
SELECT id, account_id::text AS account_id, name, schema_name, created_at, auth_settings,
    files_access_read, files_access_write,
    (SELECT count(*) FROM pgcube.collections c WHERE c.database_id = d.id) AS num_collections
FROM pgcube.databases d
WHERE account_id = $1::uuid
  AND ($2::text IS NULL OR id = $2)
  AND ($3::text IS NULL OR strpos(lower(name), lower($3)) > 0)
ORDER BY lower(name), id
LIMIT $4 OFFSET $5;

-- name: delete_database
DELETE FROM pgcube.databases WHERE id = $1;

-- name: catalog_entry
-- The database $1, whoever owns it, and its collection $2 (every collection when $2 is null),
-- one row per collection (one row with a null name when there is none), its declared fields
-- as four parallel arrays, its declared indexes as a jsonb array (oldest first).
SELECT d.id, d.account_id::text AS account_id, d.name AS database_name, d.schema_name,
       d.created_at AS database_created_at, d.auth_settings,
       d.files_access_read, d.files_access_write, c.name, c.strict, c.created_at,
       c.access_read, c.access_write, c.vector_embedder, c.vector_dimensions,
       coalesce(array_agg(f.name ORDER BY f.position) FILTER (WHERE f.name IS NOT NULL), '{}') AS f_names,
       coalesce(array_agg(f.type ORDER BY f.position) FILTER (WHERE f.name IS NOT NULL), '{}') AS f_types,
       coalesce(array_agg(f.required ORDER BY f.position) FILTER (WHERE f.name IS NOT NULL), '{}')
           AS f_required,
       coalesce(array_agg(f.indexed ORDER BY f.position) FILTER (WHERE f.name IS NOT NULL), '{}')
           AS f_indexed,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('name', i.name, 'fields', i.fields, 'unique', i."unique")
                                  ORDER BY i.created_at, i.name), '[]')
        FROM pgcube.indexes i WHERE i.database_id = c.database_id AND i.collection_name = c.name) AS declared
FROM pgcube.databases d
LEFT JOIN pgcube.collections c ON c.database_id = d.id AND ($2::text IS NULL OR c.name = $2)
LEFT JOIN pgcube.fields f ON f.database_id = c.database_id AND f.collection_name = c.name
WHERE d.id = $1
GROUP BY d.id, c.database_id, c.name
ORDER BY c.name;

-- name: collection_names
SELECT name FROM pgcube.collections WHERE database_id = $1 ORDER BY name;

-- name: count_collections
SELECT count(*) FROM pgcube.collections WHERE database_id = $1;

-- name: insert_collection
INSERT INTO pgcube.collections (database_id, name, strict, access_read, access_write,
                                vector_embedder, vector_dimensions)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING RETURNING created_at;

-- name: set_access
UPDATE pgcube.collections SET access_read = $3, access_write = $4
WHERE database_id = $1 AND name = $2
RETURNING true;

-- name: set_files_access
-- The rules of a database's files (its _files table, SPEC §12).
UPDATE pgcube.databases SET files_access_read = $2, files_access_write = $3 WHERE id = $1;

-- name: insert_field
INSERT INTO pgcube.fields (database_id, collection_name, position, name, type, required, indexed)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: insert_index
-- A declared index of a collection (ADR 0025); its trigger announces the collection.
INSERT INTO pgcube.indexes (database_id, collection_name, name, fields, "unique")
VALUES ($1, $2, $3, $4::text[], $5);

-- name: delete_index
DELETE FROM pgcube.indexes WHERE database_id = $1 AND collection_name = $2 AND name = $3
RETURNING true;

-- name: index_declared
SELECT EXISTS (
    SELECT 1 FROM pgcube.indexes WHERE database_id = $1 AND collection_name = $2 AND name = $3
);

-- name: try_lock_index
-- The building or dropping of one declared index, by one connection at a time (a session lock:
-- CREATE INDEX CONCURRENTLY runs outside any transaction). False: someone else holds it.
SELECT pg_try_advisory_lock(hashtextextended('pgcube.index:' || $1 || ':' || $2 || ':' || $3, 0));

-- name: lock_index
-- try_lock_index, waiting for the holder (a failed build's clean-up).
SELECT pg_advisory_lock(hashtextextended('pgcube.index:' || $1 || ':' || $2 || ':' || $3, 0));

-- name: delete_collections
DELETE FROM pgcube.collections WHERE database_id = $1 AND name = ANY($2::text[]);

-- name: estimated_counts
-- Per table of the schema $1: n_live_tup, and reltuples scaled to the table's current size.
SELECT c.relname,
       s.n_live_tup,
       CASE WHEN c.reltuples >= 0 AND c.relpages > 0
            THEN c.reltuples / c.relpages
                 * (pg_relation_size(c.oid) / current_setting('block_size')::float8)
       END AS scaled
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname = $1 AND c.relkind = 'r';
