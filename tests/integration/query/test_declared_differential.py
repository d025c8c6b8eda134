"""Declared fields on mixed data: PostgreSQL's rows, in order, == the reference model.

Random documents whose declared ``number``, ``integer``, ``string``, ``boolean``, ``date``
and ``datetime`` fields hold values of every scalar type (loaded straight into the table: the
API would refuse most of them, but the typed expressions must still give the documented
answers), random ranges and equalities in both query syntaxes, random sorts (several keys, both directions,
ties broken by ``_key``). The model is
``reference.matches_declared`` and ``reference.sort_documents`` (docs/query-language.md).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from pgcube.errors import InvalidQuery
from pgcube.query import Collection, compile_find
from tests.integration.query import reference
from tests.integration.query.support import create_collection, insert
from tests.support.sync_pg import SyncPg

DECLARED = {
    "price": "number",
    "qty": "integer",
    "name": "string",
    "flag": "boolean",
    "day": "date",
    "at": "datetime",
    "info.rank": "number",
}
UNDECLARED = "free"
RANGE_OPS = ["$gt", "$gte", "$lt", "$lte"]

# --- values ---------------------------------------------------------------------------------
NUMBERS = st.sampled_from([-2, -1, 0, 1, 1.0, 1.5, 2, 2.5, 3, 10])
STRINGS = st.sampled_from(["", "a", "B", "b", "ab", "é", "Z", "10", "2", "true"])
NON_ISO = st.sampled_from(
    ["yesterday", "2024/01/05", "2024-1-5", "05-01-2024", "2024-01-05T10", "2024-01-05T10:00+2"]
)
_INSTANTS = [  # UTC; some equal after an offset is applied to another
    datetime.datetime(2024, 1, 5, 0, 0),
    datetime.datetime(2024, 1, 5, 8, 0),
    datetime.datetime(2024, 1, 4, 22, 0),
    datetime.datetime(2023, 12, 31, 23, 59, 59, 500000),
    datetime.datetime(2024, 2, 29, 12, 30),
    datetime.datetime(1999, 12, 31, 0, 0),
]


@st.composite
def iso_strings(draw: st.DrawFn) -> str:
    """An instant of ``_INSTANTS`` in one of the ISO 8601 spellings pgcube accepts."""
    base = draw(st.sampled_from(_INSTANTS))
    minutes = draw(st.sampled_from([0, 0, 120, -300, 330, -60]))
    local = base + datetime.timedelta(minutes=minutes)
    if minutes == 0 and local.time() == datetime.time(0) and draw(st.booleans()):
        return local.strftime("%Y-%m-%d")  # a date alone: midnight UTC
    text = local.strftime("%Y-%m-%d") + draw(st.sampled_from("TtT ")) + local.strftime("%H:%M")
    if local.second or local.microsecond or draw(st.booleans()):
        text += local.strftime(":%S")
        if local.microsecond:
            text += "." + f"{local.microsecond:06d}".rstrip("0")
    hours, rest = divmod(abs(minutes), 60)
    sign = "-" if minutes < 0 else "+"
    spellings = [f"{sign}{hours:02d}:{rest:02d}", f"{sign}{hours:02d}{rest:02d}"]
    if rest == 0:
        spellings.append(f"{sign}{hours:02d}")
    if minutes == 0:
        spellings += ["Z", "z", ""]
    return text + draw(st.sampled_from(spellings))


SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS, iso_strings(), NON_ISO)
OWN_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "number": NUMBERS,
    "integer": st.integers(-3, 3),
    "string": STRINGS,
    "boolean": st.booleans(),
    "date": iso_strings(),
    "datetime": iso_strings(),
}


def field_values(kind: str | None) -> st.SearchStrategy[Any]:
    """Mostly the declared type, often any other scalar (or null)."""
    return (
        SCALARS if kind is None else st.one_of(OWN_VALUES[kind], OWN_VALUES[kind], OWN_VALUES[kind], SCALARS)
    )


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name in ["price", "qty", "name", "flag", "day", "at", UNDECLARED]:
        if draw(st.integers(0, 5)):  # a sixth of the fields are missing
            doc[name] = draw(field_values(DECLARED.get(name)))
    info = draw(
        st.one_of(
            st.just(reference.MISSING),
            st.builds(lambda r: {"rank": r}, field_values("number")),
            st.just({}),
            SCALARS,
        )
    )
    if info is not reference.MISSING:
        doc["info"] = info
    return doc


# --- queries --------------------------------------------------------------------------------
@st.composite
def conditions(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """(field, {op: value, ...}) with range operators or ``$eq``; both bounds of one type, mostly the
    field's own (on date/datetime fields: ISO 8601 strings, null, or a value to refuse)."""
    field = draw(st.sampled_from([*DECLARED, UNDECLARED]))
    kind = DECLARED.get(field)
    others = [NUMBERS, STRINGS, st.booleans(), iso_strings(), NON_ISO]
    if kind is None:
        value = draw(st.sampled_from(others))
    elif kind in reference.DATE_KINDS:
        value = draw(
            st.sampled_from([iso_strings()] * 6 + [st.one_of(st.none(), iso_strings()), NON_ISO, NUMBERS])
        )
    else:
        value = draw(st.sampled_from([OWN_VALUES[kind]] * 12 + others))
    if not draw(st.integers(0, 9)):
        value = st.one_of(st.none(), value)
    shape = draw(st.sampled_from(["one", "one", "two", "between", "eq"]))
    if shape == "eq":  # on a top-level declared string/number/boolean field: its typed expression
        return field, {"$eq": draw(value)}
    if shape == "one":
        return field, {draw(st.sampled_from(RANGE_OPS)): draw(value)}
    if shape == "two":
        return field, {
            draw(st.sampled_from(["$gt", "$gte"])): draw(value),
            draw(st.sampled_from(["$lt", "$lte"])): draw(value),
        }
    return field, {"$between": [draw(value), draw(value)]}


