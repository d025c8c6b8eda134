"""Named static SQL: the control plane's fixed statements, in ``pgcube/sql/<area>.sql``.

Each statement follows a ``-- name: <name>`` line and runs to the next one. Comment lines
are for the reader and are not sent; a trailing ``;`` is dropped. A file is read once, when
the module that names it is imported; a statement is an attribute (``SQL.fetch_database``),
and a name the file does not hold is an ``AttributeError`` naming the file. Statements whose
text depends on an identifier are built in code (``query.sql.quote_ident``), not here.
"""

from __future__ import annotations

import re
from importlib import resources

_HEADER = re.compile(r"^-- name: *([a-z_][a-z0-9_]*) *$", re.MULTILINE)


class Statements:
    __slots__ = ("_area", "_texts")

    def __init__(self, area: str, texts: dict[str, str]) -> None:
        self._area = area
        self._texts = texts

    def __getattr__(self, name: str) -> str:
        try:
            return self._texts[name]
        except KeyError:
            raise AttributeError(f"sql/{self._area}.sql has no statement {name!r}") from None

    def names(self) -> frozenset[str]:
        return frozenset(self._texts)


def parse(text: str) -> dict[str, str]:
    """Name → statement, in file order; text before the first header may only be comments."""
    parts = _HEADER.split(text)
    if _strip(parts[0]):
        raise ValueError("SQL before the first '-- name:' line")
    statements: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in statements:
            raise ValueError(f"statement {name!r} is named twice")
        statements[name] = _strip(body)
        if not statements[name]:
            raise ValueError(f"statement {name!r} is empty")
    return statements


def _strip(body: str) -> str:
    lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().removesuffix(";").rstrip()


def load(area: str) -> Statements:
    """The statements of ``pgcube/sql/<area>.sql`` (package data: found in a wheel too)."""
    text = resources.files("pgcube").joinpath("sql", f"{area}.sql").read_text(encoding="utf-8")
    return Statements(area, parse(text))
