"""The one Content-Disposition of a download: ASCII, one line, and the name back through ``filename*``."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgcube.storage.disposition import MAX_NAME_CHARS, content_disposition, safe_filename

HEADER = re.compile(
    r"""^(attachment|inline); filename="([ !#-\[\]-~]*)"; filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]+)$"""
)


def parse(value: str) -> tuple[str, str, str]:
    """(type, ASCII fallback, the name from filename*) of a header built here."""
    match = HEADER.match(value)
    assert match is not None, value
    return match[1], match[2], unquote(match[3], encoding="utf-8", errors="strict")


def check_header(value: str) -> None:
    assert value.isascii()
    assert not {"\r", "\n", "\0"} & set(value)
    value.encode("latin-1")  # what an HTTP header may carry


@pytest.mark.parametrize(
    "name",
    [
        "report.pdf",
        "résumé.pdf",
        "日本語のファイル名.txt",
        "emoji 🎉👩‍💻.png",
        'say "hello".txt',
        "it's; a=b, c.txt",
        "100% sure.txt",
        "back\\slash",
        "tab\tand space",
    ],
)
def test_names_round_trip_through_filename_star(name: str) -> None:
    value = content_disposition(name, attachment=True)
    check_header(value)
    kind, fallback, decoded = parse(value)
    assert kind == "attachment"
    assert decoded == safe_filename(name)
    assert fallback.isascii()
    assert not {'"', "%"} & set(fallback)


def test_plain_ascii_names_stay_as_they_are() -> None:
    assert content_disposition("report.pdf", attachment=False) == (
        "inline; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )


def test_the_fallback_keeps_letters_without_their_accents() -> None:
    _, fallback, decoded = parse(content_disposition("Crème brûlée.txt", attachment=True))
    assert fallback == "Creme brulee.txt"
    assert decoded == "Crème brûlée.txt"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("evil\r\nSet-Cookie: a=b.txt", "evil__Set-Cookie: a=b.txt"),
        ("nul\0byte.txt", "nul_byte.txt"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("..\\windows\\win.ini", ".._windows_win.ini"),
        ("invoice\u202egpj.exe", "invoice_gpj.exe"),
        ("", "download"),
        ("  \r\n", "__"),
        ("\ud800lone surrogate", "_lone surrogate"),
    ],
)
def test_control_characters_and_paths_become_underscores(name: str, expected: str) -> None:
    value = content_disposition(name, attachment=True)
    check_header(value)
    assert parse(value)[2] == expected


def test_very_long_names_keep_their_start_and_extension() -> None:
    name = "é" * 1000 + ".jpeg"
    value = content_disposition(name, attachment=True)
    check_header(value)
    decoded = parse(value)[2]
    assert len(decoded) == MAX_NAME_CHARS
    assert decoded == "é" * (MAX_NAME_CHARS - 5) + ".jpeg"
    assert len(value) < 4096


def test_a_long_name_with_no_extension_is_cut() -> None:
    assert safe_filename("x" * 300) == "x" * MAX_NAME_CHARS
    assert safe_filename("x" * 300 + "." + "y" * 40) == ("x" * 300 + "." + "y" * 40)[:MAX_NAME_CHARS]


@given(st.text(max_size=400))
def test_any_name_gives_one_ascii_line_that_round_trips(name: str) -> None:
    for attachment in (True, False):
        value = content_disposition(name, attachment=attachment)
        check_header(value)
        kind, _, decoded = parse(value)
        assert kind == ("attachment" if attachment else "inline")
        assert decoded == safe_filename(name)
        assert 0 < len(decoded) <= MAX_NAME_CHARS
        assert not {"/", "\\"} & set(decoded)
