"""Rate limits shared between workers and instances (RELIABILITY E3; ADR 0008)."""

from pgcube.ratelimit.limiter import Decision, MemoryStore, RateLimiter, Store

__all__ = ["Decision", "MemoryStore", "RateLimiter", "Store"]
