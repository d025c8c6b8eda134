"""The trash of one collection: what a restore could put back (the DDO op ``collection.trashed``),
newest first, and a restore by each delete's ``_ref`` (``collection.restore``) — also the undo the
documents page offers after a delete."""

from __future__ import annotations

from collections import Counter

from litestar import get, post
from litestar.params import FromPath
from litestar.response import Template

from pgcube.dashboard import jsontext
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages.collection import COLLECTION, Outcome, Where, collection_context

TRASH_LIMIT = 200
TRASH = COLLECTION + "/trash"


async def restore(page: Page, where: Where, ref: str) -> Outcome:
    answer = await where.ddo(page, "collection.restore", _ref=ref)
    if not answer.ok:
        return Outcome.failed(answer)
    count = (answer.body.get("data") or {}).get("count", 0)
    return Outcome(notice=f"Restored {count} document{'s' if count != 1 else ''}")


async def _trash(page: Page, where: Where, outcome: Outcome | None = None) -> Template:
    context = await collection_context(page, where)
    answer = await where.ddo(page, "collection.trashed", limit=TRASH_LIMIT)
    outcome = outcome or Outcome()
    if not answer.ok:
        outcome = Outcome.failed(answer)
    entries = answer.body.get("data") or [] if answer.ok else []
    together = Counter(entry.get("_ref") for entry in entries)
    return page.render(
        "trash.html",
        status_code=outcome.status,
        entries=[
            {**entry, "cell": jsontext.cell(jsontext.without_system_fields(entry.get("document") or {}))}
            for entry in entries
        ],
        together=together,
        limit=TRASH_LIMIT,
        outcome=outcome,
        title=f"{where.collection} · trash",
        **context,
    )


@get(TRASH, name="dashboard:trash")
async def trash(page: CurrentPage, database_id: FromPath[str], collection: FromPath[str]) -> Template:
    return await _trash(page, Where(database_id, collection))


@post(TRASH, status_code=200)
async def restore_from_trash(
    page: CurrentPage, database_id: FromPath[str], collection: FromPath[str]
) -> Template:
    where = Where(database_id, collection)
    form = await page.form()
    return await _trash(page, where, await restore(page, where, form.get("ref", "")))


PAGES = [trash, restore_from_trash]
