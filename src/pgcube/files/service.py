"""What the ``file.*`` ops and the upload routes do (SPEC §12).

A ``FileService`` works on one request: its session (under a web key, the
statements already run as ``pgcube_web`` for the signed-in end user: the
runner entered ``Session.acting_as``), the database, and the process's
``FileRuntime`` (the store, the signer, the settings). Rows decide what
exists for the caller; bytes are written before the row that points at them
and removed after the statement that dropped their row (``deferred``), so a
failure leaves neither a ``ready`` file without bytes nor bytes without a row
for longer than the sweep of stale uploads. While bytes stream in, no
connection is held (RELIABILITY H1, I4): the direct upload is let in, then its
bytes are written, then its row is recorded (``pgcube.ops.files.upload``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from pgcube.auth.signing_key import resolve_jwt_secret
from pgcube.data import commands
from pgcube.data.documents import KEY_PATTERN
from pgcube.data.service import DocumentService, Page, Target
from pgcube.db.session import Session
from pgcube.errors import (
    FileNotFound,
    FileTooLarge,
    InvalidFileType,
    StorageQuotaExceeded,
    UploadExpired,
    ValidationError,
)
from pgcube.files import repository
from pgcube.files.models import (
    Acl,
    Status,
    StoredFile,
    check_filename,
    check_folder,
    check_type_allowed,
    content_type_of,
    fileclass_of,
    is_active,
    new_file_key,
    object_key,
)
from pgcube.files.urls import UPLOAD_PATH, FileSigner, UploadGrant, download_path
from pgcube.settings import Settings
from pgcube.storage import FileStore, Written, open_store
from pgcube.storage.disposition import content_disposition

DEFAULT_SIGNED_TTL = 3600
MAX_SIGNED_TTL = 7 * 24 * 3600

Deferred = list[Callable[[], Awaitable[None]]]


@dataclass(frozen=True)
class FileRuntime:
    """The process's file machinery: settings, the store and the URL signer."""

    settings: Settings
    store: FileStore
    signer: FileSigner

    def url(self, database_id: str, file: StoredFile, ttl: int = DEFAULT_SIGNED_TTL) -> str:
        """Where to download ``file``: pgcube's own path, signed for ``ttl`` seconds when private
        (on S3 a private file's URL is the store's presigned GET)."""
        path = download_path(database_id, file.key, file.filename)
        if file.is_public:
            return self.settings.base_url + path
        presigner = self.store.presigner
        if presigner is not None:
            return presigner.presigned_get(
                file.object_key,
                filename=file.filename,
                content_type=file.content_type,
                attachment=is_active(file.content_type),
                expires_in=ttl,
            )
        expires_at = int(time.time()) + ttl
        signature = self.signer.download_signature(database_id, file.key, expires_at)
        return f"{self.settings.base_url}{path}?exp={expires_at}&sig={signature}"

    def answer(self, database_id: str, file: StoredFile, ttl: int = DEFAULT_SIGNED_TTL) -> dict[str, Any]:
        return file.answer(self.url(database_id, file, ttl))


def open_file_runtime(settings: Settings) -> FileRuntime:
    """The store the settings name and a signer keyed by the service secret (blocking: it may
    read the development secret and build the S3 signer)."""
    return FileRuntime(settings, open_store(settings), FileSigner(resolve_jwt_secret(settings)))


def files_of(state: Any) -> FileRuntime:
    """The process's file runtime, kept in the app's state at startup."""
    runtime: FileRuntime = state.files
    return runtime


@dataclass(frozen=True, kw_only=True)
class NewFile:
    """A file a client announces: ``file.presign_upload``, or the direct upload's form."""

    filename: str
    content_type: str | None = None
    filesize: int | None = None
    public: bool = False
    metadata: dict[str, Any] | None = None
    folder: str | None = None
    userkey: str | None = None
    """Set by a server credential on an end user's behalf (a web key's comes from PostgreSQL)."""


@dataclass(frozen=True)
class DirectUpload:
    """A direct upload let in (``FileService.admit_upload``), its bytes still to come."""

    key: str
    data: dict[str, Any]
    limit: int
    """The most bytes the file may have."""
    userkey: str | None

    @property
    def object_key(self) -> str:
        value: str = self.data["object_key"]
        return value

    @property
    def content_type(self) -> str:
        value: str = self.data["content_type"]
        return value


