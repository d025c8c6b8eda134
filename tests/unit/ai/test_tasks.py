"""The pure half of the ``xai.*`` ops: token budgets, the prompts, and reading the model's answers."""

from __future__ import annotations

from typing import Any

import pytest

from pgcube.ai import tasks
from pgcube.errors import AiProviderError

CATEGORIES = ["sports", "politics", "Science & Tech"]


@pytest.mark.parametrize(
    ("words", "cap", "expected"),
    [
        (None, 1024, 1024),
        (1, 1024, 18),  # ceil(4/3) + 16
        (3, 1024, 20),
        (30, 1024, 56),
        (200, 1024, 283),
        (10_000, 1024, 1024),
        (100, 50, 50),
    ],
)
def test_content_length_in_words_becomes_max_tokens(words: int | None, cap: int, expected: int) -> None:
    assert tasks.max_tokens_for(words, cap) == expected


def test_the_json_ops_ask_for_little_and_never_above_the_cap() -> None:
    assert tasks.classify(CATEGORIES, 1024).max_tokens == tasks.JSON_ANSWER_TOKENS
    assert tasks.sentiment(100).max_tokens == 100
    assert tasks.classify(CATEGORIES, 1024).temperature == 0
    assert tasks.generate(None, None, None, 1024).temperature <= 0.5


def test_the_prompts_carry_the_options() -> None:
    generate = tasks.generate(50, "formal", "No jargon", 1024).system
    assert "formal" in generate
    assert "about 50 words" in generate
    assert "No jargon" in generate
    assert "words" not in tasks.generate(None, None, None, 1024).system
    assert "into Japanese" in tasks.translate("Japanese", 1024).system
    assert '["sports", "politics", "Science & Tech"]' in tasks.classify(CATEGORIES, 1024).system
    assert '["person", "date"]' in tasks.extract(["person", "date"], 1024).system


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"label": "x"}', {"label": "x"}),
        ('  ```json\n{"label": "x"}\n```  ', {"label": "x"}),
        ('```\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ('Sure! Here it is: {"label": "x"} Hope it helps.', {"label": "x"}),
        ("[1, 2]", None),
        ("no json here", None),
        ("{broken", None),
        ("", None),
    ],
)
def test_json_object_in(text: str, expected: dict[str, Any] | None) -> None:
    assert tasks.json_object_in(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"label": "politics"}',
        '{"label": "Politics"}',
        '{"label": " politics. "}',
        "politics",
        '"POLITICS"',
        '```json\n{"label": "politics"}\n```',
    ],
)
def test_a_label_is_one_of_the_categories_spelt_as_given(text: str) -> None:
    assert tasks.read_label(text, CATEGORIES) == "politics"


def test_a_label_with_characters_of_its_own() -> None:
    assert tasks.read_label('{"label": "science & tech"}', CATEGORIES) == "Science & Tech"


@pytest.mark.parametrize(
    "text", ['{"label": "cooking"}', '{"label": 3}', '{"category": "sports"}', "sports or politics", ""]
)
def test_a_label_outside_the_categories_is_a_provider_error(text: str) -> None:
    with pytest.raises(AiProviderError, match="one of the categories") as raised:
        tasks.read_label(text, CATEGORIES)
    assert raised.value.details == {"answer": text}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"label": "positive", "score": 0.9}', {"label": "positive", "score": 0.9}),
        ('{"label": "NEGATIVE", "score": -1}', {"label": "negative", "score": -1.0}),
        ('{"label": "neutral", "score": 0}', {"label": "neutral", "score": 0.0}),
        ('{"label": "neutral", "score": "0.1"}', {"label": "neutral", "score": 0.1}),
    ],
)
def test_sentiment(text: str, expected: dict[str, Any]) -> None:
    assert tasks.read_sentiment(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("positive", "JSON object"),
        ('{"label": "happy", "score": 0.5}', "sentiment label"),
        ('{"score": 0.5}', "sentiment label"),
        ('{"label": "positive", "score": 1.5}', "score from -1 to 1"),
        ('{"label": "positive", "score": -2}', "score from -1 to 1"),
        ('{"label": "positive", "score": true}', "score from -1 to 1"),
        ('{"label": "positive", "score": null}', "score from -1 to 1"),
        ('{"label": "positive", "score": "very"}', "score from -1 to 1"),
    ],
)
def test_a_sentiment_the_op_cannot_read(text: str, message: str) -> None:
    with pytest.raises(AiProviderError, match=message):
        tasks.read_sentiment(text)


def test_entities_are_keyed_by_what_was_asked() -> None:
    answer = '{"PERSON": ["Ada", "Charles"], "place": "London", "date": null, "other": ["dropped"]}'
    assert tasks.read_entities(answer, ["person", "place", "date", "org"]) == {
        "person": ["Ada", "Charles"],
        "place": ["London"],
        "date": [],
        "org": [],
    }


def test_entity_numbers_become_strings() -> None:
    assert tasks.read_entities('{"year": [1843, "1852"]}', ["year"]) == {"year": ["1843", "1852"]}


@pytest.mark.parametrize(
    "text",
    ["Ada and Charles", '["Ada"]', '{"person": {"name": "Ada"}}', '{"person": [["Ada"]]}', '{"person": 5}'],
)
def test_entities_the_op_cannot_read(text: str) -> None:
    with pytest.raises(AiProviderError):
        tasks.read_entities(text, ["person"])


def test_text_is_trimmed_and_empty_text_is_a_provider_error() -> None:
    assert tasks.read_text("\n  Bonjour \n") == "Bonjour"
    with pytest.raises(AiProviderError, match="any text"):
        tasks.read_text("  \n")
