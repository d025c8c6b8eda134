"""The data browser of one collection: its documents page by page (keyset cursors), a match and a
sort, a JSON editor to insert and edit, and delete into the trash (with an undo). The trash and
the import have modules of their own (``trash``, ``imports``); ``PAGES`` lists theirs too.

Every read and write is a call of the public API as the signed-in account: the DDO ops
``collection.find``, ``insert``, ``update``, ``delete`` and ``restore``. What the browser shows
is all in its URL (match, sort, page size and the cursors of the pages before this one), so a
reload, the back button or a shared link shows the same page; writes post to that same URL and
answer with the page again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from markupsafe import Markup

from pgcube.dashboard import jsontext
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages import imports, trash
from pgcube.dashboard.pages.collection import (
    COLLECTION,
    Outcome,
    Where,
    collection_context,
    partial_target,
)
from pgcube.dashboard.pages.trash import restore

PAGE_SIZES = (25, 50, 100)
DEFAULT_SIZE = 50


@dataclass(frozen=True)
class View:
    """What the browser shows; all of it is in the URL."""

    match: str = ""
    sort: str = ""
    size: int = DEFAULT_SIZE
    after: tuple[str, ...] = ()
    """The cursors that led to this page, one per page before it from the second on: "next" adds
    the page's ``next_cursor``, "previous" drops the last one."""

    @property
    def cursor(self) -> str | None:
        return self.after[-1] if self.after else None

    @property
    def number(self) -> int:
        return len(self.after) + 1

    def query(self, edit: str | None = None, **changes: Any) -> str:
        """This view (with ``changes``, and the editor open on ``edit``) as a query string:
        ``?match=…&after=…``, or ``""``."""
        view = dataclasses.replace(self, **changes)
        params = [(name, value) for name, value in (("match", view.match), ("sort", view.sort)) if value]
        if view.size != DEFAULT_SIZE:
            params.append(("size", str(view.size)))
        params += [("after", cursor) for cursor in view.after]
        if edit is not None:
            params.append(("edit", edit))
        return "?" + urlencode(params) if params else ""

    def previous(self) -> str:
        return self.query(after=self.after[:-1])

    def next(self, cursor: str) -> str:
        return self.query(after=(*self.after, cursor))


def view_of(
    match: FromQuery[str] = "",
    sort: FromQuery[str] = "",
    size: FromQuery[int] = DEFAULT_SIZE,
    after: FromQuery[list[str] | None] = None,
) -> View:
    return View(match=match, sort=sort, size=size, after=tuple(after or ()))


@dataclass
class Results:
    """One page of a find, or why there is none."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    total: int | None = None
    next_cursor: str | None = None
    error: str | None = None
    pointer: str | None = None
    marked_match: Markup | None = None
    """The match, with the part the error's pointer names marked."""
    bad_sort: bool = False
    status: int = 200
    query: dict[str, Any] | None = None
    """The match and sort as the API was sent them (None when the input was not JSON)."""

    @property
    def columns(self) -> list[str]:
        return jsontext.columns(self.documents)

    @property
    def rows(self) -> list[tuple[dict[str, Any], list[jsontext.Cell]]]:
        return list(zip(self.documents, jsontext.rows(self.documents, self.columns), strict=True))


