"""Counting guesses in the throttle's buckets (``pgcube.auth.throttle``), in the caller's
transaction: the steps an account's login and an end user's sign-in or code check share.

``count_attempt`` counts the attempt *before* the secret is checked, so concurrent guesses
cannot slip past the limit (A4), and refuses it with 429 while a bucket is blocked; the
caller commits that count before it checks the password or code. ``settle_success`` gives a
right guess its count back: a bucket of one person is cleared, a shared one (an address)
only gets this attempt back.
"""

from __future__ import annotations

import math

from pgcube import errors
from pgcube.auth import throttle
from pgcube.auth.repository import AccountsRepository
from pgcube.settings import Settings


async def count_attempt(
    repo: AccountsRepository, candidates: list[throttle.Bucket], settings: Settings
) -> list[throttle.Bucket]:
    """Count one attempt in every bucket that is on; the buckets counted. ``RateLimitExceeded``
    (nothing counted) while one of them is blocked."""
    buckets = [bucket for bucket in candidates if bucket.free > 0]
    states, now = await repo.lock_buckets([bucket.name for bucket in buckets])
    counted = throttle.count_attempt(
        states, buckets, now, settings.login_failure_window, settings.login_max_delay
    )
    if isinstance(counted, throttle.Refused):
        raise errors.RateLimitExceeded(
            limit=counted.free,
            remaining=0,
            reset_at=math.ceil(counted.blocked_until),
            retry_after=max(1, math.ceil(counted.retry_after)),
        )
    await repo.record_failures(counted)
    return buckets


async def settle_success(
    repo: AccountsRepository, buckets: list[throttle.Bucket], settings: Settings
) -> None:
    """The attempt counted in ``buckets`` was right: give its count back."""
    await repo.clear_buckets([bucket.name for bucket in buckets if not bucket.shared])
    for bucket in buckets:
        if bucket.shared:
            await repo.refund_attempt(bucket.name, bucket.free)
    await repo.purge_quiet_buckets(settings.login_failure_window)
