"""A real S3-speaking server on loopback for the file tests: moto in server mode.

moto stores objects and speaks S3's HTTP API (multipart uploads, ranges,
presigned POST forms); it does not check POST policies, signatures or expiry,
so those are tested on the local backend, whose checks are pgcube's own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.session
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"  # moto accepts any credentials


@contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    """Start moto on a free loopback port with a fresh bucket; the settings that point pgcube at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        bucket = f"pgcube-{secrets.token_hex(4)}"
        client = botocore.session.get_session().create_client(
            "s3",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        client.create_bucket(Bucket=bucket)
        yield {
            "storage_url": f"s3://{bucket}/files",
            "s3_endpoint": endpoint,
            "s3_region": REGION,
            "s3_access_key": ACCESS_KEY,
            "s3_secret_key": SECRET_KEY,
        }
    finally:
        server.stop()