@dataclass(frozen=True)
class Presigned:
    file: StoredFile
    url: str
    fields: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class FileChanges:
    acl: Acl | None = None
    filename: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class FileService:
    session: Session
    runtime: FileRuntime
    target: Target
    """The database's ``_files`` as a collection (``file.list`` runs the query language on it)."""
    deferred: Deferred = field(default_factory=list)
    """Work for after the request's statements commit (the bytes of removed files)."""

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def database_id(self) -> str:
        return self.target.collection.database_id

    @property
    def schema(self) -> str:
        return self.target.collection.schema_name

    def answer(self, file: StoredFile, ttl: int = DEFAULT_SIGNED_TTL) -> dict[str, Any]:
        return self.runtime.answer(self.database_id, file, ttl)

    # --- announcing and receiving a file ----------------------------------------------------------

    def _describe(self, new: NewFile, key: str) -> tuple[dict[str, Any], int]:
        """The stored object of a new file, and the most bytes it may have."""
        filename = check_filename(new.filename)
        content_type = content_type_of(new.content_type, filename)
        check_type_allowed(content_type, self.settings.file_types)
        limit = self.settings.max_file_bytes
        if new.filesize is not None:
            if new.filesize < 0:
                raise ValidationError("filesize must be 0 or more", details={"field": "filesize"})
            if new.filesize > limit:
                raise FileTooLarge(details={"max_bytes": limit, "filesize": new.filesize})
            limit = new.filesize
        folder = check_folder(new.folder)
        if new.userkey is not None and not KEY_PATTERN.match(new.userkey):
            raise ValidationError(
                "_userkey must be 1-64 letters, digits, '_' or '-'", details={"field": "_userkey"}
            )
        data = {
            "filename": filename,
            "filesize": new.filesize or 0,
            "fileclass": fileclass_of(content_type),
            "content_type": content_type,
            "acl": (Acl.PUBLIC if new.public else Acl.PRIVATE).value,
            "object_key": object_key(self.database_id, key, folder),
            "folder": folder,
            "metadata": new.metadata or {},
            "image_variants": {},
            "status": Status.PENDING.value,
            "sha256": None,
        }
        return data, limit

    async def _check_quota(self, adding: int) -> None:
        conn = await self.session.connection()
        used = await repository.storage_used(conn, self.schema)
        quota = self.settings.quota_storage_bytes
        if used + adding > quota:
            raise StorageQuotaExceeded(
                details={"quota_bytes": quota, "used_bytes": used, "adding_bytes": adding}
            )

    async def presign_upload(self, new: NewFile) -> Presigned:
        """A pending file and what its client posts the bytes with (S3's presigned POST form)."""
        key = new_file_key()
        data, limit = self._describe(new, key)
        await self._check_quota(data["filesize"])
        conn = await self.session.connection()
        file = await repository.insert(conn, self.schema, key, data, new.userkey)
        ttl = self.settings.upload_ttl
        expires_at = int(time.time()) + ttl
        content_type = data["content_type"]
        presigner = self.runtime.store.presigner
        if presigner is not None:
            url, fields = presigner.presigned_post(
                file.object_key,
                max_bytes=limit,
                content_type=content_type,
                content_disposition=content_disposition(file.filename, attachment=is_active(content_type)),
                expires_in=ttl,
            )
        else:
            grant = UploadGrant(self.database_id, key, file.object_key, limit, content_type, expires_at)
            url = self.settings.base_url + UPLOAD_PATH
            fields = {
                "key": file.object_key,
                "Content-Type": content_type,
                "token": self.runtime.signer.upload_token(grant),
            }
        return Presigned(file, url, fields, datetime.fromtimestamp(expires_at, UTC))

    async def finish_upload(self, key: str) -> StoredFile:
        """``file.postsign_upload``: the bytes arrived (checked in the store: there, within the size,
        of the announced type; their sha256 read back), the file is ``ready``. A file already ready
        is answered as it is."""
        file = await self._get(key)
        if file.status is Status.READY:
            return file
        if file.status is Status.FAILED:
            raise ValidationError("This upload was reported failed: start a new one", details={"_key": key})
        store = self.runtime.store
        info = await store.info(file.object_key)
        if info is None:
            if file.created_at + timedelta(seconds=self.settings.upload_ttl) < datetime.now(UTC):
                raise UploadExpired(details={"_key": key})
            raise ValidationError(
                "The file's bytes have not arrived: POST them to presigned_data.url first",
                details={"_key": key, "reason": "no_bytes"},
            )
        limit = file.size or self.settings.max_file_bytes
        if info.size > min(limit, self.settings.max_file_bytes):
            await store.delete([file.object_key])
            raise FileTooLarge(details={"max_bytes": limit, "filesize": info.size})
        await self._check_quota(info.size - file.size)
        written = await store.digest(file.object_key)
        if written.content_type is not None and written.content_type != file.content_type:
            # S3 enforces the policy's Content-Type; a store that does not (moto) is caught here.
            await store.delete([file.object_key])
            raise InvalidFileType(
                "The bytes arrived with another content type than announced: upload them again",
                details={"_key": key, "content_type": written.content_type, "expected": file.content_type},
            )
        conn = await self.session.connection()
        finished = await repository.finish_upload(conn, self.schema, key, written.size, written.sha256)
        if finished is None:  # a concurrent finish or failure got there first
            return await self._get(key)
        return finished

    async def fail_upload(self, key: str, errors: Any) -> StoredFile:
        """``file.upload_error``: the client gave up; the file is ``failed`` and its bytes go."""
        conn = await self.session.connection()
        failed = await repository.fail_upload(conn, self.schema, key, errors)
        if failed is None:
            file = await self._get(key)
            if file.status is not Status.FAILED:
                raise ValidationError(
                    f"Only a pending upload can fail; this file is {file.status.value}",
                    details={"_key": key, "status": file.status.value},
                )
            return file
        self._remove_bytes([failed.object_key])
        return failed

    async def admit_upload(self, new: NewFile) -> DirectUpload:
        """The direct upload's first step, before any byte is read: the file's name, type and
        announced size are valid, the caller may write files here, the quota has room."""
        key = new_file_key()
        data, limit = self._describe(new, key)
        await self._check_quota(data["filesize"])
        return DirectUpload(key, data, limit, new.userkey)

    async def record_upload(self, upload: DirectUpload, written: Written) -> StoredFile:
        """The direct upload's last step, once its bytes are in the store: the file's row, ``ready``
        (the quota checked again with the real size)."""
        await self._check_quota(written.size)
        data = {
            **upload.data,
            "status": Status.READY.value,
            "filesize": written.size,
            "sha256": written.sha256,
        }
        conn = await self.session.connection()
        return await repository.insert(conn, self.schema, upload.key, data, upload.userkey)

    # --- reading and changing files -------------------------------------------------------------

    async def _get(self, key: str) -> StoredFile:
        conn = await self.session.connection()
        file = await repository.get(conn, self.schema, key)
        if file is None:
            raise FileNotFound(details={"_key": key})
        return file

    async def info(self, key: str) -> StoredFile:
        return await self._get(key)

    async def update(self, key: str, changes: FileChanges) -> StoredFile:
        stored: dict[str, Any] = {}
        if changes.acl is not None:
            stored["acl"] = changes.acl.value
        if changes.filename is not None:
            stored["filename"] = check_filename(changes.filename)
        conn = await self.session.connection()
        file = await repository.update(conn, self.schema, key, stored, changes.metadata)
        if file is None:
            raise FileNotFound(details={"_key": key})
        return file

    async def delete(self, keys: Sequence[str]) -> int:
        """Remove the files; their bytes go once the statement has committed."""
        conn = await self.session.connection()
        removed = await repository.delete(conn, self.schema, keys)
        self._remove_bytes(removed)
        return len(removed)

    async def list(
        self, command: commands.Find, documents: DocumentService
    ) -> tuple[Page, list[dict[str, Any]]]:
        """``file.list``: the query language of SPEC §9 over the file objects."""
        page = await documents.find(self.target, command)
        files = [self.answer(_from_document(document)) for document in page.documents]
        return page, files

    def _remove_bytes(self, object_keys: Sequence[str]) -> None:
        if object_keys:
            store = self.runtime.store
            keys = list(object_keys)

            async def remove() -> None:
                await store.delete(keys)

            self.deferred.append(remove)


