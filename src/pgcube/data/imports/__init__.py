"""Bulk import (SPEC §8): ``import_upload`` streams an upload into a collection.

* ``reader`` — pure: gzip detection, array vs NDJSON, one document at a time;
* ``naming`` — a collection name from an uploaded file's name;
* ``staging`` — the SQL: a temporary staging table, COPY, the move, the quota's estimate;
* ``slots`` — how many imports run at once, per account and in all;
* ``service`` — the import itself, all or nothing, within its limits.
"""

from pgcube.data.imports.naming import collection_name_from_filename
from pgcube.data.imports.service import ImportMode, ImportRequest, import_documents, import_upload
from pgcube.data.imports.slots import ImportSlots

__all__ = [
    "ImportMode",
    "ImportRequest",
    "ImportSlots",
    "collection_name_from_filename",
    "import_documents",
    "import_upload",
]
