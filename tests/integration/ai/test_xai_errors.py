"""What the ``xai.*`` ops answer when something is wrong: the provider failing (mapped by status,
SPEC §14), the model answering what the op cannot read, bad input on every op, a credential the ops
do not take, and another tenant's database. Every one in the DDO error envelope."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.integration.ai.conftest import AI_TIMEOUT, PROVIDER_KEY, ddo_error, ddo_ok, every_name, names_of
from tests.integration.end_users.conftest import end_user_headers, project_of
from tests.support.accounts import Account, api_key_headers, create_api_key
from tests.support.openai_server import OpenAIServer
from tests.support.sync_pg import SyncPg

OPTIONS = {
    "xai.generate": {"content_length": 20},
    "xai.summarize": {"content_length": 20},
    "xai.translate": {"target_language": "German"},
    "xai.classify": {"categories": ["a", "b"]},
    "xai.extract": {"entities": ["person"]},
}
"""A valid ``options`` for each op that takes one."""


def valid_body(name: str) -> dict[str, Any]:
    """A body the op ``name`` accepts."""
    canonical = names_of(name)[0]
    if canonical == "xai.vectorize":
        return {"op": name, "user_input": ["one", "two"]}
    options = OPTIONS.get(canonical)
    return {"op": name, "user_input": "Some text", **({"options": options} if options else {})}


# --- the provider failing ---------------------------------------------------------------------


@pytest.mark.parametrize("name", every_name(vectorize=False))
def test_a_provider_error_is_a_502(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    provider.fail_with(500, {"error": {"message": "the model fell over"}})
    response = ai_client.post(f"/api/{ai_db}", json=valid_body(name), headers=module_account.headers)
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "AI_PROVIDER_ERROR"
    assert error["details"] == {"status": 500, "provider_message": "the model fell over"}
    assert PROVIDER_KEY not in response.text
    assert len(provider.requests) == 1


def test_a_stalled_provider_is_a_504_after_the_timeout(
    ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    with provider.hold():
        started = time.monotonic()
        error = ddo_error(
            ai_client, ai_db, valid_body("xai.generate"), module_account.headers, 504, "AI_TIMEOUT"
        )
        elapsed = time.monotonic() - started
    assert AI_TIMEOUT <= elapsed < AI_TIMEOUT + 5
    assert error["message"] == "The AI provider took too long to answer"
    assert len(provider.requests) == 1  # no retry of its own


def test_a_provider_429_is_the_callers_429_with_retry_after(
    ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    provider.fail_with(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "7"})
    response = ai_client.post(
        f"/api/{ai_db}", json=valid_body("xai.summarize"), headers=module_account.headers
    )
    assert response.status_code == 429, response.text
    assert response.headers["Retry-After"] == "7"
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    assert error["details"]["retry_after"] == 7
    assert len(provider.requests) == 1  # no retry of its own


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not a JSON object"),
        (b'["a list"]', "not a JSON object"),
        (b'{"choices": []}', "choices[0].message.content"),
        (b'{"choices": [{"message": {"content": null}}]}', "choices[0].message.content"),
        (b'{"choices": [{"message": {"content": 12}}]}', "choices[0].message.content"),
    ],
)
def test_a_malformed_provider_answer_is_a_502(
    raw: bytes,
    message: str,
    ai_client: httpx.Client,
    module_account: Account,
    ai_db: str,
    provider: OpenAIServer,
) -> None:
    provider.send_raw(raw)
    error = ddo_error(
        ai_client, ai_db, valid_body("xai.translate"), module_account.headers, 502, "AI_PROVIDER_ERROR"
    )
    assert message in error["message"]


@pytest.mark.parametrize(
    ("name", "model_answer", "message"),
    [
        ("xai.generate", "   ", "not any text"),
        ("xai.classify", '{"label": "c"}', "one of the categories"),
        ("xai.classify", "I cannot tell", "one of the categories"),
        ("xai.classify", '{"category": "a"}', "one of the categories"),
        ("xai.sentiment", "Quite positive!", "JSON object"),
        ("xai.sentiment", '{"label": "happy", "score": 0.5}', "sentiment label"),
        ("xai.sentiment", '{"label": "positive", "score": 3}', "score from -1 to 1"),
        ("xai.sentiment", '{"label": "positive", "score": "high"}', "score from -1 to 1"),
        ("xai.sentiment", '{"label": "positive"}', "score from -1 to 1"),
        ("xai.extract", "Ada Lovelace", "JSON object"),
        ("xai.extract", '{"person": {"name": "Ada"}}', "list of strings for 'person'"),
        ("xai.extract", '{"person": [["Ada"]]}', "list of strings for 'person'"),
    ],
)
def test_a_model_answer_the_op_cannot_read_is_a_502_that_says_so(
    name: str,
    model_answer: str,
    message: str,
    ai_client: httpx.Client,
    module_account: Account,
    ai_db: str,
    provider: OpenAIServer,
) -> None:
    provider.answer_with(model_answer)
    error = ddo_error(ai_client, ai_db, valid_body(name), module_account.headers, 502, "AI_PROVIDER_ERROR")
    assert message in error["message"]
    assert error["details"]["answer"] == model_answer[:300]


# --- bad input -------------------------------------------------------------------------------

TOO_LONG = "x" * 32_001


def without_input(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "user_input"}


def bad_inputs(name: str) -> list[tuple[str, dict[str, Any], int, str]]:
    """(label, body, status, details.field or "") for the op ``name``."""
    canonical = names_of(name)[0]
    body = valid_body(name)
    inner = {k: v for k, v in body.items() if k != "op"}  # what older clients send inside data
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("no user_input", without_input(body), 400, "user_input"),
        ("user_input null", {**body, "user_input": None}, 400, "user_input"),
        ("user_input a number", {**body, "user_input": 12}, 400, "user_input"),
        ("user_input an object", {**body, "user_input": {"text": "a"}}, 400, "user_input"),
        ("user_input and prompt", {**body, "prompt": "other"}, 400, "prompt"),
        ("a key it does not take", {**body, "collection": "items"}, 400, "collection"),
        ("user_input too long", {**body, "user_input": TOO_LONG}, 413, "user_input"),
        ("data and user_input", {**body, "data": {"user_input": "a"}}, 400, "user_input"),
        ("data not an object", {"op": name, "data": "text"}, 400, "data"),
        ("data with a key it does not take", {"op": name, "data": {**inner, "x": 1}}, 400, "data.x"),
        ("data without user_input", {"op": name, "data": without_input(inner)}, 400, "user_input"),
        (
            "data with a long user_input",
            {"op": name, "data": {**inner, "user_input": TOO_LONG}},
            413,
            "user_input",
        ),
    ]
    if canonical == "xai.vectorize":
        return [
            *cases,
            ("user_input empty", {**body, "user_input": ""}, 400, "user_input"),
            ("user_input blank", {**body, "user_input": "  "}, 400, "user_input"),
            ("an empty list", {**body, "user_input": []}, 400, "user_input"),
            ("an empty string in the list", {**body, "user_input": ["a", ""]}, 400, "user_input[1]"),
            ("a number in the list", {**body, "user_input": ["a", 3]}, 400, "user_input[1]"),
            ("over 1000 texts", {**body, "user_input": ["t"] * 1001}, 400, "user_input"),
            ("a text too long in the list", {**body, "user_input": ["a", TOO_LONG]}, 413, "user_input[1]"),
            ("options", {**body, "options": {}}, 400, "options"),
        ]
    cases += [
        ("user_input empty", {**body, "user_input": ""}, 400, "user_input"),
        ("user_input blank", {**body, "user_input": " \n "}, 400, "user_input"),
        ("user_input a list", {**body, "user_input": ["a"]}, 400, "user_input"),
        ("options a list", {**body, "options": ["a"]}, 400, "options"),
        (
            "an option it does not take",
            {**body, "options": {**body.get("options", {}), "x": 1}},
            400,
            "options.x",
        ),
    ]
    if canonical == "xai.sentiment":
        cases[-2:] = [("options", {**body, "options": {}}, 400, "options")]
    if canonical in ("xai.generate", "xai.summarize"):
        for bad in (0, -1, 10_001, "ten", True, 2.5):
            cases.append(
                (
                    f"content_length {bad!r}",
                    {**body, "options": {"content_length": bad}},
                    400,
                    "options.content_length",
                )
            )
    if canonical == "xai.generate":
        cases += [
            (
                "content_style a number",
                {**body, "options": {"content_style": 5}},
                400,
                "options.content_style",
            ),
            (
                "custom_instructions too long",
                {**body, "options": {"custom_instructions": "x" * 2001}},
                400,
                "options.custom_instructions",
            ),
        ]
    if canonical == "xai.translate":
        cases += [
            ("no options", {k: v for k, v in body.items() if k != "options"}, 400, "options.target_language"),
            ("no target_language", {**body, "options": {}}, 400, "options.target_language"),
            (
                "target_language empty",
                {**body, "options": {"target_language": ""}},
                400,
                "options.target_language",
            ),
            (
                "target_language blank",
                {**body, "options": {"target_language": "  "}},
                400,
                "options.target_language",
            ),
        ]
    for key, option in (("xai.classify", "categories"), ("xai.extract", "entities")):
        if canonical == key:
            field = f"options.{option}"
            cases += [
                ("no options", {k: v for k, v in body.items() if k != "options"}, 400, field),
                (f"no {option}", {**body, "options": {}}, 400, field),
                (f"{option} empty", {**body, "options": {option: []}}, 400, field),
                (f"{option} a string", {**body, "options": {option: "a"}}, 400, field),
                (f"a blank one of {option}", {**body, "options": {option: ["a", " "]}}, 400, f"{field}[1]"),
                (f"an empty one of {option}", {**body, "options": {option: ["a", ""]}}, 400, f"{field}[1]"),
                (f"a number in {option}", {**body, "options": {option: ["a", 3]}}, 400, f"{field}[1]"),
                (f"51 {option}", {**body, "options": {option: [f"c{i}" for i in range(51)]}}, 400, field),
            ]
    return cases


@pytest.mark.parametrize("name", every_name())
def test_bad_input_is_refused_before_the_provider_is_called(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    problems = []
    for label, body, status, field in bad_inputs(name):
        response = ai_client.post(f"/api/{ai_db}", json=body, headers=module_account.headers)
        answer = response.json()
        if response.status_code != status or set(answer) != {"error"}:
            problems.append(f"{label}: {response.status_code} {response.text[:200]}")
            continue
        error = answer["error"]
        expected_code = "PAYLOAD_TOO_LARGE" if status == 413 else "VALIDATION_ERROR"
        if error["code"] != expected_code or not error["message"] or error["details"].get("field") != field:
            problems.append(f"{label}: {error}")
    assert not problems, "\n".join(problems)
    assert provider.requests == []


@pytest.mark.parametrize("name", ["xai.generate", "xai.vectorize"])
def test_32000_characters_are_taken(
    name: str, ai_client: httpx.Client, module_account: Account, ai_db: str, provider: OpenAIServer
) -> None:
    text = "word " * 6400
    assert len(text) == 32_000
    answer = ddo_ok(ai_client, ai_db, {"op": name, "user_input": text}, module_account.headers)
    assert answer["data"]["output"]


# --- credentials and tenancy -----------------------------------------------------------------


@pytest.mark.parametrize("name", every_name())
def test_an_anonymous_web_key_is_refused(
    name: str,
    ai_client: httpx.Client,
    module_client: httpx.Client,
    module_account: Account,
    pg: SyncPg,
    ai_db: str,
    provider: OpenAIServer,
) -> None:
    web = project_of(module_client, pg, module_account, ai_db).web
    error = ddo_error(ai_client, ai_db, valid_body(name), web, 403, "FORBIDDEN")
    assert name.split(".")[0] in error["message"] or "xai." in error["message"]
    assert provider.requests == []


def test_a_signed_in_end_user_and_a_server_key_may_call(
    ai_client: httpx.Client,
    module_client: httpx.Client,
    module_account: Account,
    pg: SyncPg,
    ai_db: str,
    provider: OpenAIServer,
) -> None:
    end_user = end_user_headers(module_client, pg, module_account, ai_db)
    server_key = api_key_headers(create_api_key(module_client, module_account, database_id=ai_db))
    for headers in (end_user, server_key):
        answer = ddo_ok(ai_client, ai_db, {"op": "genai.gentext", "user_input": "Hi"}, headers)
        assert answer["data"] == {"output": "echo max_tokens=1024: Hi"}
        assert ddo_ok(ai_client, ai_db, {"op": "xai.vectorize", "user_input": "Hi"}, headers)["data"][
            "output"
        ]
    assert len(provider.requests) == 2


@pytest.mark.parametrize("name", every_name())
def test_another_tenants_database_is_not_found(
    name: str,
    ai_client: httpx.Client,
    module_account: Account,
    other_account: Account,
    ai_db: str,
    provider: OpenAIServer,
) -> None:
    error = ddo_error(ai_client, ai_db, valid_body(name), other_account.headers, 404, "DATABASE_NOT_FOUND")
    unknown = ddo_error(
        ai_client, "0" * 24, valid_body(name), module_account.headers, 404, "DATABASE_NOT_FOUND"
    )
    assert error == unknown
    assert provider.requests == []
