"""The two file routes whose credential is a signature, not a principal (SPEC §12).

* A download (``GET /files/<database>/<_key>/<name>``): the file's row is read
  as the owner role — nobody signed in — and a private file needs its URL's
  ``exp`` and ``sig``. An unknown database (or a malformed id), an unknown
  file and a file not ``ready`` all answer the same 404 ``FILE_NOT_FOUND``.
* A presigned upload to the local store (``POST /storage/upload``): the form's
  ``token`` is the grant (``pgcube.files.urls``); its ``key`` and
  ``Content-Type`` must be the ones it was granted for (403, as S3 answers a
  form that breaks its policy), and the file must still be ``pending``: once
  ``file.postsign_upload`` has made it ``ready`` (or it failed), the grant
  writes nothing more.

The session is used for one statement and given back before any bytes move:
a slow client never holds a pooled connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from pgcube.db.session import Session
from pgcube.errors import FileNotFound, FileTooLarge, Forbidden, PayloadTooLarge, missing_field
from pgcube.files import repository
from pgcube.files.models import Status, StoredFile
from pgcube.files.service import FileRuntime
from pgcube.files.urls import UploadGrant
from pgcube.management.service import find_database
from pgcube.storage import Written


async def _stored_file(session: Session, database_id: str, key: str) -> StoredFile | None:
    database = await find_database(session, database_id)
    if database is None:
        return None
    conn = await session.connection()
    return await repository.get(conn, database.schema_name, key)


async def downloadable(
    session: Session,
    runtime: FileRuntime,
    database_id: str,
    key: str,
    *,
    expires_at: str | None,
    signature: str | None,
) -> StoredFile:
    """The ready file ``key`` of ``database_id`` if the URL may fetch it: public, or signed and not
    expired (else 403 ``FORBIDDEN``); 404 ``FILE_NOT_FOUND`` when there is no ready file there."""
    file = await _stored_file(session, database_id, key)
    if file is None or file.status is not Status.READY:
        raise FileNotFound()
    if not file.is_public:
        runtime.signer.check_download(database_id, file.key, expires_at, signature)
    return file


async def granted_upload(session: Session, runtime: FileRuntime, fields: Mapping[str, str]) -> UploadGrant:
    """The grant of a presigned form (``key``, ``Content-Type``, ``token``): 403 when the token is
    not ours or the form asks for another object or type, 400 ``UPLOAD_EXPIRED`` when its time
    is up, 403 when its file is no longer pending, 404 when it is gone."""
    token = fields.get("token")
    if not token:
        raise Forbidden("The upload is not signed: send the token field of presigned_data.fields")
    grant = runtime.signer.read_upload_token(token)
    key = fields.get("key")
    if not key:
        raise missing_field("key")
    if key != grant.object_key:
        raise Forbidden("The upload's token does not grant this key", details={"field": "key"})
    if fields.get("Content-Type") != grant.content_type:
        raise Forbidden(
            "The upload's Content-Type is not the one its token grants",
            details={"field": "Content-Type", "expected": grant.content_type},
        )
    file = await _stored_file(session, grant.database_id, grant.file_key)
    if file is None:
        raise FileNotFound(details={"_key": grant.file_key})
    if file.status is not Status.PENDING:
        raise Forbidden(
            f"This upload is over: its file is {file.status.value}",
            details={"_key": file.key, "status": file.status.value},
        )
    return grant


async def receive_upload(runtime: FileRuntime, grant: UploadGrant, chunks: AsyncIterator[bytes]) -> Written:
    """The granted object written from ``chunks``; past the grant's size 413 ``FILE_TOO_LARGE``
    and nothing is kept (nor on any other failure: the store removes a partial write)."""
    try:
        return await runtime.store.write(
            grant.object_key, chunks, max_bytes=grant.max_bytes, content_type=grant.content_type
        )
    except FileTooLarge:
        raise
    except PayloadTooLarge:  # the form itself outgrew the largest file the grant allows
        raise FileTooLarge(details={"max_bytes": grant.max_bytes}) from None
