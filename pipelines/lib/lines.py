"""Turn delivered files into numbered lines without a Python loop over lines.

The bytes of each file are split at newlines with NumPy and wrapped, zero-copy, as an Arrow
binary array; DuckDB then decodes and parses them set-based. Invalid UTF-8 stays as bytes
here so the parser can quarantine it line by line. `line_batches` hands a day's files over a
few at a time (whole files, about `BATCH_BYTES` of text per batch), so a parser's memory is
bounded by a batch, not by the day.

A line longer than `max_line_bytes` (`DARKCOMPUTE_MAX_LINE_BYTES`, passed in by the caller) is never
decoded or parsed:
its `raw` is null (an Arrow null over the same bytes, so nothing is copied) and `bytes` says how
long it was; the parsers reject it by its length. Decoding and parsing a line costs several
times its size in memory, so this bounds a parser's memory by the limit, not by the longest line.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .store import SourceFile

LINES_SCHEMA = pa.schema(
    [("file", pa.string()), ("line", pa.int64()), ("raw", pa.large_binary()), ("bytes", pa.int64())]
)


CHUNK_LINES = 16_384  # lines per Arrow record batch: enough batches for every DuckDB thread
BATCH_BYTES = 64 * 1024 * 1024  # text bytes per batch of `line_batches` (a batch holds whole files)
SCAN_BYTES = 16 * 1024 * 1024  # bytes searched for newlines at a time
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024  # a line longer than this is rejected unread
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024  # a gzipped file is unpacked to at most this


@dataclass
class FileLines:
    """One file of a batch: its key, SHA-256 and size as delivered, its lines, and why its gzip
    stream was damaged (None when it was not), or, when `refused`, why the store did not read it
    at all (a symbolic link, ...: no lines, one whole-file rejected row)."""

    key: str
    sha256: str | None
    size: int | None
    lines: pa.Table
    problem: str | None
    refused: bool = False


@dataclass
class Unreadable:
    """A file that could not be turned into lines at all (e.g. a corrupt gzip stream)."""

    key: str
    reason: str


def decompress(f: SourceFile, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[bytes, str | None]:
    """The file's text bytes (a leading UTF-8 byte-order mark removed) and, if the gzip
    stream was damaged or unpacks to more than `max_file_bytes` (`DARKCOMPUTE_MAX_FILE_BYTES`),
    why. A damaged stream keeps everything decoded before the damage; an oversized one its first
    `max_file_bytes` bytes (a few bytes of gzip can unpack to gigabytes: the limit bounds memory,
    whatever the file)."""
    if not f.key.endswith(".gz"):
        return _without_bom(f.data), None
    limit = max_file_bytes
    try:
        data, more = _gunzip(f.data, limit)
    except (EOFError, OSError, zlib.error) as exc:
        data, more = _salvage(f.data, limit)
        if not more:
            return _without_bom(data), f"damaged gzip stream ({exc.__class__.__name__}: {exc})"
    if more:
        return _without_bom(data), (f"unpacks to more than DARKCOMPUTE_MAX_FILE_BYTES ({limit:,} bytes): "
                                    "lines past the limit not read")
    return _without_bom(data), None


def _gunzip(data: bytes, limit: int) -> tuple[bytes, bool]:
    """The gzip members of `data` unpacked (as `gzip.decompress`: zero padding between members
    allowed, CRC and length checked), at most `limit` bytes of them, and whether there was more.
    A single member comes out as one bytes object, never copied."""
    out: list[bytes] = []
    size = 0
    rest = data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        piece = d.decompress(rest, limit - size + 1)  # one byte past the limit tells there is more
        size += len(piece)
        if size > limit:
            out.append(piece[: len(piece) - (size - limit)])
            return b"".join(out), True
        out.append(piece)
        if not d.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        rest = d.unused_data.lstrip(b"\x00")
    return b"".join(out), False


def _salvage(data: bytes, limit: int, chunk: int = 1 << 16) -> tuple[bytes, bool]:
    """Decode gzip members until the damage; return everything that came out before it (at most
    `limit` bytes) and whether the limit cut it.

    Input goes in by chunks; the chunk that fails is replayed byte by byte from a copy of the
    decoder, so the output right up to the damaged byte is kept.
    """
    out: list[bytes] = []
    size = 0

    def done(more: bool = False) -> tuple[bytes, bool]:
        joined = b"".join(out)
        return (joined[:limit], True) if more or len(joined) > limit else (joined, False)

    rest = data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pos = 0
        while pos < len(rest) and not d.eof:
            piece = rest[pos : pos + chunk]
            before = d.copy()
            try:
                out.append(d.decompress(piece, limit - size + 1))
                size += len(out[-1])
                if size > limit or d.unconsumed_tail:
                    return done(more=True)
            except zlib.error:
                for i in range(len(piece)):
                    try:
                        out.append(before.decompress(piece[i : i + 1]))
                    except zlib.error:
                        return done()
                return done()
            pos += chunk
        if not d.eof:
            return done()
        rest = d.unused_data + rest[pos:]
    return done()


def _without_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def split_lines(key: str, data: bytes, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> pa.Table:
    """One row per line of `data` (1-based `line`), the trailing newline kept in `raw`; a line
    longer than `max_line_bytes` has a null `raw` (see `lines_table`).

    A final line without a newline is still a line; an empty file has no lines.
    """
    if not data:
        return LINES_SCHEMA.empty_table()
    buf = np.frombuffer(data, dtype=np.uint8)
    # newlines found a slice at a time: `buf == 0x0A` over the whole file would be a second copy of it
    ends = np.concatenate([np.flatnonzero(buf[i : i + SCAN_BYTES] == 0x0A) + (i + 1)
                           for i in range(0, len(buf), SCAN_BYTES)])
    if ends.size == 0 or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    return lines_table(key, data, np.concatenate(([0], ends)).astype(np.int64), max_line_bytes)


def lines_table(key: str, data: bytes, offsets: np.ndarray, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> pa.Table:
    """The lines of `data` between consecutive `offsets` (int64, from 0 to `len(data)`), zero-copy;
    a line longer than `max_line_bytes` has a null `raw` (its bytes are never looked at)."""
    n = len(offsets) - 1
    sizes = np.diff(offsets)
    too_long = sizes > max_line_bytes
    validity = pa.py_buffer(np.packbits(~too_long, bitorder="little")) if too_long.any() else None
    raw = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
        null_count=int(too_long.sum()),
    )
    table = pa.table(
        {
            "file": _repeat(key, n),
            "line": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "raw": raw,
            "bytes": pa.array(sizes),
        },
        schema=LINES_SCHEMA,
    )
    # zero-copy slices: DuckDB scans an Arrow table one record batch per thread at a time
    return pa.Table.from_batches(table.to_batches(max_chunksize=CHUNK_LINES), schema=LINES_SCHEMA)


def _repeat(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string())
    ).cast(pa.string())


def line_batches(files: Iterable[SourceFile], split: Callable[[str, bytes, int], pa.Table] | None = None,
                 max_bytes: int | None = None, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Iterator[list[FileLines]]:
    """The files' lines, a batch of whole files at a time: a batch closes once it holds
    `max_bytes` (default `BATCH_BYTES`) of decompressed text. Files are read from `files` only as batches are consumed,
    so an iterator of files keeps one batch (and the file being read) in memory. A gzipped file
    is unpacked to at most `max_file_bytes`; `split(key, data, max_line_bytes)` (default
    `split_lines`) leaves a line longer than `max_line_bytes` unread."""
    split = split or split_lines
    max_bytes = max_bytes or BATCH_BYTES
    batch: list[FileLines] = []
    size = 0
    for f in files:
        if f.refused:
            batch.append(FileLines(f.key, None, None, LINES_SCHEMA.empty_table(), f.refused, refused=True))
            continue
        data, problem = decompress(f, max_file_bytes)
        batch.append(FileLines(f.key, f.sha256, len(f.data), split(f.key, data, max_line_bytes), problem))
        size += len(data)
        if size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def at_least_one(batches: Iterable[list]) -> Iterator[list]:
    """The batches, or one empty batch when there is none (so a parser's tables keep their shape)."""
    empty = True
    for batch in batches:
        empty = False
        yield batch
    if empty:
        yield []
