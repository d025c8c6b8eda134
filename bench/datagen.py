"""Seeded, reproducible product-like documents for the benchmarks.

Document ``i`` depends only on ``(seed, i)``: the same seed gives the same
collection, byte for byte, whatever ``n`` is. Its ``_key`` is ``key(i)``
(``p0000042``), so a load script can pick a random existing key without a
list; ``_created_at`` is one second apart per document, so the default sort
(``_created_at desc``) walks a real index.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

SEED = 20240611
CATEGORIES = (
    "books", "music", "garden", "toys", "kitchen", "tools", "sports", "beauty", "office", "pets",
    "shoes", "games", "baby", "health", "auto", "grocery", "jewelry", "outdoor", "video", "crafts",
)  # fmt: skip
STATUSES = ("active", "active", "active", "draft", "archived", "discontinued")
TAGS = tuple(f"tag{i:02d}" for i in range(40))
COUNTRIES = ("NO", "SE", "DK", "FI", "DE", "FR", "NL", "PL", "ES", "IT")
WORDS = (
    "steel", "linen", "oak", "compact", "deluxe", "classic", "smart", "mini", "pro", "eco",
    "travel", "family", "vintage", "solar", "quiet", "rapid", "soft", "bold", "pure", "urban",
)  # fmt: skip
PRICE_MAX = 1000
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)

# Declared fields of the benchmark collection (the "declared numeric field" is price).
FIELDS = [
    {"name": "name", "type": "string", "required": True},
    {"name": "price", "type": "number"},
    {"name": "inventory", "type": "integer"},
    {"name": "category", "type": "string"},
    {"name": "status", "type": "string"},
]

_encode = msgspec.json.encode


def key(i: int) -> str:
    return f"p{i:07d}"


def document(i: int, seed: int = SEED) -> dict[str, Any]:
    """Document ``i`` without system fields."""
    rnd = random.Random(seed * 1_000_003 + i)
    return {
        "name": f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i}",
        "price": round(rnd.uniform(1, PRICE_MAX), 2),
        "category": rnd.choice(CATEGORIES),
        "status": rnd.choice(STATUSES),
        "inventory": rnd.randrange(0, 500),
        "tags": rnd.sample(TAGS, rnd.randrange(1, 5)),
        "email": f"buyer{rnd.randrange(100_000)}@example.com",
        "supplier": {
            "name": f"{rnd.choice(WORDS)} supply",
            "country": rnd.choice(COUNTRIES),
            "rating": rnd.randrange(1, 6),
        },
    }


def created_at(i: int) -> datetime:
    return BASE_TIME + timedelta(seconds=i)


def rows(
    n: int, seed: int = SEED, start: int = 0, user_key: str | None = None
) -> Iterator[tuple[str, str | None, datetime, datetime, bytes]]:
    """Table rows ``(_key, _userkey, _created_at, _modified_at, data)`` for COPY, every one owned
    by ``user_key`` (an end user's ``_userkey``; none: the rows a server key writes)."""
    for i in range(start, start + n):
        at = created_at(i)
        yield key(i), user_key, at, at, _encode(document(i, seed))


def new_documents(n: int, seed: int = SEED + 1) -> list[dict[str, Any]]:
    """Documents for insert workloads (no ``_key``: the server makes one)."""
    return [document(1_000_000_000 + i, seed) for i in range(n)]
