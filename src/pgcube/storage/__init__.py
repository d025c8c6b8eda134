"""Where file bytes live: one object store, on the local disk or S3-compatible (SPEC §12, ADR 0021).

``FileStore`` speaks to both through obstore with one API; only presigning
differs (``presign``); ``disposition`` names a download the same way on both. Nothing here knows databases, principals or HTTP.
"""

from pgcube.storage.disposition import content_disposition, safe_filename
from pgcube.storage.presign import Presigner
from pgcube.storage.store import FileStore, ObjectInfo, Written, open_store

__all__ = [
    "FileStore",
    "ObjectInfo",
    "Presigner",
    "Written",
    "content_disposition",
    "open_store",
    "safe_filename",
]
