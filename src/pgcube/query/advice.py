"""Index advice for ``collection.explain`` (ADR 0026): what a user can change so an index serves
the query, read from the parsed criteria, the collection's declared fields and the plan.

Each rule is a function of one ``Subject`` that returns its advice; ``advise`` runs them all.
A rule speaks only when it is sure: a query that is served well gets no advice. Each piece
of advice says what to do, points (``pointer``) at the key of the request it is about, and,
where the change is a request pgcube takes, carries it as ``fix``.

Codes:

* ``UNDECLARED_RANGE`` — a range on a field that is not declared (only declared scalar fields
  have a B-tree); ``fix``: the field's declaration, its type guessed from the value;
* ``UNANCHORED_REGEX`` — ``$regex`` without ``^``, ``$contains``, ``$icontains``, ``$endswith``:
  no index serves a test inside the text;
* ``PREFIX_AS_RANGE`` — ``$startswith`` (or ``$regex`` ``^literal``) on a declared string field:
  the same test as a range reads the field's B-tree; ``fix``: the range;
* ``FULL_SCAN`` — PostgreSQL reads every document because no condition can use an index
  (negations never can), when no rule above already says why;
* ``SORT_WITHOUT_INDEX`` — PostgreSQL sorts the matches itself; ``fix``: the body of
  ``POST /api/create_index`` for a compound index (equality-matched declared fields first,
  then the sort fields);
* ``DEEP_OFFSET`` — a page deep in the results, which PostgreSQL reaches by reading and
  dropping every row before it; a cursor does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import msgspec

from pgcube.query import plans
from pgcube.query.compiler import DDO_POINTERS, Collection, Pointers
from pgcube.query.fields import ISO_PATTERN, SCALAR_TYPES, SYSTEM_COLUMNS, FieldType
from pgcube.query.ir import DEFAULT_LIMITS, RANGE_OPS, All, AnyOf, Cond, Limits, Node, NoneOf, Op
from pgcube.query.parse import parse
from pgcube.query.plan import typed_scalar
from pgcube.query.sort import parse_sort
from pgcube.query.validate import is_scalar

DEEP_OFFSET = 10_000
"""From this offset on, a page costs noticeably more than the first (DESIGN §2: 220 ms at
500,000 against 0.1 ms for a keyset page)."""
INDEXED_COLUMNS = frozenset({"_key", "_created_at"})
"""The system columns with an index of their own (the primary key; ``(_created_at, _key)``)."""
_ISO = re.compile(ISO_PATTERN, re.ASCII)
_FLAGS = re.compile(r"^\(\?[a-z]+\)")
_LITERAL_PREFIX = re.compile(r"\^([A-Za-z0-9 _-]+)")
_NEGATIONS = frozenset({Op.NE, Op.NIN})


class Advice(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: str
    message: str
    pointer: str | None = None
    """The JSON pointer of the key of the explained body this is about."""
    fix: dict[str, Any] | None = None
    """What to send instead, or to send first (see each code)."""


class Subject(msgspec.Struct, frozen=True, kw_only=True):
    """What advice is given on: the explained request's parts and the plan PostgreSQL chose."""

    collection: Collection
    criteria: Any
    plan: plans.Plan
    pointers: Pointers = DDO_POINTERS
    sort: Any = None
    """A find's sort as sent (None: none was sent, or not a find)."""
    offset: int = 0
    """Where a find's page starts (0 for a cursor page)."""
    offset_pointer: str = "/offset"
    index_target: dict[str, str] = {}
    """``database_id`` and ``collection`` of a ``POST /api/create_index`` fix."""
    limits: Limits = DEFAULT_LIMITS


class _Seen(NamedTuple):
    cond: Cond
    top: bool
    """Not inside ``$elemMatch`` (only such conditions may use a field's B-tree)."""
    conjunct: bool
    """ANDed with the whole match (not inside ``$or``, ``$nor`` or ``$elemMatch``)."""


def advise(subject: Subject) -> list[Advice]:
    """Every rule's advice on ``subject``, criteria first (in the order of their keys)."""
    tree = parse(subject.criteria, subject.pointers.criteria, subject.limits)
    seen = list(_conditions(tree))
    found: list[Advice] = []
    for item in seen:
        for cond_rule in CONDITION_RULES:
            advice = cond_rule(subject, item)
            # $between is two conditions under one key: one piece of advice.
            if advice is not None and all(a.pointer != advice.pointer for a in found):
                found.append(advice)
    for rule in PLAN_RULES:
        advice = rule(subject, tree, bool(found))
        if advice is not None:
            found.append(advice)
    return found


# --- the criteria ------------------------------------------------------------------------------


def _conditions(node: Node, top: bool = True, conjunct: bool = True) -> Iterator[_Seen]:
    if isinstance(node, Cond):
        yield _Seen(node, top, conjunct)
    elif isinstance(node, All):
        for child in node.children:
            yield from _conditions(child, top, conjunct)
    elif isinstance(node, AnyOf | NoneOf):
        for child in node.children:
            yield from _conditions(child, top, False)
    else:
        yield from _conditions(node.body, False, False)


