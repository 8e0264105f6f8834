"""Fixtures shared by the test modules."""

from .faultproxy import fault_proxy  # noqa: F401  (the fault-injecting proxy on loopback)
from .s3server import moto_endpoint, s3_server  # noqa: F401  (moto's S3 server on loopback)
from .samples_warehouse import samples_warehouse  # noqa: F401  (the samples reconciled once per session)
