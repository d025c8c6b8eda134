"""The Storage ops, ``file.*`` (SPEC §12), and their aliases.

Each op runs on the path's database's ``_files`` (``CollectionUse.FILES``): the
runner resolves the database, and under a web key lets the op in by the
database's file rules and runs its statements as ``pgcube_web`` for the
signed-in end user, so another user's private file is simply not there (404
``FILE_NOT_FOUND``). ``pgcube.files.service.FileService`` does the work; the
bodies here are closed (a key an op does not read is a 400).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any, Literal

import msgspec

from pgcube.data import commands
from pgcube.errors import ValidationError, missing_field
from pgcube.files.models import Acl
from pgcube.files.service import DEFAULT_SIGNED_TTL, MAX_SIGNED_TTL, DirectUpload, FileChanges, NewFile
from pgcube.management.models import FILES_TABLE
from pgcube.ops.collection import page_meta
from pgcube.ops.registry import ALL_PRINCIPALS, Answer, Body, CollectionUse, Context, Op, Tx, as_is
from pgcube.ops.runner import execute
from pgcube.query import DDO_POINTERS
from pgcube.storage import Written

Criteria = dict[str, Any]
Sort = str | list[str] | dict[str, Any]


def _metadata(metadata: dict[str, Any] | None, info: dict[str, Any] | None) -> dict[str, Any] | None:
    """``metadata``, or ``info`` from older clients; not both."""
    if metadata is not None and info is not None:
        raise ValidationError("Send the metadata once: metadata or info", details={"field": "info"})
    return metadata if metadata is not None else info


def _key(value: str | None, field: str = "_key") -> str:
    if not value:
        raise missing_field(field)
    return value


class PresignBody(Body):
    filename: str
    content_type: str | None = None
    filesize: int | None = None
    public_read: bool = False
    metadata: dict[str, Any] | None = None
    info: dict[str, Any] | None = None
    folder: str | None = None
    userkey: str | None = msgspec.field(default=None, name="_userkey")
    """The end user the file is for: a server key's to give (a web key's file is its user's)."""

    def command(self) -> NewFile:
        return NewFile(
            filename=self.filename,
            content_type=self.content_type,
            filesize=self.filesize,
            public=self.public_read,
            metadata=_metadata(self.metadata, self.info),
            folder=self.folder,
            userkey=self.userkey,
        )


class _PresignedData(msgspec.Struct, kw_only=True):
    """The ``presigned_data`` a client got back: only its ``_key`` is read."""

    key: str | None = msgspec.field(default=None, name="_key")
    url: Any = None
    fields: Any = None
    expires_at: Any = None


class KeyBody(Body):
    key: str | None = msgspec.field(default=None, name="_key")

    def command(self) -> str:
        return _key(self.key)


class PostsignBody(Body):
    key: str | None = msgspec.field(default=None, name="_key")
    presigned_data: _PresignedData | None = None

    def command(self) -> str:
        if (
            self.key is not None
            and self.presigned_data is not None
            and self.presigned_data.key not in (None, self.key)
        ):
            raise ValidationError(
                "_key and presigned_data._key name different files", details={"field": "_key"}
            )
        return _key(self.key or (self.presigned_data.key if self.presigned_data else None))


class UploadErrorBody(Body):
    key: str | None = msgspec.field(default=None, name="_key")
    errors: Any = None

    def command(self) -> tuple[str, Any]:
        return _key(self.key), self.errors


class InfoBody(Body):
    key: str | None = msgspec.field(default=None, name="_key")
    signed_ttl: int = DEFAULT_SIGNED_TTL

    def command(self) -> tuple[str, int]:
        if not 1 <= self.signed_ttl <= MAX_SIGNED_TTL:
            raise ValidationError(
                f"signed_ttl must be 1 to {MAX_SIGNED_TTL} seconds", details={"field": "signed_ttl"}
            )
        return _key(self.key), self.signed_ttl