def _name(cond: Cond) -> str:
    return ".".join(cond.path)


def _is_system(cond: Cond) -> bool:
    return len(cond.path) == 1 and cond.path[0] in SYSTEM_COLUMNS


def undeclared_range(subject: Subject, seen: _Seen) -> Advice | None:
    """A range on an undeclared field is a ``jsonb_path_match`` test of every candidate row."""
    cond = seen.cond
    if (
        cond.op not in RANGE_OPS
        or not seen.top
        or _is_system(cond)
        or cond.path in subject.collection.declared()
    ):
        return None
    kind = _guessed_type(cond.value)
    if kind is None:
        return None
    name = _name(cond)
    return Advice(
        code="UNDECLARED_RANGE",
        message=f"`{name}` is not declared: a range on it cannot use a B-tree — declare it as `{kind}`",
        pointer=cond.pointer,
        fix={"field": {"name": name, "type": kind}},
    )


def _guessed_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return FieldType.BOOLEAN.value
    if isinstance(value, int | float):
        return FieldType.NUMBER.value
    if isinstance(value, str):
        return (FieldType.DATE if _ISO.match(value) else FieldType.STRING).value
    return None


def unanchored_text(subject: Subject, seen: _Seen) -> Advice | None:
    """A test inside the text (a pattern anywhere, a substring, a suffix) reads every candidate's
    value: no index of pgcube's — or of PostgreSQL's B-tree and GIN ``jsonb_path_ops`` — serves it."""
    cond = seen.cond
    if cond.op is Op.REGEX:
        if not isinstance(cond.value, str) or _FLAGS.sub("", cond.value).startswith("^"):
            return None
        what = "`$regex` without a `^` prefix scans"
        anchor = "; if you mean a prefix, anchor the pattern with `^`"
    elif cond.op in (Op.CONTAINS, Op.ICONTAINS, Op.ENDSWITH):
        what = f"`{cond.op.value}` scans"
        anchor = ""
    else:
        return None
    return Advice(
        code="UNANCHORED_REGEX",
        message=(
            f"{what}: every candidate's `{_name(cond)}` is tested, and no index serves a test inside "
            f"the text — match whole values with `$eq` or `$in` (the GIN index) where you can, keeping "
            f"words to search by in an array field{anchor}"
        ),
        pointer=cond.pointer,
    )