@st.composite
def queries(draw: st.DrawFn) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """A combinator ("" = the keys of one object) and its conditions."""
    logic = draw(st.sampled_from(["", "", "", "$and", "$or", "$or", "$nor"]))
    if not logic:  # the keys of one object on distinct fields; sometimes none: every document
        size = draw(st.sampled_from([0, 1, 1, 1, 2]))
        return logic, draw(st.lists(conditions(), min_size=size, max_size=size, unique_by=lambda c: c[0]))
    return logic, draw(st.lists(conditions(), min_size=1, max_size=3))


def render(query: tuple[str, list[tuple[str, dict[str, Any]]]], ddo: bool) -> dict[str, Any]:
    """The DDO syntax (``"price:$gt": 5``) or MongoDB's (``{"price": {"$gt": 5}}``)."""
    logic, conds = query

    def one(field: str, cond: dict[str, Any]) -> dict[str, Any]:
        return {f"{field}:{op}": v for op, v in cond.items()} if ddo else {field: dict(cond)}

    if logic:
        return {logic: [one(f, c) for f, c in conds]}
    out: dict[str, Any] = {}
    for field, cond in conds:
        out.update(one(field, cond))
    return out


def mongo_form(query: tuple[str, list[tuple[str, dict[str, Any]]]]) -> dict[str, Any]:
    return render(query, ddo=False)


def refused(query: tuple[str, list[tuple[str, dict[str, Any]]]]) -> bool:
    """A range on a date/datetime field whose value is neither null nor an ISO 8601 string."""
    for field, cond in query[1]:
        if DECLARED.get(field) in reference.DATE_KINDS:
            for op, arg in cond.items():
                if op == "$eq":  # equality is JSON equality, whatever the value
                    continue
                for v in arg if op == "$between" else [arg]:
                    if v is not None and (not isinstance(v, str) or reference.instant(v) is None):
                        return True
    return False


SORT_PATHS = [*DECLARED, UNDECLARED, "_key"]
SORTS = st.integers(0, 5).flatmap(  # a fifth of the cases: no sort (the default, _created_at desc)
    lambda n: st.lists(
        st.tuples(st.sampled_from(SORT_PATHS), st.booleans()),
        min_size=min(n, 1),
        max_size=min(n, 3),
        unique_by=lambda k: k[0],
    )
)


def sort_spec(keys: list[tuple[str, bool]], style: int) -> Any:
    """One of the documented spellings of a sort."""
    if not keys:
        return None
    if style == 0:
        return ", ".join(f"{p} {'desc' if d else 'asc'}" for p, d in keys)
    if style == 1:
        return [f"-{p}" if d else p for p, d in keys]
    return {p: -1 if d else 1 for p, d in keys}


# --- the test -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def table(pg: SyncPg, schema: str) -> Collection:
    return create_collection(pg, schema, "declared", DECLARED)


def fetch_keys(pg: SyncPg, table: Collection, match: dict[str, Any], sort: Any) -> list[str]:
    """Every matching ``_key``, in the order of the page."""
    q = compile_find(table, match, sort=sort, limit=1000, count=False)
    return [SyncPg.json(r["doc"])["_key"] for r in pg.fetch(q.select.sql, *q.select.params)]


def fetch_keys_by_cursor(pg: SyncPg, table: Collection, match: dict[str, Any], sort: Any) -> list[str]:
    """Every matching ``_key`` through pages of 3 walked with ``next_cursor`` (keyset pagination):
    the pages must neither repeat nor skip a document."""
    keys: list[str] = []
    cursor = None
    for _ in range(100):
        q = compile_find(table, match, sort=sort, limit=3, cursor=cursor, count=False)
        rows = pg.fetch(q.select.sql, *q.select.params)
        keys += [SyncPg.json(r["doc"])["_key"] for r in rows[:3]]
        if len(rows) <= 3:
            return keys
        cursor = q.next_cursor(rows[2]["cursor"])
    raise AssertionError(f"the cursor pages never ended: {keys[:12]}…")


@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    docs=st.lists(documents(), min_size=6, max_size=16),
    cases=st.lists(st.tuples(queries(), SORTS, st.integers(0, 2)), min_size=1, max_size=3),
)
def test_declared_fields_agree_with_the_model(
    pg: SyncPg,
    table: Collection,
    docs: list[dict[str, Any]],
    cases: list[tuple[tuple[str, list[tuple[str, dict[str, Any]]]], list[tuple[str, bool]], int]],
) -> None:
    note(f"docs={docs!r}")
    pg.execute(f'TRUNCATE "{table.schema}"."{table.table}"')
    keys = insert(pg, table, docs)  # k00000 is the newest: the default sort's first
    by_key = dict(zip(keys, docs, strict=True))
    for query, sort_keys, style in cases:
        if refused(query):
            for ddo in (True, False):
                with pytest.raises(InvalidQuery):
                    compile_find(table, render(query, ddo))
            continue
        chosen = {
            k: d for k, d in by_key.items() if reference.matches_declared(d, mongo_form(query), DECLARED)
        }
        expected = reference.sort_documents(chosen, sort_keys, DECLARED) if sort_keys else sorted(chosen)
        sort = sort_spec(sort_keys, style)
        note(f"query={mongo_form(query)} sort={sort} expected={expected}")
        for ddo in (True, False):
            match = render(query, ddo)
            got = fetch_keys(pg, table, match, sort)
            assert got == expected, f"match={match} sort={sort}"
            assert fetch_keys_by_cursor(pg, table, match, sort) == expected, f"cursor pages: {match} {sort}"