def _from_document(document: bytes) -> StoredFile:
    """A file object as ``collection.find`` returns a row of ``_files`` (its data, system fields in)."""
    data = msgspec.json.decode(document)
    return StoredFile(
        key=data.pop("_key"),
        userkey=data.pop("_userkey", None),
        created_at=datetime.fromisoformat(data.pop("_created_at")),
        modified_at=datetime.fromisoformat(data.pop("_modified_at")),
        data=data,
    )


async def sweep_stale_uploads(runtime: FileRuntime, conn: Any, schema: str) -> int:
    """Remove a database's files that never became ready within ``pending_upload_retention``
    seconds, bytes and all; how many. The rows go first: should the store fail, the caller's
    transaction undoes their removal and the next sweep tries again."""
    removed = await repository.remove_stale_uploads(conn, schema, runtime.settings.pending_upload_retention)
    if removed:
        await runtime.store.delete(removed)
    return len(removed)


_DROPPED_SQLSTATES = frozenset({"42P01", "3F000"})
"""undefined_table, invalid_schema_name: a database dropped while the sweep ran."""


async def sweep_all_stale_uploads(runtime: FileRuntime, conn: Any) -> int:
    """The housekeeping step of files (``pgcube.data.maintenance``): every database's stale
    uploads, each database in its own savepoint of the round's transaction, so that one dropped
    meanwhile is skipped, not a reason to sweep nothing."""
    swept = 0
    for schema in await repository.file_schemas(conn):
        try:
            async with conn.transaction():
                swept += await sweep_stale_uploads(runtime, conn, schema)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) not in _DROPPED_SQLSTATES:
                raise
    return swept
