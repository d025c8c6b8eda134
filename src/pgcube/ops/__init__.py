"""The ops of the DDO endpoint, by family (``pgcube.ops.registry``).

A new family is a module declaring its ``OPS`` and one more entry in
``FAMILIES``: the endpoint, the OpenAPI document and the tenancy walk pick it
up from ``REGISTRY``.
"""

from __future__ import annotations

from pgcube.ops import ai, auth, collection, explain, files, vectors
from pgcube.ops.registry import Answer, Body, Context, Op, Registry
from pgcube.ops.runner import execute

FAMILIES = (collection.OPS + explain.OPS, auth.OPS, files.OPS, vectors.OPS, ai.OPS)
"""The families' ops (``collection.explain`` lives in a module of its own, beside ``collection``)."""

REGISTRY = Registry(op for family in FAMILIES for op in family)

__all__ = ["REGISTRY", "Answer", "Body", "Context", "Op", "Registry", "execute"]
