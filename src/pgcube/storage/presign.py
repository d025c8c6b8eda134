"""Presigned S3 requests: the POST a client uploads with, the GET it downloads with (ADR 0021).

obstore moves the bytes but cannot presign a POST (a policy document the
client's form must satisfy) nor a GET that sets the response's
``Content-Disposition``; botocore can. It is used here for that alone: signing
happens locally, with no request to the store. Object names carry the
storage URL's prefix, as obstore's ``prefix=`` does, so both name one object.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pgcube.storage.disposition import content_disposition

MAX_EXPIRES_IN = 7 * 24 * 3600
"""The longest a signature version 4 URL may live (S3 refuses longer ones)."""


class Presigner:
    """Signs requests for one bucket and prefix; the botocore client is built once, on first use."""

    def __init__(
        self, *, bucket: str, prefix: str, region: str, endpoint: str, access_key: str, secret_key: str
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._region = region
        self._endpoint = endpoint
        # Empty keys: botocore's own chain (environment, instance role), as obstore does.
        self._access_key = access_key or None
        self._secret_key = secret_key or None

    @cached_property
    def _client(self) -> Any:
        # Imported here: a store on the local disk never pays for botocore (about 0.3 s).
        import botocore.config
        import botocore.session

        # Path-style addressing for a custom endpoint (MinIO, moto, …), as open_store tells obstore.
        addressing = "path" if self._endpoint else "virtual"
        return botocore.session.get_session().create_client(
            "s3",
            region_name=self._region,
            endpoint_url=self._endpoint or None,
            aws_access_key_id=self._access_key,
            aws_secret_access_key=self._secret_key,
            config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": addressing}),
        )

    def object_name(self, key: str) -> str:
        """The S3 object name of ``key`` (``prefix/key``)."""
        if not key:
            raise ValueError("an object key may not be empty")
        return f"{self.prefix}/{key}" if self.prefix else key

    def presigned_post(
        self,
        key: str,
        *,
        max_bytes: int,
        content_type: str,
        content_disposition: str | None = None,
        expires_in: int,
    ) -> tuple[str, dict[str, str]]:
        """The URL and form fields of an S3 POST upload of ``key``.

        The policy allows 0 to ``max_bytes`` bytes, exactly ``content_type`` and, when
        given, exactly ``content_disposition``; the fields carry both, so a client that
        posts every field, then the file, satisfies it.
        """
        _check_expiry(expires_in)
        fields = {"Content-Type": content_type}
        conditions: list[Any] = [["content-length-range", 0, max_bytes], {"Content-Type": content_type}]
        if content_disposition is not None:
            fields["Content-Disposition"] = content_disposition
            conditions.append({"Content-Disposition": content_disposition})
        post = self._client.generate_presigned_post(
            Bucket=self.bucket,
            Key=self.object_name(key),
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return str(post["url"]), {str(name): str(value) for name, value in post["fields"].items()}

    def presigned_get(
        self, key: str, *, filename: str, content_type: str, attachment: bool, expires_in: int
    ) -> str:
        """A URL that downloads ``key`` for ``expires_in`` seconds, named ``filename``, as ``content_type``."""
        _check_expiry(expires_in)
        url = self._client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.object_name(key),
                "ResponseContentDisposition": content_disposition(filename, attachment=attachment),
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires_in,
        )
        return str(url)


def _check_expiry(expires_in: int) -> None:
    if not 0 < expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be 1 to {MAX_EXPIRES_IN} seconds, not {expires_in}")
