"""Turn delivered files into numbered lines without a Python loop over lines.

The bytes of each file are split at newlines with NumPy and wrapped, zero-copy, as an Arrow
binary array; DuckDB then decodes and parses them set-based. Invalid UTF-8 stays as bytes
here so the parser can quarantine it line by line.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .store import SourceFile

LINES_SCHEMA = pa.schema(
    [("file", pa.string()), ("line", pa.int64()), ("raw", pa.large_binary())]
)


@dataclass
class Unreadable:
    """A file that could not be turned into lines at all (e.g. a corrupt gzip stream)."""

    key: str
    reason: str


def decompress(f: SourceFile) -> tuple[bytes, str | None]:
    """The file's text bytes and, if the gzip stream was damaged, why (keeping what was read)."""
    if not f.key.endswith(".gz"):
        return f.data, None
    try:
        return gzip.decompress(f.data), None
    except (EOFError, OSError, zlib.error) as exc:
        # Keep what a streaming reader could recover before the damage.
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            partial = d.decompress(f.data)
        except zlib.error:
            partial = b""
        return partial, f"damaged gzip stream ({exc.__class__.__name__}: {exc})"


def split_lines(key: str, data: bytes) -> pa.Table:
    """One row per line of `data` (1-based `line`), the trailing newline kept in `raw`.

    A final line without a newline is still a line; an empty file has no lines.
    """
    if not data:
        return LINES_SCHEMA.empty_table()
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 0x0A) + 1
    if ends.size == 0 or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    n = len(ends)
    raw = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pa.table(
        {
            "file": _repeat(key, n),
            "line": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "raw": raw,
        },
        schema=LINES_SCHEMA,
    )


def _repeat(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string())
    ).cast(pa.string())
