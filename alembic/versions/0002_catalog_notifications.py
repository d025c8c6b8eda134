"""Announce control-plane changes on the channel ``pgcube_catalog`` (ADR 0012).

Every pgcube process caches API keys, databases and collections and listens on
the channel; these triggers tell it what to evict. Row-level, so a cascade
(an account deleted, a database dropped) announces every row it removes;
PostgreSQL folds identical payloads of one transaction into one notification,
so the fields of a collection announce it once. Payloads are small:
``<kind>:<id>`` (see ``pgcube.control_plane_cache``).

Only writes that can make a cached value wrong are announced. The caches never
hold an absent row, so a new key, database or collection changes nothing
cached — and announcing it would only make fills running at that moment start
over (``pgcube.cache``):

* ``api_keys``: deletes, and updates of the columns a cached key holds — not
  ``last_used_at``, which is written every minute of a key's use and changes
  nothing a request decides.
* ``accounts``: deletes (nothing of an account's own row is cached).
* ``databases``, ``collections``: updates and deletes.
* ``fields``: every write (a field added to an existing collection changes it).
* a ``TRUNCATE`` of any of them: ``reset`` (drop everything).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
-- The trigger's arguments: the payload's kind, then the columns that identify the row.
CREATE FUNCTION pgcube.notify_catalog() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
    payload text;
    i integer;
BEGIN
    FOREACH changed IN ARRAY ARRAY[
        CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END
    ] LOOP
        CONTINUE WHEN changed IS NULL;
        payload := TG_ARGV[0];
        FOR i IN 1 .. TG_NARGS - 1 LOOP
            payload := payload || ':' || (changed ->> TG_ARGV[i]);
        END LOOP;
        PERFORM pg_notify('pgcube_catalog', payload);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION pgcube.notify_catalog_reset() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgcube_catalog', 'reset');
    RETURN NULL;
END
$$;

CREATE TRIGGER notify_catalog AFTER DELETE
    OR UPDATE OF id, account_id, secret_hash, database_id, revoked_at ON pgcube.api_keys
    FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('key', 'id');
CREATE TRIGGER notify_catalog AFTER DELETE ON pgcube.accounts
    FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('account', 'id');
CREATE TRIGGER notify_catalog AFTER UPDATE OR DELETE ON pgcube.databases
    FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('database', 'id');
CREATE TRIGGER notify_catalog AFTER UPDATE OR DELETE ON pgcube.collections
    FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('collection', 'database_id', 'name');
CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON pgcube.fields
    FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('collection', 'database_id', 'collection_name');

CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON pgcube.api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON pgcube.accounts
    FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON pgcube.databases
    FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON pgcube.collections
    FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON pgcube.fields
    FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS notify_catalog ON pgcube.api_keys;
DROP TRIGGER IF EXISTS notify_catalog ON pgcube.accounts;
DROP TRIGGER IF EXISTS notify_catalog ON pgcube.databases;
DROP TRIGGER IF EXISTS notify_catalog ON pgcube.collections;
DROP TRIGGER IF EXISTS notify_catalog ON pgcube.fields;
DROP TRIGGER IF EXISTS notify_catalog_reset ON pgcube.api_keys;
DROP TRIGGER IF EXISTS notify_catalog_reset ON pgcube.accounts;
DROP TRIGGER IF EXISTS notify_catalog_reset ON pgcube.databases;
DROP TRIGGER IF EXISTS notify_catalog_reset ON pgcube.collections;
DROP TRIGGER IF EXISTS notify_catalog_reset ON pgcube.fields;
DROP FUNCTION IF EXISTS pgcube.notify_catalog(), pgcube.notify_catalog_reset();
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
