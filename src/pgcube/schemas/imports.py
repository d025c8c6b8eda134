"""The answer of ``POST /api/import_data`` (SPEC §8, the DataCube seed).

The request is multipart/form-data, read as a stream by ``pgcube.api.imports``.
"""

from __future__ import annotations

import msgspec


class ImportAnswer(msgspec.Struct, kw_only=True):
    success: bool = True
    collection: str
    inserted_count: int
    """Documents written (in upsert mode, inserted and replaced ones together)."""
