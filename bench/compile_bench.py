"""How long compiling a query costs, cold (render) and cached (same shape).

Run: ``.venv/bin/python bench/compile_bench.py``. Prints microseconds per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pgcube.query import SQL_CACHE, Collection, compile_find, compile_where

COLL = Collection(schema="shop_3fa9c1", table="products", fields={"price": "number", "name": "string"})
MATCH = {
    "category": "electronics",
    "price:$lte": 500,
    "tags:$in": ["a", "b"],
    "$or": [{"stock:$gt": 0}, {"pre": True}],
}


def per_call(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    def find() -> Any:
        return compile_find(COLL, MATCH, sort="price asc", limit=25, projection={"name": 1, "price": 1})

    def cold() -> Any:
        SQL_CACHE.clear()
        return find()

    find()
    print(f"compile_find, cold (parse+plan+render): {per_call(cold, 200):8.1f} µs")
    find()
    print(f"compile_find, cached shape:             {per_call(find, 5000):8.1f} µs")
    print(
        f"compile_where {{'a': 1}}, cached:         {per_call(lambda: compile_where(COLL, {'a': 1}), 20000):8.1f} µs"
    )


if __name__ == "__main__":
    main()
