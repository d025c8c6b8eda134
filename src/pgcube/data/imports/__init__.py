"""Bulk import (SPEC §8): ``import_documents`` streams an upload into a collection.

* ``reader`` — pure: gzip detection, array vs NDJSON, one document at a time;
* ``naming`` — a collection name from an uploaded file's name;
* ``staging`` — the SQL: a temporary staging table, COPY, the move;
* ``service`` — the import itself, all or nothing.
"""

from pgcube.data.imports.naming import collection_name_from_filename
from pgcube.data.imports.service import ImportMode, import_documents

__all__ = ["ImportMode", "collection_name_from_filename", "import_documents"]
