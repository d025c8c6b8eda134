"""Vectors: pgvector where the server has it, and vector collections in the catalog (SPEC §13, ADR 0023).

* ``CREATE EXTENSION vector`` when the server offers it and the migrating role
  may create it; otherwise nothing (the ``vdb.*`` ops then answer 501
  ``FEATURE_UNAVAILABLE``, and an administrator can create it later).
* ``collections.vector_embedder`` / ``vector_dimensions`` — set for a vector
  collection (its table ``_vec_<name>``): what made its vectors and how many
  dimensions they have; null for a document collection.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from pgcube.db.migrations import execute_script

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = r"""
DO $vector$
BEGIN
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector')
       AND NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'vector') THEN
        BEGIN
            CREATE EXTENSION vector;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pgcube: % may not create the extension vector: vector collections are off', current_user
                USING HINT = 'As an administrator: CREATE EXTENSION vector;';
        END;
    END IF;
END
$vector$;

ALTER TABLE pgcube.collections
    ADD COLUMN vector_embedder text,
    ADD COLUMN vector_dimensions integer CHECK (vector_dimensions BETWEEN 1 AND 4000),
    ADD CONSTRAINT collections_vector_spec CHECK ((vector_embedder IS NULL) = (vector_dimensions IS NULL)),
    ADD CONSTRAINT collections_vector_name CHECK ((vector_embedder IS NULL) = (name NOT LIKE '\_vec\_%'));
COMMENT ON COLUMN pgcube.collections.vector_embedder IS
    'pgcube: what made a vector collection''s embeddings (local/<model>, openai/<model>, none); null: documents';
COMMENT ON COLUMN pgcube.collections.vector_dimensions IS
    'pgcube: the dimensions of a vector collection''s embedding column';
"""

DOWNGRADE = r"""
ALTER TABLE pgcube.collections
    DROP CONSTRAINT collections_vector_name,
    DROP CONSTRAINT collections_vector_spec,
    DROP COLUMN vector_dimensions,
    DROP COLUMN vector_embedder;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
