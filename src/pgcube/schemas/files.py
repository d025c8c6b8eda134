"""The file object (SPEC §12) as the OpenAPI document shows it; ``pgcube.files.models`` builds it."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class FileObject(msgspec.Struct, kw_only=True):
    key: str = msgspec.field(name="_key")
    url: str
    """Where to download it: signed and expiring while the file is private."""
    filename: str
    filesize: str
    """Bytes, as a string (the SDKs read it so)."""
    fileclass: str
    """image, video, audio, document, archive or file."""
    filetype: str
    """The same as ``fileclass``, for older clients."""
    content_type: str
    acl: Literal["private", "public"]
    object_key: str
    folder: str | None
    metadata: dict[str, Any]
    info: dict[str, Any]
    """The same as ``metadata``, for older clients."""
    image_variants: dict[str, Any]
    status: Literal["pending", "ready", "failed"]
    sha256: str | None
    userkey: str | None = msgspec.field(name="_userkey")
    created_at: str = msgspec.field(name="_created_at")
    modified_at: str = msgspec.field(name="_modified_at")


class FileAnswer(msgspec.Struct, kw_only=True):
    """``{"data": file, "meta": {}}``: the DDO envelope of one file."""

    data: FileObject
    meta: dict[str, Any]
