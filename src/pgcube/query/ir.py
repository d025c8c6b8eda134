"""The intermediate representation both query syntaxes parse into.

A criteria object becomes a tree of ``All`` / ``AnyOf`` / ``NoneOf`` nodes
over ``Cond`` leaves. Every node keeps the JSON pointer of the key it came
from, so later phases can blame the right key.
"""

from __future__ import annotations

import enum
from typing import Any, TypeAlias

import msgspec

from pgcube import query_limits


class Op(enum.Enum):
    """The closed set of canonical query operators (aliases are folded by ``operators``)."""

    EQ = "$eq"
    NE = "$ne"
    GT = "$gt"
    GTE = "$gte"
    LT = "$lt"
    LTE = "$lte"
    IN = "$in"
    NIN = "$nin"
    ALL = "$all"
    EXISTS = "$exists"
    REGEX = "$regex"
    CONTAINS = "$contains"
    ICONTAINS = "$icontains"
    STARTSWITH = "$startswith"
    ENDSWITH = "$endswith"
    SIZE = "$size"
    ELEM_MATCH = "$elemMatch"


RANGE_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})
TEXT_OPS = frozenset({Op.REGEX, Op.CONTAINS, Op.ICONTAINS, Op.STARTSWITH, Op.ENDSWITH})


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """SPEC §9.2 limits; the caller fills them from settings."""

    max_depth: int = query_limits.MAX_DEPTH
    max_conditions: int = query_limits.MAX_CONDITIONS
    max_list_values: int = query_limits.MAX_LIST_VALUES
    max_regex_length: int = query_limits.MAX_REGEX_LENGTH
    max_page_size: int = query_limits.MAX_PAGE_SIZE
    default_page_size: int = 100


DEFAULT_LIMITS = Limits()


class Cond(msgspec.Struct, frozen=True):
    """One operator on one path. ``path`` is relative to the document (or array element)."""

    path: tuple[str, ...]
    op: Op
    value: Any
    pointer: str


class ElemMatch(msgspec.Struct, frozen=True):
    """``$elemMatch``: some element of an array at ``path`` satisfies ``body``.

    ``on_value`` is the operator form (``{"$gt": 1}``: conditions on the element
    itself, with an empty path); otherwise conditions name fields of object elements.
    """

    path: tuple[str, ...]
    body: Node
    on_value: bool
    pointer: str


class All(msgspec.Struct, frozen=True):
    children: tuple[Node, ...]


class AnyOf(msgspec.Struct, frozen=True):
    children: tuple[Node, ...]
    pointer: str = ""


class NoneOf(msgspec.Struct, frozen=True):
    children: tuple[Node, ...]
    pointer: str = ""


Node: TypeAlias = Cond | ElemMatch | All | AnyOf | NoneOf