def prefix_as_range(subject: Subject, seen: _Seen) -> Advice | None:
    """A prefix test on a declared string field is the range [prefix, next prefix) of its B-tree
    (its expression compares by code point, ``COLLATE "C"``), which PostgreSQL can read."""
    cond = seen.cond
    if not seen.top or subject.collection.declared().get(cond.path) is not FieldType.STRING:
        return None
    prefix = None
    if cond.op is Op.STARTSWITH and isinstance(cond.value, str):
        prefix = cond.value
    elif cond.op is Op.REGEX and isinstance(cond.value, str):
        literal = _LITERAL_PREFIX.fullmatch(cond.value)
        prefix = literal.group(1) if literal else None
    upper = _after_prefix(prefix) if prefix else None
    if prefix is None or upper is None:
        return None
    name = _name(cond)
    return Advice(
        code="PREFIX_AS_RANGE",
        message=(
            f"`{cond.op.value}` tests every candidate's `{name}`: the same test as a range "
            f"(`{name}:$gte` {msgspec.json.encode(prefix).decode()}, `{name}:$lt` "
            f"{msgspec.json.encode(upper).decode()}) reads only that part of the field's B-tree"
        ),
        pointer=cond.pointer,
        fix={"replace": {f"{name}:$gte": prefix, f"{name}:$lt": upper}},
    )


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (code point order)."""
    last = ord(prefix[-1]) + 1
    if last > 0x10FFFF or 0xD800 <= last <= 0xDFFF:
        return None
    return prefix[:-1] + chr(last)


CONDITION_RULES: tuple[Callable[[Subject, _Seen], Advice | None], ...] = (
    undeclared_range,
    unanchored_text,
    prefix_as_range,
)


# --- the plan ------------------------------------------------------------------------------------


def full_scan(subject: Subject, tree: Node, explained: bool) -> Advice | None:
    """PostgreSQL reads the whole table and no condition could have let it do otherwise (said
    only when no condition's advice already tells why)."""
    if explained or tree == All(()) or _usable(tree, subject.collection):
        return None
    if not plans.reads_whole_table(subject.plan, subject.collection.table):
        return None
    negations = any(
        item.cond.op in _NEGATIONS or (item.cond.op is Op.EXISTS and not item.cond.value)
        for item in _conditions(tree)
    ) or _has_nor(tree)
    why = " (`$ne`, `$nin`, `$nor` and `$exists: false` never can)" if negations else ""
    return Advice(
        code="FULL_SCAN",
        message=(
            f"no condition here can use an index{why}: PostgreSQL reads and tests every document — "
            "add a condition that narrows the matches and can: an equality (`$eq`, `$in`: the GIN "
            "index) or a range on a declared field (its B-tree)"
        ),
        pointer=subject.pointers.criteria,
    )


def _has_nor(node: Node) -> bool:
    if isinstance(node, NoneOf):
        return True
    if isinstance(node, All | AnyOf):
        return any(_has_nor(child) for child in node.children)
    return False


def _usable(node: Node, collection: Collection) -> bool:
    """Whether some index can narrow the rows ``node`` matches (as ``query.plan`` compiles it)."""
    if isinstance(node, All):
        return any(_usable(child, collection) for child in node.children)
    if isinstance(node, AnyOf):
        return all(_usable(child, collection) for child in node.children)
    if not isinstance(node, Cond):
        return False  # $nor, $elemMatch: never an index condition
    op, value = node.op, node.value
    if _is_system(node):
        return node.path[0] in INDEXED_COLUMNS and op in (Op.EQ, Op.IN, Op.ALL, *RANGE_OPS)
    if op is Op.EQ:
        return (value is not None and is_scalar(value)) or (isinstance(value, dict) and bool(value))
    if op in (Op.IN, Op.ALL):
        return bool(value) and all(v is not None and is_scalar(v) for v in value)
    return op in RANGE_OPS and collection.declared().get(node.path) in SCALAR_TYPES


def sort_without_index(subject: Subject, tree: Node, explained: bool) -> Advice | None:
    """PostgreSQL sorts the matches of a find whose request named a sort."""
    if subject.sort is None or not plans.sorts(subject.plan):
        return None
    declared = subject.collection.declared()
    keys = list(parse_sort(subject.sort, declared, subject.pointers.sort).keys)
    while keys and keys[-1].path == ("_key",):
        keys.pop()  # the tie-break: every index ends with _key
    if not keys:
        return None
    sorted_by = [".".join(k.path) for k in keys]
    system = [name for k, name in zip(keys, sorted_by, strict=True) if k.kind == "column"]
    undeclared = [name for k, name in zip(keys, sorted_by, strict=True) if k.kind == "json"]
    fields = [name for name in _equal_fields(tree, declared) if name not in sorted_by] + sorted_by
    fix = None
    if system:
        message = (
            f"this sort has no index: PostgreSQL sorts the matches — `{', '.join(system)}` has an index "
            "of its own, but a compound index takes declared fields only: to have this sort served "
            "with these conditions, sort by declared fields and add a compound index on them"
        )
    elif undeclared and len(fields) == 1:
        message = (
            f"this sort has no index: `{fields[0]}` is not declared — declare it, and the B-tree "
            "every declared field gets serves this sort"
        )
    elif undeclared:
        message = (
            f"this sort has no index: `{', '.join(undeclared)}` is not declared — declare it first "
            f"(indexes are on declared fields), then add a compound index on ({', '.join(fields)})"
        )
    elif len(fields) == 1:
        return None  # the field's own B-tree exists: PostgreSQL chose to sort the few matches
    else:
        message = f"this sort has no index: add a compound index on ({', '.join(fields)})"
        fix = {**subject.index_target, "fields": fields}
    return Advice(code="SORT_WITHOUT_INDEX", message=message, pointer=subject.pointers.sort, fix=fix)


def _equal_fields(tree: Node, declared: dict[tuple[str, ...], FieldType]) -> list[str]:
    """The declared fields the whole match fixes to one value with an equality a B-tree can serve,
    in the order of their keys: as the planner compiles equalities to a field's typed expression —
    a top-level string, number, integer or boolean field compared with a value of its type (a
    dotted or date field keeps the JSON test, which only GIN serves)."""
    names: dict[str, None] = {}
    for item in _conditions(tree):
        cond = item.cond
        kind = declared.get(cond.path)
        if (
            item.conjunct
            and cond.op is Op.EQ
            and len(cond.path) == 1
            and kind is not None
            and typed_scalar(kind, cond.value) is not None
        ):
            names.setdefault(_name(cond))
    return list(names)


def deep_offset(subject: Subject, tree: Node, explained: bool) -> Advice | None:
    if subject.offset < DEEP_OFFSET:
        return None
    return Advice(
        code="DEEP_OFFSET",
        message=(
            f"this page starts {subject.offset:,} rows in: PostgreSQL reads and drops every row before "
            "it, so each deeper page costs more — walk the results with `cursor` (the DDO answer's "
            "`meta.pagination.next_cursor`), whose cost does not grow with depth"
        ),
        pointer=subject.offset_pointer,
    )


PLAN_RULES: tuple[Callable[[Subject, Node, bool], Advice | None], ...] = (
    full_scan,
    sort_without_index,
    deep_offset,
)
"""Rules on the whole request (``explained``: a condition's advice was given already)."""
