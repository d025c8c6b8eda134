"""Declared indexes: a collection's unique and compound typed B-trees (SPEC §10a, ADR 0025).

* ``pgcube.indexes`` — one row per declared index of a collection: its name
  (``<table>$i$<field>$<field>…``, the index's own in the database's schema),
  its fields in order and whether it is unique. A field's ``unique: true`` is a
  row too, over that field alone. The rows go with their collection (``ON
  DELETE CASCADE``).
* Written rows announce their collection on ``pgcube_catalog`` (migration 0002's
  trigger function), as ``pgcube.fields`` does: every process forgets its cached
  copy of a collection whose indexes changed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = r"""
CREATE TABLE pgcube.indexes (
    database_id     text NOT NULL,
    collection_name text NOT NULL,
    name            text NOT NULL CHECK (octet_length(name) <= 63),
    fields          text[] NOT NULL CHECK (cardinality(fields) BETWEEN 1 AND 8),
    "unique"        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (database_id, collection_name, name),
    UNIQUE (database_id, collection_name, fields),
    FOREIGN KEY (database_id, collection_name)
        REFERENCES pgcube.collections (database_id, name) ON DELETE CASCADE
);
COMMENT ON TABLE pgcube.indexes IS
    'pgcube declared indexes: typed B-trees over declared fields of a collection, unique or not';
COMMENT ON COLUMN pgcube.indexes.name IS 'pgcube: the index in the database''s schema';
COMMENT ON COLUMN pgcube.indexes.fields IS 'pgcube: the declared fields it covers, in order';
COMMENT ON COLUMN pgcube.indexes."unique" IS
    'pgcube: no two documents share its fields'' values (a document missing one is not constrained)';

CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON pgcube.indexes
    FOR EACH ROW EXECUTE FUNCTION pgcube.notify_catalog('collection', 'database_id', 'collection_name');
CREATE TRIGGER notify_catalog_reset AFTER TRUNCATE ON pgcube.indexes
    FOR EACH STATEMENT EXECUTE FUNCTION pgcube.notify_catalog_reset();
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS pgcube.indexes;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
