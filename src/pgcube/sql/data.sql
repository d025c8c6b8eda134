-- The data plane's fixed statements (pgcube.data): Idempotency-Key answers, the trash purge's
-- walk of the databases, the document quota's estimate. Loaded by pgcube.db.statements.

-- name: claim_idempotency_key
-- A placeholder row for (account, key): true when this request now owns the key.
INSERT INTO pgcube.idempotency_keys (account_id, key, request_hash, status, response)
VALUES ($1::uuid, $2, $3, 0, '') ON CONFLICT DO NOTHING RETURNING true;

-- name: stored_answer
SELECT request_hash, status, response FROM pgcube.idempotency_keys WHERE account_id = $1::uuid AND key = $2;

-- name: store_answer
UPDATE pgcube.idempotency_keys SET status = $3, response = $4 WHERE account_id = $1::uuid AND key = $2;

-- name: purge_answers
DELETE FROM pgcube.idempotency_keys WHERE created_at <= now() - make_interval(secs => $1);

-- name: trash_schemas
-- The schemas that have a trash table ($1: its name).
SELECT schema_name FROM pgcube.databases
WHERE to_regclass(format('%I.%I', schema_name, $1::text)) IS NOT NULL ORDER BY schema_name;

-- name: account_documents
-- A function (migration 0006) so that a web-key request, whose role sees no catalog, can call it.
SELECT pgcube.account_documents($1::uuid);
