"""End users, web keys and access rules enforced by row-level security (SPEC §11, ADR 0018).

* ``pgcube_web`` — the role a web-key request takes with ``SET LOCAL ROLE``: no
  login, no ``BYPASSRLS``; it may use each database's schema and its collections
  under their policies, and nothing of the control plane but two functions.
  Created here when the migrating role may create roles; otherwise an
  administrator creates it first (docs/operations.md).
* ``api_keys.kind`` — ``server`` (full access) or ``web`` (one database, under its rules).
* ``collections.access_read`` / ``access_write`` — ``all`` | ``users`` | ``owner`` | ``none``.
* ``databases.auth_settings`` — the project's end-user settings (SPEC §11.3).
* ``pgcube.apply_access(schema, table, read, write)`` — a collection's row-level
  security: RLS on, one policy per command for ``pgcube_web``, the grants,
  ``_userkey`` stamped from the signed-in user by the column's default, and
  under an ``owner`` rule the index ``<table>$owner`` on ``(_userkey,
  _created_at, _key)``.
* ``pgcube.setup_end_users(schema)`` — a database's ``_users``, ``_sessions`` and
  ``_otps`` tables (the first two announce ended sessions and disabled users on
  ``pgcube_catalog``: ``user_session:<id>``, ``end_user:<_userkey>``), and its
  ``_trash`` opened to ``pgcube_web`` for the caller's own rows.
* ``pgcube.account_documents(account)`` — the document estimate of the quota,
  callable by ``pgcube_web`` without any grant on the catalog.

Every existing database and collection gets the same (rules ``none``/``none``:
nothing changes for server keys and accounts, which keep the owner role).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = r"""
DO $role$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgcube_web') THEN
        BEGIN
            CREATE ROLE pgcube_web NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
            COMMENT ON ROLE pgcube_web IS
                'pgcube: web-key requests (SET LOCAL ROLE); bound by the row-level security of each collection';
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'pgcube: the role pgcube_web is missing and % may not create it', current_user
                USING HINT = format('As an administrator: CREATE ROLE pgcube_web NOLOGIN; GRANT pgcube_web TO %I;',
                                    current_user);
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'pgcube_web', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT pgcube_web TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'pgcube: % must be a member of the role pgcube_web', current_user
                USING HINT = format('As an administrator: GRANT pgcube_web TO %I;', current_user);
        END;
    END IF;
END
$role$;
GRANT USAGE ON SCHEMA pgcube TO pgcube_web;

ALTER TABLE pgcube.api_keys
    ADD COLUMN kind text NOT NULL DEFAULT 'server' CHECK (kind IN ('server', 'web')),
    ADD CONSTRAINT api_keys_web_key_scoped CHECK (kind = 'server' OR database_id IS NOT NULL);

ALTER TABLE pgcube.collections
    ADD COLUMN access_read text NOT NULL DEFAULT 'none'
        CHECK (access_read IN ('all', 'users', 'owner', 'none')),
    ADD COLUMN access_write text NOT NULL DEFAULT 'none'
        CHECK (access_write IN ('all', 'users', 'owner', 'none'));

ALTER TABLE pgcube.databases ADD COLUMN auth_settings jsonb NOT NULL DEFAULT '{}';

