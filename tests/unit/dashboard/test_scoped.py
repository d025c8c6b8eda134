"""What the pages of a database share: the one rule for a database that is gone (the API's error
code, not its status), and URLs that keep a typed id in its segment."""

from __future__ import annotations

import pytest

from pgcube.dashboard.client import Answer
from pgcube.dashboard.pages.collection import Where
from pgcube.dashboard.pages.scoped import Refused, database_url, part, refuse_missing_database


def _refusal(status: int, code: str, message: str) -> Answer:
    return Answer(status=status, body={"error": {"code": code, "message": message}})


def test_a_missing_database_is_the_error_page_with_the_api_s_status_and_message() -> None:
    with pytest.raises(Refused) as raised:
        refuse_missing_database(_refusal(404, "DATABASE_NOT_FOUND", "Database not found"))
    assert (raised.value.status_code, raised.value.detail) == (404, "Database not found")


@pytest.mark.parametrize(
    "answer",
    [
        _refusal(404, "COLLECTION_NOT_FOUND", "Collection not found"),
        _refusal(404, "NOT_FOUND", "Document not found"),
        _refusal(400, "INVALID_QUERY", "Unknown operator"),
        Answer(status=200, body={"data": []}),
    ],
)
def test_any_other_answer_is_the_page_s_to_show(answer: Answer) -> None:
    assert refuse_missing_database(answer) is answer


def test_a_typed_id_stays_one_segment_of_the_urls_built_from_it() -> None:
    assert part("a?b/c#d e") == "a%3Fb%2Fc%23d%20e"
    assert database_url("6b0e?x=1") == "/databases/6b0e%3Fx%3D1"
    assert Where("d/b", "c?1").base == "/databases/d%2Fb/collections/c%3F1"
