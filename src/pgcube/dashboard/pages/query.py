"""The query page of one collection: a find's first page beside how pgcube and PostgreSQL run it —
the SQL with its parameters, the plan, the indexes it reads, the rows, and the index advice — from
the explain op (DDO ``collection.explain``), with ``EXPLAIN ANALYZE`` on request (a read only).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from litestar import get
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from markupsafe import Markup

from pgcube.dashboard import jsontext
from pgcube.dashboard.page import CurrentPage, Page
from pgcube.dashboard.pages.collection import COLLECTION, Where, collection_context, partial_target
from pgcube.dashboard.pages.documents import Results, find_page

_BACKQUOTED = re.compile(r"`([^`<>]+)`")
DEFAULT_LIMIT = 20
PLAN_DETAILS = ("Index Cond", "Recheck Cond", "Filter", "Sort Key", "Join Filter", "Hash Cond")
"""The conditions a plan node may show, in the order the page lists them."""


@dataclass
class PlanNode:
    """One node of PostgreSQL's plan as the page lists it."""

    kind: str
    relation: str | None
    index: str | None
    estimated: Any
    actual: Any
    details: list[tuple[str, str]]
    children: list[PlanNode] = field(default_factory=list)


def _number(value: Any) -> Any:
    """``12`` for ``12.0`` (PostgreSQL reports actual rows as an average per loop)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def plan_tree(node: dict[str, Any]) -> PlanNode:
    sort_key = node.get("Sort Key")
    details = [
        (name, ", ".join(sort_key) if name == "Sort Key" and isinstance(sort_key, list) else str(node[name]))
        for name in PLAN_DETAILS
        if name in node
    ]
    return PlanNode(
        kind=str(node.get("Node Type", "?")),
        relation=node.get("Relation Name"),
        index=node.get("Index Name"),
        estimated=_number(node.get("Plan Rows")),
        actual=_number(node.get("Actual Rows")),
        details=details,
        children=[plan_tree(child) for child in node.get("Plans") or [] if isinstance(child, dict)],
    )


@dataclass
class Explained:
    """The explain op's answer, or its error."""

    sql: str = ""
    params: list[Any] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    indexes: list[str] = field(default_factory=list)
    rows: dict[str, Any] = field(default_factory=dict)
    advice: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def tree(self) -> PlanNode | None:
        return plan_tree(self.plan) if self.plan else None

    @property
    def plan_json(self) -> str:
        return jsontext.pretty(self.plan)

    def param_json(self, value: Any) -> str:
        return jsontext.pretty(value)

    @staticmethod
    def message(text: str) -> Markup:
        """An advice message, its `backquoted` names as code."""
        escaped = html.escape(text, quote=False)
        return Markup(_BACKQUOTED.sub(r"<code>\1</code>", escaped))  # noqa: S704  # escaped above


async def _explain(page: Page, where: Where, body: dict[str, Any]) -> Explained:
    answer = await where.ddo(page, "collection.explain", **body)
    if not answer.ok:
        return Explained(error=answer.message)
    data = answer.body.get("data") or {}
    return Explained(
        sql=data.get("sql", ""),
        params=data.get("params") or [],
        plan=data.get("plan") or {},
        indexes=data.get("indexes") or [],
        rows=data.get("rows") or {},
        advice=data.get("advice") or [],
    )


@get(COLLECTION + "/query", name="dashboard:query")
async def query(
    page: CurrentPage,
    database_id: FromPath[str],
    collection: FromPath[str],
    match: FromQuery[str] = "",
    sort: FromQuery[str] = "",
    limit: FromQuery[int] = DEFAULT_LIMIT,
    analyze: FromQuery[bool] = False,
) -> Template:
    where = Where(database_id, collection)
    target = partial_target(page)
    results: Results = await find_page(page, where, match=match, sort=sort, limit=limit)
    explained: Explained | None = None
    if results.error is None and results.query is not None:
        # The find's own match and sort: what is explained is what ran.
        explain = {**results.query, "command": "find", "limit": limit, "analyze": analyze}
        explained = await _explain(page, where, explain)
    context: dict[str, Any] = {"where": where} if target else await collection_context(page, where)
    return page.render(
        "_query_results.html" if target == "query-results" else "query.html",
        status_code=results.status,
        match=match,
        sort=sort,
        limit=limit,
        analyze=analyze,
        results=results,
        explained=explained,
        title=f"{collection} · query",
        **context,
    )


PAGES = [query]