CREATE FUNCTION pgcube.access_condition(rule text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE rule
        WHEN 'all' THEN 'true'
        WHEN 'users' THEN $c$coalesce(current_setting('pgcube.userkey', true), '') <> ''$c$
        WHEN 'owner' THEN $c$_userkey = current_setting('pgcube.userkey', true)$c$
        WHEN 'none' THEN 'false'
    END
$$;
COMMENT ON FUNCTION pgcube.access_condition(text) IS
    'pgcube: the policy condition of an access rule (all, users, owner, none)';

CREATE FUNCTION pgcube.apply_access(schema_name text, table_name text, read text, write text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    target text := format('%I.%I', schema_name, table_name);
    can_read text := pgcube.access_condition(read);
    can_write text := pgcube.access_condition(write);
BEGIN
    IF can_read IS NULL OR can_write IS NULL THEN
        RAISE EXCEPTION 'pgcube: unknown access rule (read %, write %)', read, write;
    END IF;
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format($d$ALTER TABLE %s ALTER COLUMN _userkey
                      SET DEFAULT nullif(current_setting('pgcube.userkey', true), '')$d$, target);
    EXECUTE format('DROP POLICY IF EXISTS web_read ON %s', target);
    EXECUTE format('DROP POLICY IF EXISTS web_insert ON %s', target);
    EXECUTE format('DROP POLICY IF EXISTS web_update ON %s', target);
    EXECUTE format('DROP POLICY IF EXISTS web_delete ON %s', target);
    EXECUTE format('CREATE POLICY web_read ON %s FOR SELECT TO pgcube_web USING (%s)', target, can_read);
    EXECUTE format('CREATE POLICY web_insert ON %s FOR INSERT TO pgcube_web WITH CHECK (%s)', target, can_write);
    EXECUTE format('CREATE POLICY web_update ON %s FOR UPDATE TO pgcube_web USING (%s) WITH CHECK (%s)',
                   target, can_write, can_write);
    EXECUTE format('CREATE POLICY web_delete ON %s FOR DELETE TO pgcube_web USING (%s)', target, can_write);
    EXECUTE format('COMMENT ON POLICY web_read ON %s IS %L', target, 'pgcube access rule: read ' || read);
    EXECUTE format('COMMENT ON POLICY web_insert ON %s IS %L', target, 'pgcube access rule: write ' || write);
    EXECUTE format('COMMENT ON POLICY web_update ON %s IS %L', target, 'pgcube access rule: write ' || write);
    EXECUTE format('COMMENT ON POLICY web_delete ON %s IS %L', target, 'pgcube access rule: write ' || write);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO pgcube_web', target);
    -- Under an owner rule PostgreSQL checks the policy before any condition that is not
    -- leakproof (jsonb's operators are not), so a match cannot use the GIN or typed indexes:
    -- this index keeps the work to the user's own rows, in the default order.
    IF read = 'owner' OR write = 'owner' THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (_userkey, _created_at, _key)',
                       table_name || '$owner', target);
    ELSE
        EXECUTE format('DROP INDEX IF EXISTS %I.%I', schema_name, table_name || '$owner');
    END IF;
END
$$;
COMMENT ON FUNCTION pgcube.apply_access(text, text, text, text) IS
    'pgcube: row-level security of one collection for pgcube_web (its access rules), _userkey stamped';

CREATE FUNCTION pgcube.setup_end_users(schema_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    trash text := format('%I._trash', schema_name);
    own text := $c$_userkey = current_setting('pgcube.userkey', true)$c$;
BEGIN
    EXECUTE format($t$
        CREATE TABLE %1$I._users (
            _userkey        text PRIMARY KEY,
            email           text NOT NULL,
            email_canonical text NOT NULL CONSTRAINT "_users$email" UNIQUE,
            password_hash   text,
            email_verified  boolean NOT NULL DEFAULT false,
            display_name    text,
            photo_url       text,
            phone_number    text,
            metadata        jsonb NOT NULL DEFAULT '{}',
            roles           text[] NOT NULL DEFAULT '{user}',
            auth_types      text[] NOT NULL DEFAULT '{email}',
            disabled        boolean NOT NULL DEFAULT false,
            sessions_valid_after timestamptz,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            last_signin_at  timestamptz
        );
        COMMENT ON TABLE %1$I._users IS 'pgcube: the end users of this database (auth.*)';
        CREATE TABLE %1$I._sessions (
            id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            _userkey        text NOT NULL REFERENCES %1$I._users (_userkey) ON DELETE CASCADE,
            aud             text NOT NULL DEFAULT 'web',
            refresh_hash    bytea NOT NULL CONSTRAINT "_sessions$refresh" UNIQUE,
            previous_hash   bytea,
            spent_hashes    bytea[] NOT NULL DEFAULT '{}',
            rotated_at      timestamptz,
            created_at      timestamptz NOT NULL DEFAULT now(),
            expires_at      timestamptz NOT NULL,
            ended_at        timestamptz
        );
        CREATE INDEX "_sessions$user" ON %1$I._sessions (_userkey);
        CREATE INDEX "_sessions$spent" ON %1$I._sessions USING gin (spent_hashes);
        COMMENT ON TABLE %1$I._sessions IS
            'pgcube: end-user sessions; the refresh token (hashed) rotates, spent ones are kept for reuse detection';
        -- An ended session, a disabled or deleted user: every process forgets what it cached
        -- (pgcube.control_plane_cache), so their id_tokens are refused at once.
        CREATE TRIGGER notify_catalog AFTER UPDATE OF ended_at OR DELETE ON %1$I._sessions
            FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('user_session', 'id');
        CREATE TRIGGER notify_catalog AFTER UPDATE OF disabled, sessions_valid_after OR DELETE ON %1$I._users
            FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('end_user', '_userkey');
        CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON %1$I._sessions
            FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
        CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON %1$I._users
            FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
        CREATE TABLE %1$I._otps (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            email_canonical text NOT NULL,
            _userkey        text REFERENCES %1$I._users (_userkey) ON DELETE CASCADE,
            intent          text NOT NULL CHECK (intent IN ('signin', 'verify_email', 'change_password',
                                                            'change_email')),
            code_hash       bytea NOT NULL,
            new_email       text,
            tries           integer NOT NULL DEFAULT 0,
            created_at      timestamptz NOT NULL DEFAULT now(),
            expires_at      timestamptz NOT NULL,
            used_at         timestamptz
        );
        CREATE INDEX "_otps$email" ON %1$I._otps (email_canonical, intent, created_at);
        COMMENT ON TABLE %1$I._otps IS 'pgcube: one-time codes of end users (hashed, 10 minutes, 5 tries)';
    $t$, schema_name);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO pgcube_web', schema_name);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', trash);
    EXECUTE format('CREATE POLICY web_read ON %s FOR SELECT TO pgcube_web USING (%s)', trash, own);
    EXECUTE format('CREATE POLICY web_insert ON %s FOR INSERT TO pgcube_web WITH CHECK (true)', trash);
    EXECUTE format('CREATE POLICY web_delete ON %s FOR DELETE TO pgcube_web USING (%s)', trash, own);
    EXECUTE format('COMMENT ON POLICY web_read ON %s IS %L', trash,
                   'pgcube: an end user sees only the documents they created in the trash');
    EXECUTE format('COMMENT ON POLICY web_insert ON %s IS %L', trash,
                   'pgcube: what a collection''s policies let an end user delete goes to the trash');
    EXECUTE format('COMMENT ON POLICY web_delete ON %s IS %L', trash,
                   'pgcube: an end user restores only the documents they created');
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON %s TO pgcube_web', trash);
END
$$;
COMMENT ON FUNCTION pgcube.setup_end_users(text) IS
    'pgcube: the end-user tables of one database schema, and its trash opened to pgcube_web for own rows';

CREATE FUNCTION pgcube.account_documents(account uuid) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- Per table, the larger of n_live_tup and reltuples scaled to the table's current size.
    SELECT coalesce(sum(greatest(
               coalesce(s.n_live_tup, 0),
               CASE WHEN c.reltuples > 0 AND c.relpages > 0
                    THEN c.reltuples / c.relpages
                         * (pg_relation_size(c.oid) / current_setting('block_size')::float8)
                    ELSE 0 END)), 0)::bigint
    FROM pgcube.databases d
    JOIN pgcube.collections col ON col.database_id = d.id
    JOIN pg_namespace n ON n.nspname = d.schema_name
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = col.name AND c.relkind = 'r'
    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE d.account_id = account
$$;
COMMENT ON FUNCTION pgcube.account_documents(uuid) IS
    'pgcube: the documents of every collection of an account, estimated from statistics (the quota)';
REVOKE EXECUTE ON FUNCTION pgcube.account_documents(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgcube.account_documents(uuid) TO pgcube_web;

DO $existing$
DECLARE
    database record;
    collection record;
BEGIN
    FOR database IN
        SELECT d.schema_name FROM pgcube.databases d
        JOIN pg_namespace n ON n.nspname = d.schema_name
    LOOP
        PERFORM pgcube.setup_end_users(database.schema_name);
    END LOOP;
    FOR collection IN
        SELECT d.schema_name, c.name FROM pgcube.collections c
        JOIN pgcube.databases d ON d.id = c.database_id
        JOIN pg_namespace n ON n.nspname = d.schema_name
        JOIN pg_class t ON t.relnamespace = n.oid AND t.relname = c.name
    LOOP
        PERFORM pgcube.apply_access(collection.schema_name, collection.name, 'none', 'none');
    END LOOP;
END
$existing$;
"""

DOWNGRADE = r"""
DO $existing$
DECLARE
    database record;
    collection record;
BEGIN
    FOR collection IN
        SELECT d.schema_name, c.name FROM pgcube.collections c
        JOIN pgcube.databases d ON d.id = c.database_id
        JOIN pg_namespace n ON n.nspname = d.schema_name
        JOIN pg_class t ON t.relnamespace = n.oid AND t.relname = c.name
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS web_read ON %I.%I', collection.schema_name, collection.name);
        EXECUTE format('DROP POLICY IF EXISTS web_insert ON %I.%I', collection.schema_name, collection.name);
        EXECUTE format('DROP POLICY IF EXISTS web_update ON %I.%I', collection.schema_name, collection.name);
        EXECUTE format('DROP POLICY IF EXISTS web_delete ON %I.%I', collection.schema_name, collection.name);
        EXECUTE format('ALTER TABLE %I.%I DISABLE ROW LEVEL SECURITY, ALTER COLUMN _userkey DROP DEFAULT',
                       collection.schema_name, collection.name);
        EXECUTE format('REVOKE ALL ON %I.%I FROM pgcube_web', collection.schema_name, collection.name);
    END LOOP;
    FOR database IN
        SELECT d.schema_name FROM pgcube.databases d JOIN pg_namespace n ON n.nspname = d.schema_name
    LOOP
        EXECUTE format('DROP TABLE IF EXISTS %1$I._otps, %1$I._sessions, %1$I._users', database.schema_name);
        EXECUTE format('DROP POLICY IF EXISTS web_read ON %I._trash', database.schema_name);
        EXECUTE format('DROP POLICY IF EXISTS web_insert ON %I._trash', database.schema_name);
        EXECUTE format('DROP POLICY IF EXISTS web_delete ON %I._trash', database.schema_name);
        EXECUTE format('ALTER TABLE %I._trash DISABLE ROW LEVEL SECURITY', database.schema_name);
        EXECUTE format('REVOKE ALL ON %I._trash FROM pgcube_web', database.schema_name);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM pgcube_web', database.schema_name);
    END LOOP;
END
$existing$;
DROP FUNCTION pgcube.account_documents(uuid);
DROP FUNCTION pgcube.setup_end_users(text);
DROP FUNCTION pgcube.apply_access(text, text, text, text);
DROP FUNCTION pgcube.access_condition(text);
ALTER TABLE pgcube.databases DROP COLUMN auth_settings;
ALTER TABLE pgcube.collections DROP COLUMN access_read, DROP COLUMN access_write;
ALTER TABLE pgcube.api_keys DROP CONSTRAINT api_keys_web_key_scoped, DROP COLUMN kind;
REVOKE USAGE ON SCHEMA pgcube FROM pgcube_web;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
