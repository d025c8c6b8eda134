"""Reading PostgreSQL's plans (``EXPLAIN (FORMAT JSON)``): the nodes, the indexes they use, the rows.

A plan is the ``"Plan"`` object of EXPLAIN's answer: a tree of nodes, each with its
``"Node Type"`` and its children under ``"Plans"`` (init plans and sub plans first, then
the outer and inner inputs — EXPLAIN's own order).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Plan = dict[str, Any]

INDEX_SCANS = frozenset({"Index Scan", "Index Only Scan", "Bitmap Index Scan"})
"""The node types that read an index (``"Index Name"``)."""
SORTS = frozenset({"Sort", "Incremental Sort"})


def nodes(plan: Plan) -> Iterator[Plan]:
    """Every node of the plan, depth first, in EXPLAIN's order."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def index_names(plan: Plan) -> list[str]:
    """The distinct indexes the plan reads, in order of appearance."""
    found = (node["Index Name"] for node in nodes(plan) if node.get("Node Type") in INDEX_SCANS)
    return list(dict.fromkeys(found))


def sorts(plan: Plan) -> bool:
    """Whether PostgreSQL sorts rows itself (no index gave them in order)."""
    return any(node.get("Node Type") in SORTS for node in nodes(plan))


def reads_whole_table(plan: Plan, table: str) -> bool:
    """Whether the plan reads every row of ``table`` (a sequential scan)."""
    return any(
        node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == table for node in nodes(plan)
    )


def rows(plan: Plan) -> dict[str, Any]:
    """``{"estimated": <the top node's Plan Rows>, "actual": <its Actual Rows>}`` (``actual`` only
    when the plan was run: EXPLAIN ANALYZE)."""
    counted: dict[str, Any] = {"estimated": plan.get("Plan Rows")}
    if "Actual Rows" in plan:
        actual = plan["Actual Rows"]  # PostgreSQL 18 writes it with decimals (11.00): per loop
        counted["actual"] = int(actual) if float(actual).is_integer() else actual
    return counted