async def find_page(
    page: Page, where: Where, *, match: str, sort: str, limit: int, cursor: str | None = None
) -> Results:
    """The first page (or the page after ``cursor``) of ``collection.find`` with the match and sort
    as typed; the input's mistake, or the API's error with its pointer marked in the match."""
    try:
        criteria = jsontext.parse_object(match, "The match")
    except jsontext.BadJson as exc:
        return Results(error=str(exc), status=400)
    try:
        order = jsontext.parse_sort(sort)
    except jsontext.BadJson as exc:
        return Results(error=str(exc), bad_sort=True, status=400)
    query: dict[str, Any] = {}
    if criteria is not None:
        query["match"] = criteria
    if order is not None:
        query["sort"] = order
    body = {**query, "limit": limit} | ({"cursor": cursor} if cursor is not None else {})
    answer = await where.ddo(page, "collection.find", **body)
    if not answer.ok:
        steps = jsontext.pointer_steps(answer.pointer, "match")
        return Results(
            error=answer.message,
            pointer=answer.pointer,
            marked_match=jsontext.marked(criteria or {}, steps) if steps is not None else None,
            bad_sort=(answer.pointer or "").startswith("/sort"),
            status=answer.status,
            query=query,
        )
    pagination = (answer.body.get("meta") or {}).get("pagination") or {}
    return Results(
        documents=answer.body.get("data") or [],
        total=pagination.get("size"),
        next_cursor=pagination.get("next_cursor") if pagination.get("has_next") else None,
        query=query,
    )


@dataclass(frozen=True)
class Editor:
    """The JSON editor: a new document, or the one with ``key`` as it was at ``modified``."""

    key: str | None = None
    text: str = ""
    modified: str | None = None
    error: str | None = None
    pointer: str | None = None
    status: int = 400
    """The answer's status when there is an ``error``."""


async def _browse(
    page: Page,
    where: Where,
    view: View,
    *,
    edit: str | None = None,
    editor: Editor | None = None,
    outcome: Outcome | None = None,
) -> Template:
    target = partial_target(page)
    results = Results()
    if target != "editor":  # the editor alone needs no page of documents
        results = await find_page(
            page, where, match=view.match, sort=view.sort, limit=view.size, cursor=view.cursor
        )
    if editor is None:
        editor = await _editor_for(page, where, edit) if edit else Editor()
    context: dict[str, Any] = {"where": where} if target else await collection_context(page, where)
    outcome = outcome or Outcome()
    status = outcome.status if outcome.status >= 400 else results.status
    if editor.error is not None and status < 400:
        status = editor.status
    template = {"results": "_documents_results.html", "editor": "_document_editor.html"}.get(
        target or "", "documents.html"
    )
    return page.render(
        template,
        status_code=status,
        view=view,
        results=results,
        editor=editor,
        outcome=outcome,
        page_sizes=PAGE_SIZES,
        title=f"{where.collection} · documents",
        **context,
    )


async def _editor_for(page: Page, where: Where, key: str) -> Editor:
    document = await _document(page, where, key)
    if document is None:
        return Editor(error=f"No document has the _key {key!r}: it was deleted, or never was", status=404)
    return Editor(
        key=key,
        text=jsontext.pretty(jsontext.without_system_fields(document)),
        modified=document.get("_modified_at"),
    )


async def _document(page: Page, where: Where, key: str) -> dict[str, Any] | None:
    answer = await where.ddo(page, "collection.find", match={"_key": key}, limit=1)
    found = (answer.body or {}).get("data") or [] if answer.ok else []
    return found[0] if found else None


VIEW = {"view": Provide(view_of, sync_to_thread=False)}
CurrentView = NamedDependency[View]


@get(COLLECTION, name="dashboard:documents", dependencies=VIEW)
async def browse(
    page: CurrentPage,
    database_id: FromPath[str],
    collection: FromPath[str],
    view: CurrentView,
    edit: FromQuery[str | None] = None,
) -> Template:
    return await _browse(page, Where(database_id, collection), view, edit=edit)


