"""A real S3 API for the file tests: moto in server mode on a loopback port.

``s3_server()`` starts one and yields its endpoint; ``create_bucket`` makes a
bucket there; ``s3_overrides`` and ``local_overrides`` are the ``Settings``
overrides of the two backends (the ``storage_backend`` fixture in
``tests/conftest.py`` gives one of them to each test). moto answers like S3 but
checks no POST policy, signature or expiry: tests of those read the policy
document itself (``post_policy``), and pgcube's own checks after an upload are
tested through the service.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgcube.settings import Settings

S3_REGION = "us-east-1"
S3_ACCESS_KEY = "test"
S3_SECRET_KEY = "test"


@dataclass(frozen=True)
class StorageBackend:
    """One place file bytes may live: ``kind`` is ``local`` or ``s3``; ``overrides`` are Settings fields."""

    kind: str
    overrides: dict[str, object] = field(default_factory=dict)

    def settings(self, **more: object) -> Settings:
        """Settings of this backend alone (no database), ``more`` on top."""
        return Settings.from_env({}, **{**self.overrides, **more})


@contextmanager
def s3_server() -> Iterator[str]:
    """Start moto's S3 on 127.0.0.1 (a free port); yield its endpoint URL; stop it on exit."""
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request at INFO; keep failure reports readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A botocore client of the test server, to look behind the store's back."""
    import botocore.config
    import botocore.session

    return botocore.session.get_session().create_client(
        "s3",
        region_name=S3_REGION,
        endpoint_url=endpoint,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def create_bucket(endpoint: str) -> str:
    """A new bucket on the server; its name."""
    name = "pgcube-test-" + secrets.token_hex(4)
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def s3_overrides(endpoint: str, bucket: str, prefix: str = "files") -> dict[str, object]:
    return {
        "storage_url": f"s3://{bucket}/{prefix}",
        "s3_endpoint": endpoint,
        "s3_region": S3_REGION,
        "s3_access_key": S3_ACCESS_KEY,
        "s3_secret_key": S3_SECRET_KEY,
    }


def local_overrides(data_dir: Path) -> dict[str, object]:
    return {"storage_url": "", "data_dir": str(data_dir)}


def post_policy(fields: dict[str, str]) -> dict[str, Any]:
    """The decoded policy document of a presigned POST's fields (moto does not enforce it)."""
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy
