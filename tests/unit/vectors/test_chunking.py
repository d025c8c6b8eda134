"""Chunking (SPEC §13): windows of at most ``size`` characters cut at whitespace, with an overlap of
whole words; HTML to its visible text; JSON to its JSON text."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgcube.vectors.chunking import chunks, html_text, text_of

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
]


def prose(count: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(count))


def test_a_short_text_is_one_chunk() -> None:
    assert chunks("  a short note \n", 500, 40) == ["a short note"]


def test_no_text_no_chunk() -> None:
    assert chunks(" \n\t ", 500, 40) == []


def test_windows_are_cut_at_whitespace_within_the_size() -> None:
    text = prose(400)
    pieces = chunks(text, 120, 0)
    assert len(pieces) > 1
    assert all(len(piece) <= 120 for piece in pieces)
    words = set(text.split())
    assert all(set(piece.split()) <= words for piece in pieces)  # no word cut in two
    assert " ".join(pieces).split() == text.split()  # no overlap asked: every word once, in order


def shared_words(before: str, after: str) -> str:
    """The longest run of whole words that ends ``before`` and begins ``after``."""
    words = after.split(" ")
    for count in range(len(words), 0, -1):
        prefix = " ".join(words[:count])
        if before.endswith(" " + prefix):
            return prefix
    return ""


def test_each_window_starts_with_the_end_of_the_one_before() -> None:
    pieces = chunks(prose(400), 120, 30)
    for before, after in itertools.pairwise(pieces):
        overlap = shared_words(before, after)
        assert 0 < len(overlap) <= 30, (before, after)


def test_a_word_longer_than_a_window_is_cut_inside() -> None:
    assert chunks("x" * 120 + " tail", 50, 10) == ["x" * 50, "x" * 50, "x" * 20 + " tail"]


@given(st.text(alphabet=st.sampled_from("ab \n"), max_size=600), st.integers(50, 200), st.integers(0, 25))
def test_every_word_is_in_some_window_and_none_is_too_long(text: str, size: int, overlap: int) -> None:
    pieces = chunks(text, size, overlap)
    assert all(0 < len(piece) <= size for piece in pieces)
    assert set(text.split()) <= {word for piece in pieces for word in piece.split()}


def test_html_keeps_the_visible_text_only() -> None:
    markup = (
        "<html><head><title>T</title><style>p {color: red}</style></head><body>"
        "<h1>Refunds</h1><p>We refund <b>unused</b> months &amp; fees.</p>"
        "<script>alert('x')</script><p>Within 30 days.</p></body></html>"
    )
    text = html_text(markup)
    assert "alert" not in text
    assert "color" not in text
    assert text.endswith("Refunds\nWe refund unused months & fees.\nWithin 30 days.")


@pytest.mark.parametrize(
    ("content", "kind", "text"),
    [
        ("plain words", "text", "plain words"),
        ("# Title\n\nbody", "markdown", "# Title\n\nbody"),
        ({"name": "desk", "price": 120}, "json", '{"name":"desk","price":120}'),
        ('{"already": "text"}', "json", '{"already": "text"}'),
        ("<p>a</p><p>b</p>", "html", "a\nb"),
    ],
)
def test_the_text_the_embedder_reads(content: object, kind: str, text: str) -> None:
    assert text_of(content, kind) == text
