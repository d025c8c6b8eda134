"""The control plane: accounts, sessions, keys, email, logical databases.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE pgcube.accounts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email              text NOT NULL,
    email_canonical    text NOT NULL UNIQUE,
    first_name         text NOT NULL DEFAULT '',
    last_name          text NOT NULL DEFAULT '',
    password_hash      text NOT NULL,
    email_verified     boolean NOT NULL DEFAULT false,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    last_email_at      timestamptz,
    last_reset_email_at timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgcube.accounts IS 'pgcube accounts (developers); email_canonical is the lower-cased email';

-- Opaque refresh tokens, stored as SHA-256. A family is one login session.
CREATE TABLE pgcube.refresh_tokens (
    token_hash   bytea PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES pgcube.accounts (id) ON DELETE CASCADE,
    family_id    uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    spent_at     timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_family ON pgcube.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account ON pgcube.refresh_tokens (account_id);

-- One-time email tokens (verify, reset), stored as SHA-256.
CREATE TABLE pgcube.email_tokens (
    token_hash   bytea PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES pgcube.accounts (id) ON DELETE CASCADE,
    purpose      text NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX email_tokens_account ON pgcube.email_tokens (account_id, purpose, created_at);

-- Messages written instead of (or as well as) being sent by SMTP.
CREATE TABLE pgcube.outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   uuid REFERENCES pgcube.accounts (id) ON DELETE CASCADE,
    to_address   text NOT NULL,
    subject      text NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX outbox_to ON pgcube.outbox (to_address, id);

-- Login throttle, per canonical email (not per account id: an unknown email is
-- throttled exactly like a known one, so a 429 reveals nothing). Every attempt
-- counts until one succeeds; rows whose window has passed are stale.
CREATE TABLE pgcube.login_failures (
    email_canonical text PRIMARY KEY,
    window_start    timestamptz NOT NULL,
    failures        integer NOT NULL
);
CREATE INDEX login_failures_window ON pgcube.login_failures (window_start);

-- Logical databases: one PostgreSQL schema each (pgcube.management; docs/psql.md).
-- The names are checked by pgcube.management.naming; the CHECKs are a second line.
CREATE TABLE pgcube.databases (
    id           text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
    account_id   uuid NOT NULL REFERENCES pgcube.accounts (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$'),
    schema_name  text NOT NULL UNIQUE CHECK (octet_length(schema_name) <= 63),
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- Unique per account, case-insensitive; also serves list_databases (ordered by lower(name)).
CREATE UNIQUE INDEX databases_account_name ON pgcube.databases (account_id, lower(name));
COMMENT ON TABLE pgcube.databases IS 'pgcube logical databases: one schema (schema_name) each';

-- One row per collection: the table <schema_name>.<name>.
CREATE TABLE pgcube.collections (
    database_id  text NOT NULL REFERENCES pgcube.databases (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    strict       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (database_id, name)
);
COMMENT ON TABLE pgcube.collections IS 'pgcube collections: one table each, named like the collection';

-- Declared fields (keys of the documents; a dotted name is nested), in declaration order.
CREATE TABLE pgcube.fields (
    database_id     text NOT NULL,
    collection_name text NOT NULL,
    position        integer NOT NULL,
    name            text NOT NULL,
    type            text NOT NULL CHECK (type IN ('string', 'number', 'integer', 'boolean', 'date',
                                                  'datetime', 'object', 'array', 'any')),
    required        boolean NOT NULL DEFAULT false,
    indexed         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (database_id, collection_name, name),
    UNIQUE (database_id, collection_name, position),
    FOREIGN KEY (database_id, collection_name)
        REFERENCES pgcube.collections (database_id, name) ON DELETE CASCADE,
    CHECK (NOT indexed OR type IN ('string', 'number', 'integer', 'boolean', 'date', 'datetime'))
);

-- API keys: pgc_<id>_<secret>; only a hash of the secret is kept.
CREATE TABLE pgcube.api_keys (
    id           text PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES pgcube.accounts (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,
    secret_hash  bytea NOT NULL,
    database_id  text REFERENCES pgcube.databases (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_account ON pgcube.api_keys (account_id);

-- Idempotency-Key answers for inserts (kept at least 24 h).
CREATE TABLE pgcube.idempotency_keys (
    account_id   uuid NOT NULL REFERENCES pgcube.accounts (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       integer NOT NULL,
    response     bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);

-- Fixed-window rate-limit counters shared by every worker and instance (ADR 0008):
-- one row per bucket (api:key:<id>, api:account:<id>, core:addr:<address>), reset
-- when a new window starts; last_cost is what the latest exact check admitted (0: refused).
CREATE TABLE pgcube.rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    last_cost    integer NOT NULL DEFAULT 0
);
CREATE INDEX rate_limits_window ON pgcube.rate_limits (window_start);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS pgcube.rate_limits, pgcube.idempotency_keys, pgcube.api_keys, pgcube.fields,
    pgcube.collections, pgcube.databases, pgcube.login_failures, pgcube.outbox, pgcube.email_tokens,
    pgcube.refresh_tokens, pgcube.accounts;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
