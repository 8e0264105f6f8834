"""A real S3 endpoint for tests: moto's standalone server on 127.0.0.1.

The code under test finds it the way it finds any S3-compatible store, through the environment
(`AWS_ENDPOINT_URL`, credentials, region); boto3 and botocore are not patched. Each test gets
its own bucket, emptied and deleted at the end of the test.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint URL and the bucket created on it."""

    endpoint: str
    bucket: str

    def client(self):
        """A boto3 S3 client for the test's own setup, configured by the environment."""
        return boto3.session.Session().client("s3")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's standalone S3 server on a free loopback port: yields its endpoint URL, stops on exit."""
    from moto.server import ThreadedMotoServer

    requests_log = logging.getLogger("werkzeug")
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        requests_log.setLevel(level)


@contextlib.contextmanager
def s3_bucket(env: pytest.MonkeyPatch, endpoint: str, scratch: Path) -> Iterator[S3Server]:
    """Point the AWS environment at `endpoint` (see `point_aws_at`) and create a fresh bucket
    there; on exit, empty and delete it."""
    point_aws_at(env, endpoint, scratch)
    s3 = S3Server(endpoint=endpoint, bucket=f"darkcompute-{uuid.uuid4().hex[:12]}")
    s3.client().create_bucket(Bucket=s3.bucket)
    yield s3
    _delete_bucket(s3)


def point_aws_at(env: pytest.MonkeyPatch, endpoint: str, scratch: Path) -> None:
    """Set the AWS environment for a test endpoint: its URL, fake keys, a region, no config or
    credentials files, no profile, and none of the retry or landing settings of the caller."""
    env.setenv("AWS_ENDPOINT_URL", endpoint)
    env.setenv("AWS_ACCESS_KEY_ID", "testing")
    env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env.setenv("AWS_CONFIG_FILE", str(scratch / "no-aws-config"))
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(scratch / "no-aws-credentials"))
    env.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_RETRY_MODE",
                 "AWS_MAX_ATTEMPTS", "DARKCOMPUTE_S3_MAX_ATTEMPTS", "DARKCOMPUTE_LANDING_DIR"):
        env.delenv(name, raising=False)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback, started once for the session (each test gets its own
    bucket) and stopped at its end."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_server(moto_endpoint, monkeypatch, tmp_path) -> Iterator[S3Server]:
    """The AWS environment pointed at the loopback S3 server, and an empty bucket, for one test."""
    with s3_bucket(monkeypatch, moto_endpoint, tmp_path) as server:
        yield server


def upload_tree(local_dir: str | Path, bucket: str, prefix: str) -> list[str]:
    """Upload every file under `local_dir` to `s3://bucket/prefix/<relative path>` with boto3;
    returns the object keys, sorted."""
    root = Path(local_dir)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    keys = [f"{prefix.strip('/')}/{p.relative_to(root).as_posix()}".lstrip("/") for p in files]
    put_objects(bucket, {key: path.read_bytes() for key, path in zip(keys, files, strict=True)})
    return keys


def put_objects(bucket: str, objects: dict[str, bytes]) -> None:
    """Put many objects at once (a few threads: the server answers each request in ~5 ms)."""
    client = boto3.session.Session().client("s3")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda item: client.put_object(Bucket=bucket, Key=item[0], Body=item[1]), objects.items()))


def _delete_bucket(s3: S3Server) -> None:
    client = s3.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=s3.bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=s3.bucket)
