"""The operator tables: every spelling a client may send, mapped to one ``Op``.

SPEC §9.2 aliases are folded here, so later phases see a small closed set:
``$any`` is ``$in``, ``$none`` is ``$nin``, ``$includes`` is ``$eq``,
``$nincludes`` is ``$ne``; ``$between`` becomes ``$gte`` + ``$lte``.
"""

from __future__ import annotations

from pgcube.query.ir import Op

LOGICAL = frozenset({"$and", "$or", "$nor"})

QUERY_OPERATORS: dict[str, Op] = {
    "$eq": Op.EQ,
    "$ne": Op.NE,
    "$gt": Op.GT,
    "$gte": Op.GTE,
    "$lt": Op.LT,
    "$lte": Op.LTE,
    "$in": Op.IN,
    "$nin": Op.NIN,
    "$all": Op.ALL,
    "$any": Op.IN,
    "$none": Op.NIN,
    "$includes": Op.EQ,
    "$nincludes": Op.NE,
    "$exists": Op.EXISTS,
    "$regex": Op.REGEX,
    "$contains": Op.CONTAINS,
    "$icontains": Op.ICONTAINS,
    "$startswith": Op.STARTSWITH,
    "$endswith": Op.ENDSWITH,
    "$size": Op.SIZE,
    "$elemMatch": Op.ELEM_MATCH,
    "$elemmatch": Op.ELEM_MATCH,
}

BETWEEN = "$between"
REGEX_OPTIONS = "$options"

LIST_OPERATORS = frozenset({Op.IN, Op.NIN, Op.ALL})
