"""The file object of SPEC §12, and the rules on a file's name, type and size.

A row of ``_files`` holds the object without its ``url`` (signed per answer:
it expires); ``answer`` builds what a client sees. ``filesize`` is stored as a
number (``file.list`` compares sizes as numbers) and answered as a string, as
the seed's source shows. Older clients read ``filetype`` and ``info``: each
answer carries both names of those two fields.
"""

from __future__ import annotations

import enum
import fnmatch
import mimetypes
import re
import secrets
import unicodedata
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from pgcube.data.service import Target, compiler_view
from pgcube.errors import InvalidFileType, ValidationError
from pgcube.management.models import FILES_TABLE, Collection, Database, FieldSpec, FieldType
from pgcube.principal import Principal

MAX_FILENAME_CHARS: Final = 255
MAX_FOLDER_CHARS: Final = 200
DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"
_FOLDER_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
ACTIVE_TYPES: Final = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/x-javascript",
    }
)
"""Types a browser runs script from: served as attachments under ``CSP: sandbox`` (SPEC §12)."""


class Status(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class Acl(enum.StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"


class StoredFile(msgspec.Struct, frozen=True, kw_only=True):
    """A row of ``_files``: the system fields and the object as stored."""

    key: str
    userkey: str | None
    created_at: datetime
    modified_at: datetime
    data: dict[str, Any]

    @property
    def object_key(self) -> str:
        value: str = self.data["object_key"]
        return value

    @property
    def filename(self) -> str:
        value: str = self.data["filename"]
        return value

    @property
    def content_type(self) -> str:
        value: str = self.data.get("content_type") or DEFAULT_CONTENT_TYPE
        return value

    @property
    def status(self) -> Status:
        return Status(self.data["status"])

    @property
    def is_public(self) -> bool:
        return self.data.get("acl") == Acl.PUBLIC

    @property
    def size(self) -> int:
        return int(self.data.get("filesize") or 0)

    def answer(self, url: str) -> dict[str, Any]:
        """The file object of SPEC §12, with ``url`` and both names of the aliased fields."""
        data = self.data
        metadata = data.get("metadata") or {}
        return {
            "_key": self.key,
            "url": url,
            "filename": data["filename"],
            "filesize": str(data.get("filesize") or 0),
            "fileclass": data.get("fileclass"),
            "filetype": data.get("fileclass"),
            "content_type": data.get("content_type"),
            "acl": data.get("acl", Acl.PRIVATE.value),
            "object_key": data["object_key"],
            "folder": data.get("folder"),
            "metadata": metadata,
            "info": metadata,
            "image_variants": data.get("image_variants") or {},
            "status": data["status"],
            "sha256": data.get("sha256"),
            "_userkey": self.userkey,
            "_created_at": _instant(self.created_at),
            "_modified_at": _instant(self.modified_at),
        }


def _instant(moment: datetime) -> str:
    """A system time as documents show theirs (``query.fields.ISO_FORMAT``: UTC, milliseconds)."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def new_file_key() -> str:
    """A file's ``_key``: 24 random hex digits (like a document's)."""
    return secrets.token_hex(12)


def check_filename(filename: str | None, *, field: str = "filename") -> str:
    """The name a client gave its file, as it will be shown and served: 1 to 255 characters, no
    control characters (NUL, CR, LF, ...), no path. The name never reaches a path on disk: the
    bytes live under the file's ``_key``."""
    if filename is None or filename == "":
        raise ValidationError(f"Missing required field: {field}", details={"field": field})
    name = unicodedata.normalize("NFC", filename)
    if len(name) > MAX_FILENAME_CHARS:
        raise ValidationError(
            f"{field} is longer than {MAX_FILENAME_CHARS} characters", details={"field": field}
        )
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        raise ValidationError(f"{field} holds a control character", details={"field": field})
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ValidationError(f"{field} is a name, not a path: no / or \\", details={"field": field})
    return name


def check_folder(folder: str | None) -> str | None:
    """A ``folder`` for grouping files: segments of letters, digits, ``.``, ``_`` and ``-`` joined
    by ``/`` (no ``..``, no empty segment); it becomes part of the object key."""
    if folder is None or folder.strip("/") == "":
        return None
    folder = folder.strip("/")
    segments = folder.split("/")
    if len(folder) > MAX_FOLDER_CHARS or not all(
        _FOLDER_SEGMENT.fullmatch(segment) and segment not in (".", "..") and ".." not in segment
        for segment in segments
    ):
        raise ValidationError(
            "folder: segments of letters, digits, '.', '_' and '-' separated by '/'",
            details={"field": "folder"},
        )
    return folder


def content_type_of(declared: str | None, filename: str) -> str:
    """The file's content type: the one the client declared (lower case, no parameters), else
    guessed from the name's extension, else ``application/octet-stream``."""
    if declared:
        kind = declared.split(";", 1)[0].strip().lower()
        if not _CONTENT_TYPE.fullmatch(kind):
            raise ValidationError(
                "content_type is not a media type (type/subtype)", details={"field": "content_type"}
            )
        return kind
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


def check_type_allowed(content_type: str, allowed: str) -> None:
    """400 ``INVALID_FILE_TYPE`` unless ``content_type`` is on the allow-list ``allowed``
    (``PGCUBE_FILE_TYPES``: ``image/*,application/pdf``; empty allows any)."""
    patterns = [pattern.strip().lower() for pattern in allowed.split(",") if pattern.strip()]
    if patterns and not any(fnmatch.fnmatchcase(content_type, pattern) for pattern in patterns):
        raise InvalidFileType(
            f"Files of type {content_type} are not accepted here",
            details={"content_type": content_type, "allowed": patterns},
        )


def is_active(content_type: str) -> bool:
    """Whether a browser would run script from this type (served as an attachment, sandboxed)."""
    return content_type in ACTIVE_TYPES or content_type.endswith(("+xml", "/html"))


def fileclass_of(content_type: str) -> str:
    """A coarse class for lists and icons: image, video, audio, document, archive or file."""
    major = content_type.split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return major
    if content_type == "application/pdf" or major == "text" or "document" in content_type:
        return "document"
    if any(word in content_type for word in ("zip", "tar", "gzip", "compressed", "7z", "rar")):
        return "archive"
    return "file"


def object_key(database_id: str, file_key: str, folder: str | None) -> str:
    """Where the bytes live in the store: ``<database id>/[<folder>/]<_key>`` — never a client's
    file name, so no name can reach outside the database's own prefix."""
    return "/".join(part for part in (database_id, folder, file_key) if part)


FILE_FIELDS: Final = (
    FieldSpec(name="filename", type=FieldType.STRING),
    FieldSpec(name="filesize", type=FieldType.INTEGER),
    FieldSpec(name="content_type", type=FieldType.STRING),
    FieldSpec(name="fileclass", type=FieldType.STRING),
    FieldSpec(name="status", type=FieldType.STRING),
    FieldSpec(name="acl", type=FieldType.STRING),
)
"""The file object's fields as ``file.list`` compares and sorts them (sizes as numbers)."""


def files_target(database: Database, principal: Principal) -> Target:
    """A database's ``_files`` as the compiler and the runner see a collection, under the
    database's file access rules."""
    collection = Collection(
        database_id=database.id,
        schema_name=database.schema_name,
        name=FILES_TABLE,
        fields=FILE_FIELDS,
        access=database.files_access,
    )
    return Target(collection, compiler_view(collection), principal.account_id)
