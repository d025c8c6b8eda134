"""The document service both dialects share (SPEC §6, §7): it runs the commands of
``pgcube.data.commands`` on a request's ``Session``.

Each method compiles its command (``pgcube.query``) against the target
collection and runs it through ``pgcube.data.repository``. A command that is
one statement runs as one (PostgreSQL makes it atomic by itself: no
``BEGIN``/``COMMIT`` round trips); a command of several statements that must
be all or nothing (an update, whose result is checked before it may stand; an
upsert) runs in one transaction. Documents come back as JSON bytes; the
dialects splice them into their envelopes.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec

from pgcube import query
from pgcube.data import commands, quota, repository, uniques
from pgcube.data.documents import Prepared, prepare_documents
from pgcube.db.session import Session
from pgcube.errors import NotFound, ValidationError
from pgcube.management import service as catalog
from pgcube.management.models import Collection
from pgcube.principal import Principal
from pgcube.settings import Settings


class Target(msgspec.Struct, frozen=True):
    """A collection a request works on, as the catalog and the compiler see it, and whose it is."""

    collection: Collection
    compiled: query.Collection
    account_id: str


class Page(msgspec.Struct, frozen=True, kw_only=True):
    documents: list[bytes]
    limit: int
    offset: int
    page: int
    total: int | None
    has_next: bool
    next_cursor: str | None
    keyset: bool = False
    """A cursor page: it has no page number or position."""


class Inserted(msgspec.Struct, frozen=True):
    documents: list[bytes]
    keys: list[str]


class Updated(msgspec.Struct, frozen=True, kw_only=True):
    documents: list[bytes]
    upserted_key: str | None = None


class Removed(msgspec.Struct, frozen=True):
    ref: str | None
    count: int


@functools.lru_cache(maxsize=4096)
def compiler_view(collection: Collection) -> query.Collection:
    """The compiler's description of a collection (cached: catalog values are frozen and hashable,
    and the catalog cache hands out the same value until the collection changes)."""
    return query.Collection(
        schema=collection.schema_name,
        table=collection.table_name,
        fields={spec.name: spec.type.value for spec in collection.fields},
        indexed=frozenset(
            [spec.name for spec in collection.fields if spec.indexed]
            + [name for index in collection.indexes for name in index.fields]
        ),
    )


ABSENT = query.Collection(schema="absent", table="absent", fields={})
"""A collection that does not exist, as the compiler sees it: no declared fields (what is compiled
against it is checked, never run)."""


@functools.cache
def limits(settings: Settings) -> query.Limits:
    """The compiler's limits from the settings (one per settings object: settings are frozen)."""
    return query.Limits(
        max_depth=settings.query_max_depth,
        max_conditions=settings.query_max_conditions,
        max_list_values=settings.query_max_list_values,
        max_regex_length=settings.query_max_regex_length,
        max_page_size=settings.max_page_size,
    )


def seed_from_criteria(criteria: dict[str, Any]) -> dict[str, Any]:
    """The plain equality keys of ``criteria`` (``{"email": "e@x", "_id": "k"}``), which an
    upsert's new document starts from — MongoDB's rule."""
    seed: dict[str, Any] = {}
    for key, value in criteria.items():
        if ":" in key or key.startswith("$") or "." in key:
            continue
        if isinstance(value, dict) and any(str(k).startswith("$") or ":" in str(k) for k in value):
            continue
        seed["_key" if key == "_id" else key] = value
    return seed


def _total_from_page(compiled: query.FindQuery, rows: int, has_next: bool) -> int | None:
    """The total, when the page itself tells it: an offset page that is the last one and not past
    the end holds every match from ``offset`` on (the page's statement then counts nothing)."""
    if compiled.keyset or has_next or (rows == 0 and compiled.offset > 0):
        return None
    return compiled.offset + rows


def _check_strict_paths(collection: Collection, paths: Sequence[tuple[str, ...]], pointer: str) -> None:
    """A strict collection takes no undeclared field from an update either, at any depth (before
    any SQL runs; what a whole object written at a declared path holds is checked on the result)."""
    validator = catalog.validator_for(collection)
    for path in paths:
        name = validator.undeclared_path(path)
        if name is not None:
            raise ValidationError(
                f"Field {name!r} is not declared, and the collection is strict",
                details={"field": name, "strict": True, "pointer": pointer},
            )


