"""The named statements of ``src/pgcube/sql`` (ADR 0017): the loader's rules, and every file
against the code that runs it — no name used that a file lacks, no statement nobody runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pgcube.db import statements

SRC = Path(statements.__file__).parents[1]
LOADS = re.compile(r'^(\w+) = statements\.load\("(\w+)"\)$', re.MULTILINE)


def test_parse_strips_comments_and_the_semicolon() -> None:
    text = "-- about the file\n\n-- name: one\n-- why\nSELECT 1\nFROM t;\n\n-- name: two\nSELECT 2;\n"
    assert statements.parse(text) == {"one": "SELECT 1\nFROM t", "two": "SELECT 2"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 0;\n-- name: one\nSELECT 1", "before the first"),
        ("-- name: one\nSELECT 1\n-- name: one\nSELECT 2", "named twice"),
        ("-- name: one\n-- only a comment\n-- name: two\nSELECT 2", "empty"),
    ],
)
def test_parse_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        statements.parse(text)


def test_an_unknown_name_names_the_file() -> None:
    with pytest.raises(AttributeError, match=r"sql/auth\.sql has no statement 'nope'"):
        _ = statements.load("auth").nope


def test_every_statement_is_run_and_every_name_exists() -> None:
    used: dict[str, set[str]] = {}
    for module in SRC.rglob("*.py"):
        source = module.read_text()
        for variable, area in LOADS.findall(source):
            used.setdefault(area, set()).update(re.findall(rf"\b{variable}\.(\w+)", source))
    files = {path.stem for path in (SRC / "sql").glob("*.sql")}
    assert set(used) == files
    for area, names in used.items():
        defined = statements.load(area).names()
        assert names - defined == set(), f"sql/{area}.sql lacks {sorted(names - defined)}"
        assert defined - names == set(), f"sql/{area}.sql: nobody runs {sorted(defined - names)}"
