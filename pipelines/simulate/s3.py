"""Upload a simulated `sources/` tree to S3 (or any S3-compatible store), keys = relative paths.

boto3 builds the client from the standard chain: credentials from the environment or config,
and the endpoint from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` when set (e.g. a loopback moto
server in tests). CUR manifests list their data files as `s3://` URIs; they are rewritten to the
destination so that the uploaded manifest names the uploaded objects.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import boto3

from .bedrock import SOURCE_BUCKET


def split_uri(s3_uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> (`bucket`, `some/prefix/`); the prefix may be empty."""
    parsed = urlparse(s3_uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {s3_uri!r}")
    prefix = parsed.path.strip("/")
    return parsed.netloc, prefix + "/" if prefix else ""


def upload(sources_dir: Path, s3_uri: str, max_workers: int = 8) -> list[str]:
    """Upload every file under `sources_dir` to `s3_uri`; returns the keys written, sorted."""
    bucket, prefix = split_uri(s3_uri)
    root = Path(sources_dir)
    destination = f"s3://{bucket}/{prefix}".rstrip("/")
    client = boto3.client("s3")
    files = sorted(p for p in root.rglob("*") if p.is_file())

    def put(path: Path) -> str:
        relative = path.relative_to(root).as_posix()
        body = path.read_bytes()
        if relative.startswith("cur/") and relative.endswith("-Manifest.json"):
            body = _rewrite_manifest(body, destination)
        key = prefix + relative
        client.put_object(Bucket=bucket, Key=key, Body=body)
        return key

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return sorted(pool.map(put, files))


def _rewrite_manifest(body: bytes, destination: str) -> bytes:
    manifest = json.loads(body)
    manifest["dataFiles"] = [
        destination + uri[len(SOURCE_BUCKET):] if uri.startswith(SOURCE_BUCKET + "/") else uri
        for uri in manifest.get("dataFiles", [])
    ]
    return (json.dumps(manifest, indent=2) + "\n").encode()
