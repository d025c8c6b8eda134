"""JSON typed into a page, and JSON shown in one: parsed with a message a person can act on,
shown back with the part an API error points at marked, and cut down to fit a table cell.

Every JSON field of every page goes through ``parse``: one set of rules (no key twice in an
object, no ``NaN`` or ``Infinity``, at most ``MAX_DEPTH`` levels), one error (``BadJson``), one
style of message.

The API names the bad part of a request with a JSON pointer (``error.details.pointer``, e.g.
``/match/price/$gt``); ``marked`` renders the user's value with the key and value at that
pointer wrapped in ``<mark class="pointer-mark">``, so the page shows where, not only what.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

CELL_CHARS = 60
"""A cell shows at most this many characters; its ``title`` holds the whole value."""
MAX_DEPTH = 200
"""The deepest nesting of objects and arrays a page takes. Its own walks (marking, printing,
sending the value on) recurse once a level, so a deeper value would reach Python's recursion
limit; the API's own limit (``max_json_depth``, 64 by default) is well below, so the API judges
what lies between and its message is the one shown."""


class BadJson(ValueError):
    """Text that is not the JSON a field asks for; the message says where and why."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise BadJson(f"names the key {key!r} twice in one object")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise BadJson(f"holds {name}, which JSON does not have")


def _depth(value: Any) -> int:
    """How many levels of objects and arrays ``value`` has (0 for a scalar), walked without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        inside = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if inside is not None:
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in inside)
    return deepest


def parse(text: str, what: str) -> Any:
    """``text`` as JSON; ``BadJson`` naming ``what``, the line and the column of a mistake."""
    too_deep = BadJson(f"{what} is nested too deep: more than {MAX_DEPTH} levels of objects and arrays")
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadJson(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except BadJson as exc:
        raise BadJson(f"{what} {exc}") from None
    except RecursionError:  # the decoder's own guard, a few hundred levels past MAX_DEPTH
        raise too_deep from None
    if _depth(value) > MAX_DEPTH:
        raise too_deep
    return value


def parse_object(text: str, what: str, *, example: str = '{"price": {"$gt": 10}}') -> dict[str, Any] | None:
    """A JSON object typed into a field (None when the field is empty); ``example`` is shown to
    someone who typed another kind of value."""
    if not text.strip():
        return None
    value = parse(text, what)
    if not isinstance(value, dict):
        raise BadJson(f"{what} must be a JSON object, like {example}")
    return value


def parse_sort(text: str) -> Any:
    """A sort as the API takes it: JSON (``{"price": -1}``, ``["price desc"]``) or the text itself
    (``-price``, ``price desc, _key asc``); None when empty."""
    text = text.strip()
    if not text:
        return None
    if text[0] in "{[":
        return parse(text, "The sort")
    return text


def pointer_steps(pointer: str | None, root: str) -> list[str] | None:
    """The steps of ``pointer`` below ``/root`` (``/match/price/$gt`` → ``["price", "$gt"]``);
    None when it points elsewhere."""
    if pointer is None:
        return None
    steps = [step.replace("~1", "/").replace("~0", "~") for step in pointer.split("/")[1:]]
    if not steps or steps[0] != root:
        return None
    return steps[1:]


def marked(value: Any, steps: list[str] | None) -> Markup:
    """``value`` as indented JSON; with ``steps``, the key and value they lead to (as far as they
    lead) in ``<mark class="pointer-mark">``."""
    html_text = "".join(_render(value, steps, 0))
    return Markup(html_text)  # noqa: S704  # every key and value in it went through _scalar's escape


MARK_OPEN, MARK_CLOSE = '<mark class="pointer-mark">', "</mark>"


def _scalar(value: Any) -> str:
    # Text between tags: <, > and & are escaped; quotes need not be, and stay readable.
    return html.escape(json.dumps(value, ensure_ascii=False), quote=False)


def _render(value: Any, steps: list[str] | None, depth: int) -> list[str]:
    """The JSON of ``value`` as escaped HTML pieces, marked whole when ``steps`` is ``[]`` or
    leads to nothing inside it."""
    if steps == []:
        return [MARK_OPEN, *_render(value, None, depth), MARK_CLOSE]
    items: list[tuple[str, str | None, Any]]
    if isinstance(value, dict):
        items = [(key, _scalar(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [(str(index), None, item) for index, item in enumerate(value)]
    else:
        return [MARK_OPEN, _scalar(value), MARK_CLOSE] if steps else [_scalar(value)]
    if steps and steps[0] not in {name for name, _, _ in items}:
        return [MARK_OPEN, *_render(value, None, depth), MARK_CLOSE]
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    if not items:
        return [opening + closing]
    inner = "\n" + "  " * (depth + 1)
    parts = [opening]
    for number, (name, key, item) in enumerate(items):
        below = steps[1:] if steps and steps[0] == name else None
        entry = [key, ": "] if key is not None else []
        if below == []:  # the pointer ends here: the key and its value are what it names
            entry = [MARK_OPEN, *entry, *_render(item, None, depth + 1), MARK_CLOSE]
        else:
            entry = [*entry, *_render(item, below, depth + 1)]
        parts += [inner, *entry, "," if number < len(items) - 1 else ""]
    return [*parts, "\n" + "  " * depth + closing]


@dataclass(frozen=True)
class Cell:
    """One value of a document as a table cell shows it."""

    text: str
    title: str | None
    kind: str
    """``string``, ``number``, ``boolean``, ``null``, ``json`` (an object or array), ``missing``."""


MISSING = Cell("", None, "missing")


def cell(value: Any) -> Cell:
    """Scalars as they are, objects and arrays as compact JSON; cut to ``CELL_CHARS`` with the
    whole value in the title."""
    if value is None:
        return Cell("null", None, "null")
    if isinstance(value, bool):
        return Cell("true" if value else "false", None, "boolean")
    if isinstance(value, int | float):
        return Cell(json.dumps(value), None, "number")
    if isinstance(value, str):
        full, kind = value, "string"
    else:
        full, kind = json.dumps(value, ensure_ascii=False, separators=(",", ":")), "json"
    if len(full) <= CELL_CHARS:
        return Cell(full, None, kind)
    return Cell(full[: CELL_CHARS - 1] + "…", full, kind)


SYSTEM_FIELDS = ("_key", "_userkey", "_created_at", "_modified_at")


def columns(documents: list[dict[str, Any]]) -> list[str]:
    """``_key``, then the top-level fields of the documents in the order they first appear, then
    the creation and modification times (and ``_userkey`` when some document has one)."""
    names: dict[str, None] = {}
    for document in documents:
        names.update(dict.fromkeys(name for name in document if name not in SYSTEM_FIELDS))
    tail = ["_created_at", "_modified_at"]
    if any(document.get("_userkey") is not None for document in documents):
        tail.append("_userkey")
    return ["_key", *names, *tail]


def rows(documents: list[dict[str, Any]], names: list[str]) -> list[list[Cell]]:
    return [
        [cell(document[name]) if name in document else MISSING for name in names] for document in documents
    ]


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def without_system_fields(document: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name not in SYSTEM_FIELDS}