class DocumentService:
    """The document commands on one request's session."""

    def __init__(self, session: Session, settings: Settings, *, sets_userkey: bool = True) -> None:
        self.session = session
        self.settings = settings
        self.sets_userkey = sets_userkey
        """Whether the caller may give documents their ``_userkey`` (server credentials; a web key's
        documents get the signed-in end user's from PostgreSQL)."""

    async def target(
        self, principal: Principal, database_id: str, collection_name: str, *, create: bool = False
    ) -> Target:
        """The collection, else ``DatabaseNotFound`` / ``CollectionNotFound`` (``create``: made on
        first use). Answered from the process's catalog cache when it is warm."""
        collection = await catalog.resolve_collection(
            self.session, self.settings, principal, database_id, collection_name, create=create
        )
        return Target(collection, compiler_view(collection), principal.account_id)

    def prepare(self, where: Target, documents: Sequence[Any]) -> list[Prepared]:
        return prepare_documents(
            documents,
            catalog.validator_for(where.collection),
            max_batch=self.settings.max_batch_size,
            max_document_bytes=self.settings.max_document_bytes,
            keep_userkey=self.sets_userkey,
        )

    # --- reads ---------------------------------------------------------------------------------

    async def find(self, where: Target, command: commands.Find) -> Page:
        compiled = self.find_query(where.compiled, command)
        conn = await self.session.connection()
        rows = await repository.find(conn, compiled)
        has_next = len(rows) > compiled.limit
        rows = rows[: compiled.limit]
        total = None
        if compiled.count is not None:
            # The page's own statement counted the matches when the page cannot tell them
            # (a full page, a cursor page); only a page past the end needs a count of its own.
            total = rows[0]["total"] if rows and rows[0]["total"] is not None else None
            if total is None:
                total = _total_from_page(compiled, len(rows), has_next)
            if total is None:
                total = await repository.count(conn, compiled.count)
        return Page(
            documents=[row["doc"] for row in rows],
            limit=compiled.limit,
            offset=compiled.offset,
            page=compiled.page,
            total=total,
            has_next=has_next,
            next_cursor=compiled.next_cursor(rows[-1]["cursor"]) if has_next and rows else None,
            keyset=compiled.keyset,
        )

    async def count(self, where: Target, command: commands.Count) -> int:
        compiled = self.count_query(where.compiled, command)
        return await repository.count(await self.session.connection(), compiled)

    def nothing_found(self, command: commands.Find) -> Page:
        """The page a find answers on a collection that does not exist: empty, as MongoDB and
        Singlebase answer (SPEC §10a). The command is checked as any find's (a bad match is
        still a 400); no statement runs."""
        compiled = self.find_query(ABSENT, command)
        return Page(
            documents=[],
            limit=compiled.limit,
            offset=compiled.offset,
            page=compiled.page,
            total=0 if compiled.count is not None else None,
            has_next=False,
            next_cursor=None,
            keyset=compiled.keyset,
        )

    def nothing_counted(self, command: commands.Count) -> int:
        """A count on a collection that does not exist: 0, once the criteria are checked."""
        self.count_query(ABSENT, command)
        return 0

    def find_query(self, collection: query.Collection, command: commands.Find) -> query.FindQuery:
        """The statements of a find on ``collection`` (``find`` runs them, ``collection.explain``
        plans them, ``nothing_found`` only checks them)."""
        return query.compile_find(
            collection,
            command.criteria,
            sort=command.sort,
            projection=command.projection,
            limit=command.limit,
            offset=command.offset,
            page=command.page,
            per_page=command.per_page,
            cursor=command.cursor,
            count=command.with_total,
            pointers=command.pointers,
            limits=limits(self.settings),
        )

    def count_query(self, collection: query.Collection, command: commands.Count) -> query.Compiled:
        return query.compile_count(
            collection, command.criteria, pointer=command.pointers.criteria, limits=limits(self.settings)
        )

    # --- writes --------------------------------------------------------------------------------

    async def insert(self, where: Target, command: commands.Insert) -> Inserted:
        """Insert a batch in one statement (all or nothing); the stored documents, in order."""
        prepared = self.prepare(where, command.documents)
        conn = await self.session.connection()
        await quota.INSERTS.admit(conn, where.account_id, len(prepared), self.settings.quota_documents)
        user_keys = [p.user_key for p in prepared]
        statement = query.compile_insert(
            where.compiled,
            [p.key for p in prepared],
            [p.data for p in prepared],
            user_keys if any(key is not None for key in user_keys) else None,
        )
        # Inside a transaction, a failed statement ends it: a savepoint keeps it open so that the
        # document a unique index refused can be found (a batch only: one document is document 0).
        batch = len(prepared) > 1
        savepoint = batch and self.session.in_transaction and uniques.has_unique(where.collection)
        try:
            documents = await repository.insert(conn, statement, savepoint=savepoint)
        except repository.UniqueViolation as violation:
            can_ask = not batch or savepoint or not self.session.in_transaction
            raise await self._refused(conn, where, violation, prepared, can_ask=can_ask) from None
        return Inserted(documents, [p.key for p in prepared])

    def _compile_update(self, where: Target, command: commands.Update, *, guarded: bool) -> query.UpdateQuery:
        return query.compile_update(
            where.compiled,
            command.criteria,
            command.mutation,
            pointer=command.pointers.criteria,
            update_pointer=command.mutation_pointer,
            required=frozenset(spec.name for spec in where.collection.fields if spec.required),
            limits=limits(self.settings),
            max_document_bytes=self.settings.max_document_bytes if guarded else None,
        )

    def update_query(self, where: Target, command: commands.Update) -> query.UpdateQuery:
        """The statement ``update`` sends first, once the request has passed the checks that come
        before any SQL (consent; a strict collection's paths): guarded when it may run alone
        (``collection.explain`` plans this one)."""
        self._check_consent(where, command.criteria, command.pointers, command.everything)
        if not where.collection.strict and not self.session.in_transaction:
            return self._compile_update(where, command, guarded=True)
        checked = self._compile_update(where, command, guarded=False)
        if where.collection.strict:
            _check_strict_paths(where.collection, checked.paths, command.mutation_pointer)
        return checked

    async def _refused(
        self,
        conn: Any,
        where: Target,
        violation: repository.UniqueViolation,
        prepared: Sequence[Prepared],
        *,
        can_ask: bool,
    ) -> Exception:
        """The 409 for a batch a unique index refused: the primary key's usual one, or the declared
        index's with the first offending document (ADR 0025)."""
        index = uniques.violated(where.collection, violation.constraint)
        if index is None:
            return uniques.change_error(where.collection, violation.constraint)
        if len(prepared) == 1:
            return uniques.document_error(index, 0, uniques.values_of(index, prepared[0].data))
        if not can_ask:
            return uniques.unpositioned_error(index)
        found = await repository.first_conflict(
            conn,
            uniques.conflict_query(where.collection, index, uniques.BATCH_SOURCE),
            [p.data for p in prepared],
        )
        if found is None:
            return uniques.unpositioned_error(index)
        return uniques.document_error(
            index, found["n"], msgspec.json.decode(found["shown"]), found["first_n"]
        )

    async def update(self, where: Target, command: commands.Update) -> list[bytes]:
        """Apply the mutation to every match in one statement (ADR 0013).

        A broken declared field or an oversized document undoes it: on its own, the statement
        is guarded by PostgreSQL (``pgcube.update_holds``) and needs no transaction; when the
        guard trips — or inside a transaction, or on a strict collection, whose whole documents
        are checked here — it runs in a transaction whose results are checked before it may
        commit, which names the field and the document."""
        statement = self.update_query(where, command)
        try:
            if statement.guarded:
                try:
                    rows = await repository.update(await self.session.connection(), statement)
                    return [row["doc"] for row in rows]
                except repository.UpdateRefused:
                    # Undone by PostgreSQL; run it again to say why (a strict collection is never
                    # guarded, so its paths were checked already).
                    statement = self._compile_update(where, command, guarded=False)
            async with self.session.transaction() as conn:
                rows = await repository.update(conn, statement)
                self._check_updated(where.collection, rows, command.mutation_pointer)
        except repository.UniqueViolation as violation:  # two documents made equal (ADR 0025)
            raise uniques.change_error(where.collection, violation.constraint) from None
        return [row["doc"] for row in rows]

    def _check_consent(
        self, where: Target, criteria: Any, pointers: query.Pointers, everything: bool
    ) -> None:
        """Criteria that match every document, from a caller that did not say it means everything."""
        if everything:
            return
        if query.matches_everything(
            where.compiled, criteria, pointer=pointers.criteria, limits=limits(self.settings)
        ):
            raise ValidationError(
                'These filters match every document: send "all": true to mean it',
                details={"field": pointers.criteria.lstrip("/"), "pointer": pointers.criteria},
            )

    def _check_updated(self, collection: Collection, rows: Sequence[Any], pointer: str) -> None:
        limit = self.settings.max_document_bytes
        strict = catalog.validator_for(collection) if collection.strict else None
        for index, row in enumerate(rows):
            if strict is not None:
                # An object written whole at a declared path ($set address: {...}) may hold keys
                # the update's paths did not show.
                strict.validate_json(row["doc"], index)
            if row["invalid"]:
                field = row["invalid"][0]
                raise ValidationError(
                    f"The update breaks the declared field {field!r} (document {index} of the matches)",
                    details={"field": field, "index": index, "pointer": pointer},
                )
            if len(row["doc"]) > limit:
                raise ValidationError(
                    f"The update makes document {index} of the matches larger than {limit} bytes encoded",
                    details={"index": index, "limit": limit, "pointer": pointer},
                )

    async def upsert(self, where: Target, command: commands.Upsert) -> Updated:
        """Update the matching documents, or insert the equality keys of the criteria overlaid
        with the new document and apply the mutation to it; one transaction."""
        self._check_consent(where, command.criteria, command.pointers, command.everything)
        async with self.session.transaction():
            if command.mutation:
                update = commands.Update(
                    collection=command.collection,
                    criteria=command.criteria,
                    mutation=command.mutation,
                    pointers=command.pointers,
                    mutation_pointer=command.mutation_pointer,
                )
                documents = await self.update(where, update)
            else:
                find = commands.Find(
                    collection=command.collection,
                    criteria=command.criteria,
                    limit=self.settings.max_page_size,
                    pointers=command.pointers,
                )
                documents = (await self.find(where, find)).documents
            if documents:
                return Updated(documents=documents)
            seed = seed_from_criteria(command.criteria) | command.new_document
            inserted = await self.insert(
                where, commands.Insert(collection=command.collection, documents=[seed])
            )
            (key,) = inserted.keys
            documents = inserted.documents
            if command.mutation:
                documents = await self.update(
                    where,
                    commands.Update(
                        collection=command.collection,
                        criteria={"_key": key},
                        mutation=command.mutation,
                        pointers=command.pointers,
                        mutation_pointer=command.mutation_pointer,
                    ),
                )
            return Updated(documents=documents, upserted_key=key)

    def remove_statement(self, where: Target, command: commands.Remove, ref: str) -> query.Compiled:
        """The statement of a remove, once the request has passed the consent check: the move to
        the trash under ``ref``, or the delete for good (``collection.explain`` plans this one)."""
        self._check_consent(where, command.criteria, command.pointers, command.everything)
        criteria, pointer = command.criteria, command.pointers.criteria
        if command.kind is None:
            return query.compile_delete(
                where.compiled, criteria, pointer=pointer, limits=limits(self.settings)
            )
        return query.compile_trash(
            where.compiled,
            criteria,
            ref=ref,
            kind=command.kind,
            pointer=pointer,
            limits=limits(self.settings),
        )

    async def remove(self, where: Target, command: commands.Remove) -> Removed:
        """Move the matches to the trash as ``kind`` (one statement), or delete them for good."""
        ref = uuid.uuid4().hex
        statement = self.remove_statement(where, command, ref)
        count = await repository.write(await self.session.connection(), statement)
        return Removed(ref if command.kind is not None else None, count)

    async def trashed(self, where: Target, command: commands.Trashed) -> list[bytes]:
        """``{_ref, kind, trashed_at, document}`` of each restorable entry, as JSON bytes."""
        statement = query.compile_trashed(
            where.compiled, deleted_within=self.settings.trash_retention, limit=command.limit
        )
        return await repository.trashed(await self.session.connection(), statement)

    async def restore(self, where: Target, command: commands.Restore) -> int:
        statement = query.compile_restore(
            where.compiled, command.ref, deleted_within=self.settings.trash_retention
        )
        try:
            restored = await repository.restore(await self.session.connection(), statement)
        except repository.UniqueViolation as violation:
            raise uniques.change_error(where.collection, violation.constraint) from None
        if restored == 0:
            raise NotFound(
                "Nothing to restore under this _ref: it is unknown, or older than the retention",
                details={"_ref": command.ref},
            )
        return restored
