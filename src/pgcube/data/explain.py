"""``collection.explain`` (SPEC §10a, ADR 0026): the statement a find, count, update or delete
would send, as PostgreSQL plans it, with advice on the indexes that could serve it.

The statement comes from the document service's own compile step for that command (the same
function its method runs, checks before SQL included), so what is explained is what would run.
A read may be run too (``EXPLAIN ANALYZE``); a write is only planned — ``commands.Explain``
refuses ``analyze`` for one.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import msgspec

from pgcube import query
from pgcube.data import commands, repository
from pgcube.data.service import DocumentService, Target, limits


class Explanation(msgspec.Struct, frozen=True, kw_only=True):
    sql: str
    """The statement, with ``$n`` placeholders."""
    params: list[Any]
    """Its parameters, as JSON."""
    plan: dict[str, Any]
    """PostgreSQL's plan tree (EXPLAIN's ``"Plan"`` object)."""
    indexes: list[str]
    """The indexes the plan reads, in order of appearance."""
    rows: dict[str, Any]
    """``estimated`` (the top node's Plan Rows) and, with analyze, ``actual``."""
    advice: list[query.Advice]


async def explain(documents: DocumentService, where: Target, command: commands.Explain) -> Explanation:
    inner = command.command
    subject: dict[str, Any] = {}
    if isinstance(inner, commands.Find):
        found = documents.find_query(where.compiled, inner)
        statement = found.select
        subject = {
            "sort": inner.sort or None,
            "offset": found.offset,
            "offset_pointer": inner.pointers.page if inner.page is not None else inner.pointers.offset,
        }
    elif isinstance(inner, commands.Count):
        statement = documents.count_query(where.compiled, inner)
    elif isinstance(inner, commands.Update):
        statement = documents.update_query(where, inner).statement
    else:
        statement = documents.remove_statement(where, inner, uuid.uuid4().hex)
    explained = await repository.explain(
        await documents.session.connection(), statement, analyze=command.analyze
    )
    plan: dict[str, Any] = explained["Plan"]
    advice = query.advise(
        query.Subject(
            collection=where.compiled,
            criteria=inner.criteria,
            plan=plan,
            pointers=inner.pointers,
            index_target={"database_id": where.collection.database_id, "collection": where.collection.name},
            limits=limits(documents.settings),
            **subject,
        )
    )
    return Explanation(
        sql=statement.sql,
        params=[_as_json(value) for value in statement.params],
        plan=plan,
        indexes=query.plans.index_names(plan),
        rows=query.plans.rows(plan),
        advice=advice,
    )


def _as_json(value: Any) -> Any:
    """A parameter as JSON: jsonb values (JSON bytes) decoded, numbers as numbers, times as ISO."""
    if isinstance(value, bytes):
        return msgspec.json.decode(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_as_json(item) for item in value]
    return value
