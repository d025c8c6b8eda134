"""The login throttle's arithmetic and its device cookies (ADR 0015), without a database."""

from __future__ import annotations

from pgcube.auth import throttle
from pgcube.auth.throttle import BucketState, Failure, Refused

SECRET = "s" * 48
ACCOUNT = throttle.account_bucket("victim@example.com", 5)
ADDRESS = throttle.address_bucket("203.0.113.7", 20)


def _state(bucket: throttle.Bucket, failures: int, last: float, blocked: float | None = None) -> BucketState:
    return BucketState(bucket.name, failures, last, blocked)


def test_the_free_failures_cost_nothing_then_each_doubles_the_delay() -> None:
    assert [throttle.delay_after(n, 5, 900) for n in range(1, 5)] == [None] * 4
    assert [throttle.delay_after(n, 5, 900) for n in range(5, 10)] == [2, 4, 8, 16, 32]
    assert throttle.delay_after(100, 5, 900) == 900
    assert throttle.delay_after(10**6, 5, 900) == 900


def test_a_blocked_bucket_refuses_without_counting() -> None:
    states = [_state(ACCOUNT, 5, 100.0, blocked=104.0), _state(ADDRESS, 2, 100.0)]
    refused = throttle.count_attempt(states, [ACCOUNT, ADDRESS], now=101.0, window=900, max_delay=900)
    assert refused == Refused(retry_after=3.0, blocked_until=104.0, free=5)


def test_an_attempt_counts_in_every_bucket_and_quiet_ones_start_over() -> None:
    states = [_state(ACCOUNT, 4, 50.0), _state(ADDRESS, 7, 100.0 - 901)]
    counted = throttle.count_attempt(states, [ACCOUNT, ADDRESS], now=100.0, window=900, max_delay=900)
    assert counted == [Failure(ACCOUNT.name, 5, 102.0), Failure(ADDRESS.name, 1, None)]


def test_a_device_cookie_is_trusted_for_its_account_only_and_only_while_live() -> None:
    cookie = throttle.issue_device_cookie(SECRET, "owner@example.com", now=1_000_000)
    nonce = cookie.split(".")[1]
    assert throttle.trusted_device(SECRET, "owner@example.com", cookie, ttl=3600, now=1_000_010) == nonce
    assert throttle.trusted_device(SECRET, "other@example.com", cookie, ttl=3600, now=1_000_010) is None
    assert throttle.trusted_device("t" * 48, "owner@example.com", cookie, ttl=3600, now=1_000_010) is None
    assert throttle.trusted_device(SECRET, "owner@example.com", cookie, ttl=3600, now=1_003_601) is None
    assert throttle.trusted_device(SECRET, "owner@example.com", cookie, ttl=3600, now=999_000) is None
    for bad in (None, "", "x", "1.2", "a.b.c", "1." + nonce + ".", cookie + "x", "9" * 300):
        assert throttle.trusted_device(SECRET, "owner@example.com", bad, ttl=3600, now=1_000_010) is None