class UpdateBody(Body):
    key: str | None = msgspec.field(default=None, name="_key")
    public_read: bool | None = None
    acl: Acl | None = None
    metadata: dict[str, Any] | None = None
    info: dict[str, Any] | None = None
    filename: str | None = None

    def command(self) -> tuple[str, FileChanges]:
        if self.public_read is not None and self.acl is not None:
            raise ValidationError("Send the access once: public_read or acl", details={"field": "acl"})
        acl = self.acl
        if self.public_read is not None:
            acl = Acl.PUBLIC if self.public_read else Acl.PRIVATE
        changes = FileChanges(acl=acl, filename=self.filename, metadata=_metadata(self.metadata, self.info))
        if changes == FileChanges():
            raise ValidationError(
                "Nothing to change: send public_read, acl, metadata or filename",
                details={"field": "metadata"},
            )
        return _key(self.key), changes


class DeleteBody(Body):
    key: str | None = msgspec.field(default=None, name="_key")
    keys: list[str] | None = msgspec.field(default=None, name="_keys")

    def command(self) -> list[str]:
        if self.key is not None and self.keys is not None:
            raise ValidationError("Send _key or _keys, not both", details={"field": "_keys"})
        if self.keys is not None:
            if not self.keys or not all(isinstance(key, str) and key for key in self.keys):
                raise ValidationError("_keys must be a non-empty list of keys", details={"field": "_keys"})
            return list(dict.fromkeys(self.keys))
        return [_key(self.key)]


class ListBody(Body):
    match: Criteria | None = None
    sort: Sort | None = None
    limit: int | None = None
    offset: int | None = None
    page: int | None = None
    per_page: int | None = None
    cursor: str | None = None
    count: Literal["exact", "none"] | bool | None = None

    def command(self) -> commands.Find:
        return commands.Find(
            collection=FILES_TABLE,
            criteria=self.match or {},
            sort=self.sort,
            limit=self.limit,
            offset=self.offset,
            page=self.page,
            per_page=self.per_page,
            cursor=self.cursor,
            with_total=self.count not in ("none", False),
            pointers=DDO_POINTERS,
        )


# --- handlers ------------------------------------------------------------------------------------


async def _presign(ctx: Context, new: NewFile) -> Answer:
    presigned = await ctx.files.presign_upload(for_caller(ctx, new))
    file = ctx.files.answer(presigned.file)
    data = {
        "url": presigned.url,
        "fields": presigned.fields,
        "_key": presigned.file.key,
        "expires_at": presigned.expires_at.isoformat(),
    }
    return Answer({"info": file, "presigned_data": data})


async def _postsign(ctx: Context, key: str) -> Answer:
    return Answer(ctx.files.answer(await ctx.files.finish_upload(key)))


async def _upload_error(ctx: Context, command: tuple[str, Any]) -> Answer:
    failed = await ctx.files.fail_upload(*command)
    return Answer({"_key": failed.key, "status": failed.status.value})


async def _info(ctx: Context, command: tuple[str, int]) -> Answer:
    key, ttl = command
    return Answer(ctx.files.answer(await ctx.files.info(key), ttl))


async def _update(ctx: Context, command: tuple[str, FileChanges]) -> Answer:
    return Answer(ctx.files.answer(await ctx.files.update(*command)))


async def _delete(ctx: Context, keys: list[str]) -> Answer:
    return Answer({"count": await ctx.files.delete(keys)})


async def _list(ctx: Context, command: commands.Find) -> Answer:
    page, files = await ctx.files.list(command, ctx.documents)
    return Answer(files, page_meta(page))


def for_caller(ctx: Context, new: NewFile) -> NewFile:
    """``new`` as the caller may announce it: a web key's ``_userkey`` is ignored (PostgreSQL stamps
    its signed-in user's, SPEC §11.4)."""
    return dataclasses.replace(new, userkey=None) if ctx.principal.is_web else new


