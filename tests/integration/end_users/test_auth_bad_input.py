"""Bad input on every ``auth.*`` op and alias: 400 in the DDO envelope, and nothing written —
the project's end-user tables and the outbox are as they were (SPEC §3, §11; RELIABILITY D5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pgcube.ops import REGISTRY
from tests.integration.end_users.conftest import PASSWORD, Project, Signed, make_project
from tests.support.accounts import Account
from tests.support.sync_pg import SyncPg

OK_EMAIL = "someone@example.com"
SIGNUP = {"email": OK_EMAIL, "password": PASSWORD}
SIGNIN = {"grant_type": "password", "email": OK_EMAIL, "password": PASSWORD}
OTP_SIGNIN = {"grant_type": "otp", "email": OK_EMAIL, "otp": "123456"}
RESET = {"intent": "change_password", "email": OK_EMAIL, "otp": "123456", "new_password": PASSWORD}

# (op, as the signed-in user?, body without op, the code expected)
CASES: list[tuple[str, bool, dict[str, Any], str]] = [
    ("auth.signup", False, {"password": PASSWORD}, "VALIDATION_ERROR"),
    ("auth.signup", False, {"email": OK_EMAIL}, "VALIDATION_ERROR"),
    ("auth.signup", False, {**SIGNUP, "email": 42}, "VALIDATION_ERROR"),
    ("auth.signup", False, {**SIGNUP, "email": "not an address"}, "VALIDATION_ERROR"),
    ("auth.signup", False, {**SIGNUP, "email": "a" * 250 + "@example.com"}, "VALIDATION_ERROR"),
    ("auth.signup", False, {**SIGNUP, "password": "short"}, "WEAK_PASSWORD"),
    ("auth.register", False, {**SIGNUP, "password": "x" * 2000}, "WEAK_PASSWORD"),
    ("auth.signup", False, {**SIGNUP, "metadata": ["not", "an", "object"]}, "VALIDATION_ERROR"),
    ("auth.signup", False, {**SIGNUP, "metadata": {"x": "y" * 17000}}, "VALIDATION_ERROR"),
    ("auth.signup", False, {**SIGNUP, "display_name": "x" * 101}, "VALIDATION_ERROR"),
    ("auth.signup", False, {**SIGNUP, "phone_number": "call me maybe"}, "VALIDATION_ERROR"),
    ("auth.register", False, {**SIGNUP, "email_verified": True}, "VALIDATION_ERROR"),
    ("auth.signup", False, {**SIGNUP, "roles": ["admin"]}, "VALIDATION_ERROR"),
    ("auth.signin", False, {"email": OK_EMAIL, "password": PASSWORD}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**SIGNIN, "grant_type": "magic"}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**SIGNIN, "grant_type": None}, "VALIDATION_ERROR"),
    ("auth.login", False, {"grant_type": "password", "email": OK_EMAIL}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**SIGNIN, "otp": "123456"}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**SIGNIN, "aud": "a b"}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**SIGNIN, "aud": "x" * 65}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**SIGNIN, "password": "p" * 300}, "VALIDATION_ERROR"),
    ("auth.signin", False, {"grant_type": "otp", "email": OK_EMAIL}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**OTP_SIGNIN, "code": "123456"}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**OTP_SIGNIN, "otp": "12ab56"}, "VALIDATION_ERROR"),
    ("auth.login", False, {**OTP_SIGNIN, "otp": "1234567"}, "VALIDATION_ERROR"),
    ("auth.signin", False, {**OTP_SIGNIN, "password": PASSWORD}, "VALIDATION_ERROR"),
    ("auth.signin", False, {"grant_type": "refresh_token"}, "VALIDATION_ERROR"),
    (
        "auth.signin",
        False,
        {"grant_type": "refresh_token", "refresh_token": "rt_x", "email": OK_EMAIL},
        "VALIDATION_ERROR",
    ),
    ("auth.refresh_token", False, {}, "VALIDATION_ERROR"),
    ("auth.refresh", False, {"refresh_token": 7}, "VALIDATION_ERROR"),
    ("auth.refresh_token", False, {"refresh_token": "rt_x", "scope": "all"}, "VALIDATION_ERROR"),
    ("auth.signout", True, {"scope": "everything"}, "VALIDATION_ERROR"),
    ("auth.signout", True, {"scope": 1}, "VALIDATION_ERROR"),
    ("auth.signout", True, {"refresh_token": "rt_x"}, "VALIDATION_ERROR"),
    ("auth.get_user", True, {"fields": ["email"]}, "VALIDATION_ERROR"),
    ("user.get", True, {"_userkey": "0" * 32}, "VALIDATION_ERROR"),
    ("auth.update_profile", True, {}, "VALIDATION_ERROR"),
    ("user.update", True, {"data": "not an object"}, "VALIDATION_ERROR"),
    ("auth.update_profile", True, {"data": {"email": "new@example.com"}}, "VALIDATION_ERROR"),
    ("auth.update_profile", True, {"display_name": "top level"}, "VALIDATION_ERROR"),
    ("auth.send_otp", False, {"email": OK_EMAIL}, "VALIDATION_ERROR"),
    ("auth.send_otp", False, {"email": OK_EMAIL, "intent": "reset"}, "VALIDATION_ERROR"),
    ("auth.request_code", False, {"intent": "signin"}, "VALIDATION_ERROR"),
    ("auth.send_otp", False, {"email": "a" * 300, "intent": "signin"}, "VALIDATION_ERROR"),
    ("auth.send_otp", False, {"email": "", "intent": "signin"}, "VALIDATION_ERROR"),
    ("auth.send_otp", True, {"email": "not an address", "intent": "change_email"}, "VALIDATION_ERROR"),
    (
        "auth.update_account",
        False,
        {k: v for k, v in RESET.items() if k != "new_password"},
        "VALIDATION_ERROR",
    ),
    ("auth.update_account", False, {**RESET, "new_password": "short"}, "WEAK_PASSWORD"),
    ("auth.change_password", False, {**RESET, "otp": "abc"}, "VALIDATION_ERROR"),
    ("auth.update_account", False, {**RESET, "intent": "change_phone"}, "VALIDATION_ERROR"),
    (
        "auth.update_account",
        True,
        {"password": PASSWORD, "new_password": PASSWORD, "email": OK_EMAIL},
        "VALIDATION_ERROR",
    ),
    ("auth.update_account", True, {"password": PASSWORD, "new_password": "short"}, "WEAK_PASSWORD"),
    ("auth.update_account", True, {"password": PASSWORD}, "VALIDATION_ERROR"),
    ("auth.update_account", True, {"intent": "change_email", "otp": "123456"}, "VALIDATION_ERROR"),
    (
        "auth.update_account",
        True,
        {"intent": "change_email", "otp": "123456", "new_email": "nope"},
        "VALIDATION_ERROR",
    ),
    (
        "auth.update_account",
        True,
        {"intent": "change_email", "new_email": OK_EMAIL, "otp": "1", "password": "x"},
        "VALIDATION_ERROR",
    ),
    ("auth.verify_email", False, {"email": OK_EMAIL}, "VALIDATION_ERROR"),
    ("auth.confirm_code", False, {"email": OK_EMAIL, "otp": "123456", "code": "123456"}, "VALIDATION_ERROR"),
    ("auth.verify_email", False, {"email": OK_EMAIL, "otp": "12345"}, "VALIDATION_ERROR"),
    ("auth.verify_email", False, {"otp": "123456"}, "VALIDATION_ERROR"),
    ("auth.verify_id_token", False, {}, "VALIDATION_ERROR"),
    ("auth.verify_id_token", False, {"id_token": ["a"]}, "VALIDATION_ERROR"),
    ("auth.settings", False, {"allow_email_signup": False}, "VALIDATION_ERROR"),
    ("auth.nonce", False, {"provider": "github"}, "VALIDATION_ERROR"),
]


class Walk:
    def __init__(self, project: Project, user: Signed) -> None:
        self.project = project
        self.user = user

    def state(self) -> Any:
        outbox = self.project.pg.fetchval("SELECT count(*) FROM pgcube.outbox")
        return self.project.tables(), outbox


@pytest.fixture(scope="module")
def walk(module_client: httpx.Client, pg: SyncPg, module_account: Account) -> Iterator[Walk]:
    project = make_project(module_client, pg, module_account)
    project.make_user(OK_EMAIL)
    yield Walk(project, project.new_user())
    project.drop()


def test_every_auth_op_name_has_a_case() -> None:
    names = {name for name in REGISTRY.names() if REGISTRY.resolve(name)[0].name.startswith("auth.")}
    assert names <= {op for op, _, _, _ in CASES}


@pytest.mark.parametrize(("op", "signed_in", "body", "code"), CASES)
def test_refused_and_nothing_written(
    walk: Walk, op: str, signed_in: bool, body: dict[str, Any], code: str
) -> None:
    project = walk.project
    before = walk.state()
    headers = project.user(walk.user.id_token) if signed_in else None
    error = project.error({"op": op, **body}, 400, code, headers)
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    assert walk.state() == before
