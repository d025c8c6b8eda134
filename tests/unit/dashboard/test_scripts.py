"""The dashboard's scripts act on what the templates mark: every ``data-*`` attribute a script
reads is set by some template, so no branch of a script waits for markup that is not there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pgcube
from pgcube.dashboard.routes import TEMPLATES

SCRIPTS = sorted((Path(pgcube.__file__).parent / "static" / "dashboard").glob("*.js"))
_DATASET = re.compile(r"\.dataset\.(\w+)")
_SELECTOR = re.compile(r"\[(data-[\w-]+)")
_ATTRIBUTE = re.compile(r"""(?:get|has|set|remove)Attribute\(["'](data-[\w-]+)""")


def _kebab(name: str) -> str:
    return "data-" + re.sub(r"[A-Z]", lambda upper: "-" + upper[0].lower(), name)


def attributes_read(script: str) -> set[str]:
    return (
        {_kebab(name) for name in _DATASET.findall(script)}
        | set(_SELECTOR.findall(script))
        | set(_ATTRIBUTE.findall(script))
    )


def test_the_attributes_a_script_reads_are_found() -> None:
    assert attributes_read('el.dataset.confirmTyped; q("[data-copy]"); b.hasAttribute("data-import")') == {
        "data-confirm-typed",
        "data-copy",
        "data-import",
    }


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_every_attribute_a_script_reads_is_set_by_a_template(script: Path) -> None:
    markup = "\n".join(path.read_text() for path in TEMPLATES.glob("*.html"))
    unset = {name for name in attributes_read(script.read_text()) if not re.search(rf"\b{name}\b", markup)}
    assert not unset, f"{script.name} reads attributes no template sets: {sorted(unset)}"