@post(COLLECTION, status_code=200, dependencies=VIEW)
async def write(
    page: CurrentPage, database_id: FromPath[str], collection: FromPath[str], view: CurrentView
) -> Template:
    """Insert, save, delete or restore (the form's ``op``); the browser again, with what happened."""
    where = Where(database_id, collection)
    form = await page.form()
    op = form.get("op", "")
    if op == "insert":
        editor, outcome = await _insert(page, where, form.get("document", ""))
        return await _browse(page, where, view, editor=editor, outcome=outcome)
    if op == "save":
        editor, outcome = await _save(page, where, form)
        return await _browse(page, where, view, editor=editor, outcome=outcome)
    if op == "delete":
        return await _browse(page, where, view, outcome=await _delete(page, where, form.get("key", "")))
    if op == "restore":
        return await _browse(page, where, view, outcome=await restore(page, where, form.get("ref", "")))
    return await _browse(page, where, view, outcome=Outcome(error=f"Unknown action {op!r}", status=400))


async def _insert(page: Page, where: Where, text: str) -> tuple[Editor, Outcome]:
    try:
        document = jsontext.parse(text, "The document")
    except jsontext.BadJson as exc:
        return Editor(text=text, error=str(exc)), Outcome(status=400)
    answer = await where.ddo(page, "collection.insert", data=document)
    if not answer.ok:
        outcome = Outcome.failed(answer)
        return Editor(text=text, error=answer.message, pointer=answer.pointer), outcome
    keys = [stored.get("_key") for stored in answer.body.get("data") or []]
    notice = f"Inserted the document {keys[0]}" if len(keys) == 1 else f"Inserted {len(keys)} documents"
    return Editor(), Outcome(notice=notice)


async def _save(page: Page, where: Where, form: dict[str, str]) -> tuple[Editor, Outcome]:
    """The document becomes exactly what the editor holds: ``$set`` of its top-level fields and
    ``$unset`` of the fields it no longer has — unless someone changed it since it was opened."""
    key, text, modified = form.get("key", ""), form.get("document", ""), form.get("modified")
    kept = Editor(key=key, text=text, modified=modified)
    try:
        document = jsontext.parse_object(text, "The document") or {}
    except jsontext.BadJson as exc:
        return dataclasses.replace(kept, error=str(exc)), Outcome(status=400)
    current = await _document(page, where, key)
    if current is None:
        gone = f"No document has the _key {key!r} any more: it was deleted meanwhile"
        return dataclasses.replace(kept, error=gone), Outcome(status=404)
    if current.get("_modified_at") != modified:
        changed = (
            f"The document {key} changed since you opened it (at {current.get('_modified_at')}): "
            "open it again to edit the new version"
        )
        return dataclasses.replace(kept, error=changed), Outcome(status=409)
    removed = [name for name in jsontext.without_system_fields(current) if name not in document]
    dotted = [name for name in [*document, *removed] if "." in name]
    if dotted:
        refused = (
            f"The field {dotted[0]!r} has a dot in its name, which an update reads as a path: "
            "this editor cannot save it (rename the field, or write it through the API)"
        )
        return dataclasses.replace(kept, error=refused), Outcome(status=400)
    mutation: dict[str, Any] = {}
    if document:
        mutation["$set"] = document
    if removed:
        mutation["$unset"] = dict.fromkeys(removed, True)
    if not mutation:
        return Editor(), Outcome(notice=f"Nothing to change in {key}")
    answer = await where.ddo(page, "collection.update", match={"_key": key}, data=mutation)
    if not answer.ok:
        return dataclasses.replace(kept, error=answer.message, pointer=answer.pointer), Outcome.failed(answer)
    return Editor(), Outcome(notice=f"Saved the document {key}")


async def _delete(page: Page, where: Where, key: str) -> Outcome:
    answer = await where.ddo(page, "collection.delete", match={"_key": key})
    if not answer.ok:
        return Outcome.failed(answer)
    data = answer.body.get("data") or {}
    if not data.get("count"):
        return Outcome(error=f"No document has the _key {key!r}: nothing was deleted", status=404)
    return Outcome(notice=f"Deleted the document {key}: it is in the trash", undo=data.get("_ref"))


PAGES = [browse, write, *trash.PAGES, *imports.PAGES]
"""The pages of a collection's documents: the browser here, and its trash and import."""
