"""Signed file URLs and upload grants of the local store (SPEC §12).

* A private file's download URL carries ``exp`` (Unix time) and ``sig``: an
  HMAC-SHA256 of the database, the file's ``_key`` and ``exp`` under a key
  derived from the service secret for this use only. Anything changed, or
  ``exp`` past, is a 403.
* A presigned upload to the local store (``/storage/upload``) carries a grant:
  a JWT (HS256, its own derived key, ``typ: "upload"``) bound to the database,
  the file, its object key, the size limit and the content type, valid
  ``upload_ttl`` seconds. On S3 the store signs instead (``pgcube.storage``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote

import jwt

from pgcube.errors import Forbidden, UploadExpired

UPLOAD_TOKEN_TYPE = "upload"  # noqa: S105  # the name of a token type, not a secret
UPLOAD_PATH = "/storage/upload"


@dataclass(frozen=True)
class UploadGrant:
    """What a presigned local upload may write."""

    database_id: str
    file_key: str
    object_key: str
    max_bytes: int
    content_type: str
    expires_at: int


class FileSigner:
    """Signs and checks the local store's download URLs and upload grants."""

    def __init__(self, secret: str) -> None:
        self._download_key = hmac.new(secret.encode(), b"pgcube file download", hashlib.sha256).digest()
        self._upload_key = hmac.new(secret.encode(), b"pgcube file upload", hashlib.sha256).digest()

    # --- downloads -------------------------------------------------------------------------------

    def download_signature(self, database_id: str, file_key: str, expires_at: int) -> str:
        message = f"{database_id}\n{file_key}\n{expires_at}".encode()
        digest = hmac.new(self._download_key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def check_download(
        self, database_id: str, file_key: str, expires_at: str | None, signature: str | None
    ) -> None:
        """403 unless ``signature`` signs this file until ``expires_at``, which is still ahead."""
        if not expires_at or not signature or not expires_at.isdigit() or len(expires_at) > 12:
            raise Forbidden("This file is private: its URL must be signed (exp and sig)")
        expected = self.download_signature(database_id, file_key, int(expires_at))
        if not hmac.compare_digest(expected.encode(), signature.encode(errors="replace")):
            raise Forbidden("The file's URL signature does not match")
        if int(expires_at) < time.time():
            raise Forbidden("The file's signed URL has expired")

    # --- uploads ---------------------------------------------------------------------------------

    def upload_token(self, grant: UploadGrant) -> str:
        claims = {
            "typ": UPLOAD_TOKEN_TYPE,
            "pid": grant.database_id,
            "fid": grant.file_key,
            "obj": grant.object_key,
            "max": grant.max_bytes,
            "ct": grant.content_type,
            "exp": grant.expires_at,
        }
        return jwt.encode(claims, self._upload_key, algorithm="HS256")

    def read_upload_token(self, token: str) -> UploadGrant:
        """The grant ``token`` carries; 403 when it is not one of ours, 400 ``UPLOAD_EXPIRED`` when
        its time is up."""
        try:
            claims = jwt.decode(
                token,
                self._upload_key,
                algorithms=["HS256"],
                options={"require": ["exp", "typ", "pid", "fid", "obj", "max", "ct"]},
            )
        except jwt.ExpiredSignatureError:
            raise UploadExpired() from None
        except jwt.InvalidTokenError:
            raise Forbidden("The upload's signature does not match") from None
        if claims["typ"] != UPLOAD_TOKEN_TYPE:
            raise Forbidden("The upload's signature does not match")
        return UploadGrant(
            database_id=str(claims["pid"]),
            file_key=str(claims["fid"]),
            object_key=str(claims["obj"]),
            max_bytes=int(claims["max"]),
            content_type=str(claims["ct"]),
            expires_at=int(claims["exp"]),
        )


def download_path(database_id: str, file_key: str, filename: str) -> str:
    """``/files/<database>/<_key>/<filename>``, the name percent-encoded (any character is safe)."""
    return f"/files/{database_id}/{file_key}/{quote(filename, safe='')}"
