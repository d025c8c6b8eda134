"""Rendered SQL by query shape (DESIGN §5).

The SQL text depends only on the shape (operators, structure, declared fields
used, the collection's identifiers), never on values or request paths, so one
shape always yields the same text and asyncpg's statement cache gets hits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock


class SqlCache:
    """A bounded map of SQL text (oldest entries leave first); safe to share between threads.

    Hits take no lock: a lookup is one dict read, which keeps a cached compile cheap.
    """

    def __init__(self, capacity: int = 2048) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], str]) -> str:
        found = self._items.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        text = build()
        with self._lock:
            self._items[key] = text
            if len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return text

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


SQL_CACHE = SqlCache()
