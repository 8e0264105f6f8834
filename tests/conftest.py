"""Fixtures shared by the test modules."""

from .s3server import moto_endpoint, s3_server  # noqa: F401  (moto's S3 server on loopback)
