"""Password rules and hashing (A1, A3)."""

from __future__ import annotations

import asyncio

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from pgcube import errors
from pgcube.auth.passwords import Passwords, check_password_rules


@pytest.mark.parametrize("password", ["1234567", "", "ｐａｓｓ", "x" * 1025, "€" * 342])
def test_rule_breakers_are_refused(password: str) -> None:
    with pytest.raises(errors.ValidationError) as raised:
        check_password_rules(password)
    assert raised.value.details == {"field": "password"}


@pytest.mark.parametrize("password", ["1234567x9", "пароль-ok", "🔑🔑🔑🔑🔑🔑🔑🔑", "x" * 1024])
def test_rule_keepers_pass(password: str) -> None:
    assert check_password_rules(password)


@pytest.mark.parametrize("password", ["12345678", "password", "PASSWORD", "ｐａｓｓｗｏｒｄ", "trustno1"])
def test_common_passwords_are_refused(password: str) -> None:
    """NIST SP 800-63B: the shipped blocklist, compared NFKC-normalised and lower-cased (ADR 0015)."""
    with pytest.raises(errors.ValidationError) as raised:
        check_password_rules(password)
    assert raised.value.details == {"field": "password", "reason": "common_password"}


def test_defaults_are_above_the_owasp_floor() -> None:
    hasher = PasswordHasher()
    assert hasher.memory_cost >= 19 * 1024
    assert hasher.time_cost >= 2
    assert hasher.memory_cost == RFC_9106_LOW_MEMORY.memory_cost


def test_hash_verify_and_rehash_decisions() -> None:
    async def scenario() -> None:
        passwords = Passwords(max_concurrent=1)
        stored = await passwords.hash("correct horse")
        assert await passwords.verify(stored, "correct horse")
        assert not await passwords.verify(stored, "wrong horse")
        assert not await passwords.verify(None, "correct horse")  # the dummy path answers False
        assert not await passwords.verify("not a hash", "correct horse")
        assert not passwords.needs_rehash(stored)
        weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("correct horse")
        assert passwords.needs_rehash(weak)
        stronger = PasswordHasher(time_cost=4, memory_cost=128 * 1024).hash("correct horse")
        assert not passwords.needs_rehash(stronger)
        assert passwords.needs_rehash("$2b$12$" + "x" * 53)  # not Argon2 at all

    asyncio.run(scenario())
