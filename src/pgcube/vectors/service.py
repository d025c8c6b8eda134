"""The work of the ``vdb.*`` ops on one request's session (SPEC §13).

The op family (``pgcube.ops.vectors``) embeds text before any of this runs,
with no connection held (RELIABILITY I4); here the vectors meet the catalog
(the collection's embedder and dimensions must agree with them) and
PostgreSQL: one statement per op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgcube import query
from pgcube.data.service import Target, compiler_view, limits
from pgcube.db.session import Session
from pgcube.errors import EmbedderMismatch, FeatureUnavailable, ValidationError
from pgcube.management.models import MAX_HALFVEC_DIMENSIONS, VectorSpec
from pgcube.management.service import resolve_vector_collection
from pgcube.principal import Principal
from pgcube.settings import Settings
from pgcube.vectors import repository
from pgcube.vectors.models import Chunk


class VectorService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def require_pgvector(self) -> None:
        """501 ``FEATURE_UNAVAILABLE`` where the server has no pgvector: nothing falls back."""
        if not await repository.pgvector_installed(self.session.connection):
            raise FeatureUnavailable(
                "Vector collections need the PostgreSQL extension pgvector, which this server lacks "
                "(as an administrator: CREATE EXTENSION vector)",
                details={"extension": "vector"},
            )

    async def target(
        self, principal: Principal, database_id: str, name: str, *, create: VectorSpec | None = None
    ) -> Target:
        collection = await resolve_vector_collection(
            self.session, self.settings, principal, database_id, name, create=create
        )
        return Target(collection, compiler_view(collection), principal.account_id)

    async def insert(self, where: Target, chunks: Sequence[Chunk]) -> None:
        conn = await self.session.connection()
        await repository.insert(conn, where.collection.sql_table, spec_of(where), chunks)

    async def search(
        self, where: Target, vector: Sequence[float], criteria: Any, limit: int, threshold: float | None
    ) -> list[bytes]:
        compiled = (
            query.compile_where(where.compiled, criteria, limits=limits(self.settings)) if criteria else None
        )
        conn = await self.session.connection()
        least = -1.0 if threshold is None else threshold  # a cosine score is never below -1
        return await repository.search(
            conn, where.collection.sql_table, spec_of(where), compiled, vector, limit, least
        )

    async def delete(self, where: Target, criteria: Any, pointer: str) -> int:
        compiled = query.compile_delete(
            where.compiled, criteria, pointer=pointer, limits=limits(self.settings)
        )
        return await repository.delete(await self.session.connection(), compiled)

    def refuses_everything(self, where: Target, criteria: Any, pointer: str) -> bool:
        """Whether ``criteria`` hold for every entry (a delete must name what it removes)."""
        return query.matches_everything(
            where.compiled, criteria, pointer=pointer, limits=limits(self.settings)
        )


def spec_of(where: Target) -> VectorSpec:
    spec = where.collection.vectors
    assert spec is not None, "resolved as a vector collection"  # the catalog name says so
    return spec


def check_vectors(spec: VectorSpec, vectors: Sequence[Sequence[float]], fields: Sequence[str]) -> None:
    """400 unless every vector has the collection's dimensions; ``fields[i]`` names where the i-th
    came from."""
    for vector, field in zip(vectors, fields, strict=True):
        if len(vector) != spec.dimensions:
            raise ValidationError(
                f"The vector has {len(vector)} dimensions; the collection's have {spec.dimensions}",
                details={"field": field, "dimensions": spec.dimensions},
            )


def check_embedder(spec: VectorSpec, embedder: str) -> None:
    """409 ``EMBEDDER_MISMATCH`` when text would be embedded by another model than the collection's."""
    if spec.embedder != embedder:
        raise EmbedderMismatch(
            f"The collection's vectors were made by {spec.embedder}; this server embeds with {embedder}",
            details={"collection_embedder": spec.embedder, "server_embedder": embedder},
        )


def new_spec(embedder: str, vectors: Sequence[Sequence[float]], fields: Sequence[str]) -> VectorSpec:
    """The spec of a collection made by these vectors: all of one length, at most 4000 (``fields[i]``
    names where the i-th came from)."""
    dimensions = len(vectors[0])
    for vector, field in zip(vectors, fields, strict=True):
        if len(vector) != dimensions:
            raise ValidationError("The vectors have different dimensions", details={"field": field})
    if not 1 <= dimensions <= MAX_HALFVEC_DIMENSIONS:
        raise ValidationError(
            f"A vector has 1 to {MAX_HALFVEC_DIMENSIONS} dimensions", details={"field": fields[0]}
        )
    return VectorSpec(embedder=embedder, dimensions=dimensions)