async def _admit_upload(ctx: Context, new: NewFile) -> DirectUpload:
    return await ctx.files.admit_upload(for_caller(ctx, new))


async def _record_upload(ctx: Context, command: tuple[DirectUpload, Written]) -> Answer:
    return Answer(ctx.files.answer(await ctx.files.record_upload(*command)))


def _op(
    name: str,
    summary: str,
    body: type[Body],
    handler: Any,
    tx: Tx,
    *aliases: str,
    example: dict[str, Any] | None = None,
) -> Op[Any, Any]:
    return Op(
        name=name,
        summary=summary,
        body=body,
        handler=handler,
        present=as_is,
        tx=tx,
        collection=CollectionUse.FILES,
        aliases=dict.fromkeys(aliases, body),
        principals=ALL_PRINCIPALS,  # web keys under the database's file rules (the runner)
        example=example,
    )


OPS = (
    _op(
        "file.presign_upload",
        "Announce a file; answers where and how to POST its bytes (an S3 presigned POST form)",
        PresignBody,
        _presign,
        Tx.WRITE,
        "file.preupload",
        example={"op": "file.presign_upload", "filename": "avatar.png", "content_type": "image/png"},
    ),
    _op(
        "file.postsign_upload",
        "Check that a presigned upload's bytes arrived and mark the file ready",
        PostsignBody,
        _postsign,
        Tx.WRITE,
        "file.finalize_upload",
        "file.postupload",
        example={"op": "file.postsign_upload", "_key": "0123456789abcdef01234567"},
    ),
    _op(
        "file.upload_error",
        "Report that a presigned upload failed (the file is marked failed, its bytes removed)",
        UploadErrorBody,
        _upload_error,
        Tx.WRITE,
        "file.report_upload_failure",
    ),
    _op(
        "file.info",
        "A file, with a signed URL (signed_ttl seconds) when it is private",
        InfoBody,
        _info,
        Tx.READ,
        "file.get",
        "storage.get",
        example={"op": "file.info", "_key": "file_abc123xyz789", "signed_ttl": 3600},
    ),
    _op("file.update", "Change a file's access, metadata (merged) or name", UpdateBody, _update, Tx.WRITE),
    _op(
        "file.delete",
        "Delete files by _key or _keys; their bytes go after the commit",
        DeleteBody,
        _delete,
        Tx.WRITE,
        "storage.delete",
    ),
    _op(
        "file.list",
        "Files matching a query (SPEC §9 over the file objects), paged",
        ListBody,
        _list,
        Tx.READ,
        "file.query",
        "file.find",
    ),
)

# The direct upload (SPEC §12, ``POST /api/{database_id}/files``): not DDO ops (its body is a
# form), two steps run by the same runner around the bytes, which stream in with no connection held.
ADMIT_UPLOAD = _op("file.upload", "Let a direct upload in", Body, _admit_upload, Tx.WRITE)
RECORD_UPLOAD = _op("file.upload", "Record a direct upload's file", Body, _record_upload, Tx.WRITE)


async def upload(ctx: Context, new: NewFile, chunks: AsyncIterator[bytes]) -> Answer:
    """The direct upload: let in (credentials, access rule, name, type, quota), then the bytes
    streamed to the store with the request's connection given back, then the file's row. A
    failure after the bytes were written removes them: nothing is left, no row, no bytes."""
    admitted: DirectUpload = await execute(ADMIT_UPLOAD, ctx, new)
    await ctx.session.close()
    store = ctx.files.runtime.store
    written = await store.write(
        admitted.object_key, chunks, max_bytes=admitted.limit, content_type=admitted.content_type
    )
    try:
        answer: Answer = await execute(RECORD_UPLOAD, ctx, (admitted, written))
    except BaseException:
        await store.delete([admitted.object_key])
        raise
    return answer
