"""Write many text files at once from one column of lines, without a loop over lines.

The frame is sorted so that each file's lines are contiguous; every file's bytes are then one
slice of the Arrow data buffer holding all lines. Files ending in `.gz` are gzipped with mtime 0
(byte-identical reruns). zlib and file I/O release the GIL, so a few threads write in parallel.
"""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

GZIP_LEVEL = 6


def write_files(root: Path, frame: pl.DataFrame, path: str = "path", line: str = "line") -> list[Path]:
    """Write each distinct `path` (relative to `root`) with its rows' `line` texts, concatenated
    in frame order. The rows of one path must be contiguous."""
    if frame.height == 0:
        return []
    runs = _runs(frame, path, line)

    def write(run: tuple[str, memoryview]) -> Path:
        target, payload = root / run[0], run[1]
        if target.name.endswith(".gz"):
            payload = gzip.compress(payload, compresslevel=GZIP_LEVEL, mtime=0)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
        return target

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(write, runs))


def _runs(frame: pl.DataFrame, path: str, line: str) -> list[tuple[str, memoryview]]:
    """Each contiguous run of rows of one `path`, as its name and the bytes of its lines: a
    zero-copy slice of the Arrow buffer holding all lines (the view keeps the buffer alive).
    Refuses a frame where one path's rows are not contiguous."""
    text = frame[line].to_arrow()
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    if text.type != pa.large_string():
        text = text.cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset: text.offset + len(text) + 1]
    data = text.buffers()[2]
    groups = frame.select(path).with_columns(run=pl.col(path).rle_id()).group_by("run", maintain_order=True).agg(
        pl.col(path).first(), n=pl.len())
    if groups[path].n_unique() != groups.height:
        raise ValueError("the rows of a file are not contiguous")
    starts = np.cumsum(np.concatenate([[0], groups["n"].to_numpy()]))
    empty = memoryview(b"")
    return [(name, memoryview(data)[int(offsets[lo]): int(offsets[hi])] if data is not None else empty)
                  for name, lo, hi in zip(groups[path].to_list(), starts[:-1], starts[1:], strict=True)]


class FileSink:
    """Append columns of lines to many files, chunk after chunk, in bounded memory.

    `append(frame)` writes each contiguous run of `path` rows to its file (opened on first sight,
    kept open, gzipped as one stream with mtime 0 when the name ends in `.gz`); the files of one
    chunk are written by a few threads. `close()` closes every file and returns them in order.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.open: dict[str, object] = {}
        self.paths: list[Path] = []
        self.pool = ThreadPoolExecutor(max_workers=4)

    def append(self, frame: pl.DataFrame, path: str = "path", line: str = "line") -> None:
        if frame.height == 0:
            return
        runs = _runs(frame, path, line)
        for name, _ in runs:
            if name not in self.open:
                target = self.root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                raw = open(target, "wb")
                self.open[name] = (gzip.GzipFile(filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=raw, mtime=0)
                                   if name.endswith(".gz") else raw), raw
                self.paths.append(target)

        def write(run: tuple[str, memoryview]) -> None:
            self.open[run[0]][0].write(run[1])

        list(self.pool.map(write, runs))

    def close(self) -> list[Path]:
        for stream, raw in self.open.values():
            stream.close()
            raw.close()
        self.open.clear()
        self.pool.shutdown()
        return self.paths
