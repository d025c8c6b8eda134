"""SQL/JSON path text built from IR paths. Every key is a quoted string, so
names with dots, quotes or spaces are matched literally.

The texts travel as ``$n::jsonpath`` parameters, never inside SQL text.
"""

from __future__ import annotations

import re
from typing import Any

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def string(text: str) -> str:
    """A jsonpath string literal."""
    if _NEEDS_ESCAPE.search(text) is None:
        return '"' + text + '"'
    out = []
    for ch in text:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def literal(value: Any) -> str:
    """A scalar as a jsonpath literal (negative numbers as unary minus)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return string(value)
    if isinstance(value, int):
        return str(value) if value >= 0 else f"-{-value}"
    text = repr(float(value))
    return text if not text.startswith("-") else f"-{text[1:]}"


def accessor(parts: tuple[str, ...]) -> str:
    return "".join("." + string(p) for p in parts)


def path(parts: tuple[str, ...]) -> str:
    """``$."a"."b"``: lax, MongoDB's array traversal."""
    return "$" + accessor(parts)


def mode(parts: tuple[str, ...], text: str) -> str:
    """A whole jsonpath about ``parts``: an array element itself (empty path) is matched in
    strict mode, so it is never unwrapped (MongoDB's ``$elemMatch`` on values)."""
    return text if parts else "strict " + text


def missing_or_null(parts: tuple[str, ...]) -> str:
    """True when some branch of the path is missing or null: MongoDB's ``{path: null}``.

    A branch is missing when the path stops at a non-object (a scalar, a nested
    array, an empty array) or at an object that lacks the next key.
    """
    if not parts:
        return "$ == null"
    terms = [f"!exists($.{string(parts[0])})"]
    for i in range(1, len(parts)):
        prefix = "$" + accessor(parts[:i])
        terms.append(f'exists({prefix} ? (@.type() != "object" || !exists(@.{string(parts[i])})))')
        terms.append(f"{prefix}.size() == 0")
    terms.append(f"{path(parts)} == null")
    return " || ".join(f"({t})" for t in terms)


def arrays_at(parts: tuple[str, ...]) -> str:
    """The values at ``parts`` that are arrays, as themselves (not unwrapped)."""
    if not parts:
        return 'strict $ ? (@.type() == "array")'
    key = string(parts[-1])
    return f'{_parent(parts)} ? (@.type() == "object" && @.{key}.type() == "array").{key}'


def size_is(parts: tuple[str, ...], var: str) -> str:
    if not parts:
        return f'$.type() == "array" && $.size() == {var}'
    key = string(parts[-1])
    return f'exists({_parent(parts)} ? (@.type() == "object" && @.{key}.type() == "array" && @.{key}.size() == {var}))'


def elements(parts: tuple[str, ...]) -> str:
    """The values at ``parts`` with arrays unwrapped one level (for string tests)."""
    return path(parts) + "[*]" if parts else "strict $"


def _parent(parts: tuple[str, ...]) -> str:
    return "$" + accessor(parts[:-1])
