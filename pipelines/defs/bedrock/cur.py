"""Parse AWS CUR 2.0 (Data Exports) deliveries in their native layout:

    cur/<export>/data/BILLING_PERIOD=YYYY-MM/*.parquet          (or *.csv.gz: AWS offers both formats)
    cur/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json

The manifest is written after the data files and lists them (`dataFiles`: S3 URIs of the
delivery's files, alongside `executionId`, `exportArn`, `columns`, ...). Exactly the files it
lists are ingested: a delivered file it does not list is ignored (and counted as skipped); a
listed file that is missing is a rejected row. Each delivery restates the whole billing period.

Pure functions, no Dagster. Each data file is read with PyArrow and typed set-based by DuckDB
(`sql/ingest/cur_lines.sql`); Python only loops over files and over the few distinct product
names it asks the price catalog about.

A gzipped CSV file (`.csv.gz`, or `.csv`) has the same columns as the Parquet one, every value as
text: the columns this parser reads are read as strings, never as numbers, so a cost goes from
its text straight to DECIMAL, and the map columns (`product`, `resource_tags`) are JSON text. The
same content gives the same bronze rows either way, but for the lineage: a CSV row's
`source_line` is its line in the file, the header being line 1 (a Parquet row's is its row number).
A CSV row whose field count differs from the header's is a rejected row with its line number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from genai_prices.data_snapshot import get_snapshot

from pipelines.lib import sql
from pipelines.lib.bronze.aws import CUR_LINES
from pipelines.lib.ingest import FILES_SCHEMA, REJECTS_SCHEMA, Ingested, rejects_table
from pipelines.lib.money import loads
from pipelines.lib.store import SourceFile

SOURCE = "cur"
PREFIX = "cur/"

_MANIFEST_KEY = re.compile(r"^cur/([^/]+)/metadata/BILLING_PERIOD=(\d{4})-(\d{2})/([^/]+)-Manifest\.json$")

# The CUR 2.0 columns this parser reads; the first three are required.
REQUIRED = ("line_item_line_item_type", "line_item_usage_start_date", "line_item_unblended_cost")
COLUMNS = REQUIRED + (
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_resource_id",
    "line_item_line_item_description",
    "line_item_usage_account_id",
    "line_item_iam_principal",
    "line_item_usage_amount",
    "pricing_unit",
    "line_item_net_unblended_cost",
    "line_item_currency_code",
    "product",
    "resource_tags",
)

_PRODUCT_MODELS = pa.schema([("product_name", pa.string()), ("is_global", pa.bool_()), ("model", pa.string())])
_EDITION = re.compile(r"\s*\((?:Amazon )?Bedrock Edition\)\s*$", re.IGNORECASE)


class Rejected(ValueError):
    """A manifest or data file that cannot be used, with the reason."""


def manifest_period(key: str) -> tuple[str, date] | None:
    """(export name, first day of the billing period) of a manifest key, or None."""
    m = _MANIFEST_KEY.match(key)
    if m is None or m[1] != m[4] or not 1 <= int(m[3]) <= 12:
        return None
    return m[1], date(int(m[2]), int(m[3]), 1)


def manifest_keys(keys: Iterable[str], period: date) -> list[str]:
    """The manifests among `keys` (one per export) of the billing period starting `period`."""
    return sorted(k for k in keys if (found := manifest_period(k)) is not None and found[1] == period)


def data_prefix(export: str, period: date) -> str:
    """The folder of an export's data files for a billing period."""
    return f"cur/{export}/data/BILLING_PERIOD={period:%Y-%m}/"


def listed_keys(manifest: SourceFile) -> list[str]:
    """The store keys of the data files `manifest` lists ([] when the manifest is unusable)."""
    try:
        _, _, entries = _read_manifest(manifest)
    except Rejected:
        return []
    return [key for key, _ in entries if key is not None]


def parse_cur_delivery(
    manifest: SourceFile,
    data_files: Iterable[SourceFile],
    *,
    delivered: Iterable[str],
    con: duckdb.DuckDBPyConnection | None = None,
) -> Ingested:
    """One export's delivery for one billing period -> bronze `cur_lines` rows.

    `data_files` are the files read (normally the listed ones that were delivered); `delivered`
    names every object in the period's data folder. A file passed or delivered that the manifest
    does not list is ignored and counted as one skipped unit; a listed file that was not
    delivered is a rejected row.
    """
    con = con or sql.connect()
    files_rows: list[dict] = []
    rejects: list[dict] = []
    records: list[pa.Table] = []
    line_rejects: list[pa.Table] = []
    try:
        if manifest.refused:
            raise Rejected(manifest.refused)
        _, period, entries = _read_manifest(manifest)
    except Rejected as exc:
        # never the manifest's text: only its length (none for a file the store refused to read)
        rejects.append(_reject(manifest.key, None, str(exc),
                               "" if manifest.refused else json.dumps({"bytes": len(manifest.data)})))
        files_rows.append(_file_row(manifest.key, manifest, 1, 0, 0, 1))
        return _ingested(records, rejects, line_rejects, files_rows)

    listed = {key for key, _ in entries if key is not None}
    by_key = {f.key: f for f in data_files}
    bad_entries = [(i, raw) for i, (key, raw) in enumerate(entries, start=1) if key is None]
    for line, raw in bad_entries:
        rejects.append(_reject(manifest.key, line, "listed file is not in this billing period's data folder", raw))
    files_rows.append(_file_row(manifest.key, manifest, len(bad_entries), 0, 0, len(bad_entries)))

    for key in sorted(listed):
        f = by_key.get(key)
        if f is None:
            rejects.append(_reject(key, None, "listed in the manifest but not delivered", key))
            files_rows.append(_file_row(key, None, 1, 0, 0, 1))
            continue
        try:
            if f.refused:
                raise Rejected(f.refused)
            table, malformed, header = _read_data_file(f)
        except Rejected as exc:
            rejects.append(_reject(key, None, str(exc), ""))
            files_rows.append(_file_row(key, f, 1, 0, 0, 1))
            continue
        got, bad = _parse_file(con, f, table, period)
        records.append(got)
        line_rejects.append(pa.concat_tables([rejects_table(malformed), bad]).sort_by("line"))
        files_rows.append(_file_row(key, f, header + table.num_rows + len(malformed), got.num_rows, header,
                                    bad.num_rows + len(malformed)))

    for key in sorted((set(delivered) | set(by_key)) - listed):
        files_rows.append(_file_row(key, by_key.get(key), 1, 0, 1, 0))
    return _ingested(records, rejects, line_rejects, files_rows)


def _read_manifest(f: SourceFile) -> tuple[str, date, list[tuple[str | None, str]]]:
    """(export, period, [(store key or None, entry as written)]) of a manifest."""
    found = manifest_period(f.key)
    if found is None:
        raise Rejected("not a CUR 2.0 manifest key: cur/<export>/metadata/BILLING_PERIOD=YYYY-MM/"
                       "<export>-Manifest.json")
    export, period = found
    try:
        doc = loads(f.data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("dataFiles"), list):
        raise Rejected("manifest has no 'dataFiles' list")
    folder = f"{export}/data/BILLING_PERIOD={period:%Y-%m}/"
    entries = []
    for entry in doc["dataFiles"]:
        text = entry.get("key") if isinstance(entry, dict) else entry
        # an entry as written, when it is the key itself or an object's key; else only its type
        written = text if isinstance(text, str) else f"<{type(entry).__name__}>"
        entries.append((_store_key(text, folder), json.dumps(written)))
    return export, period, entries


def _store_key(entry: Any, folder: str) -> str | None:
    """The store key of a listed file (an S3 URI or key ending in `<export>/data/<period>/<file>`)."""
    if not isinstance(entry, str):
        return None
    path = re.sub(r"^s3://[^/]+/", "", entry)
    at = path.rfind(folder)
    if at < 0 or (at > 0 and path[at - 1] != "/"):
        return None
    name = path[at + len(folder):]
    if not name or "/" in name or name in (".", ".."):
        return None
    return "cur/" + folder + name


def is_csv(key: str) -> bool:
    """Whether a data file is CSV (`.csv.gz` or `.csv`), else Parquet."""
    return key.endswith((".csv.gz", ".csv"))


def _read_data_file(f: SourceFile) -> tuple[pa.Table, list[dict], int]:
    """The file's columns this parser reads and `source_line`, the rejected rows of CSV lines
    that could not be split into the header's fields (none for Parquet), and the header lines
    (a CSV file's first line is read and skipped: its lines read are the header and the rows)."""
    if is_csv(f.key):
        return *_read_csv(f), 1
    return _read_parquet(f), [], 0


def _read_parquet(f: SourceFile) -> pa.Table:
    """The file's columns this parser reads (absent optional ones as NULL text) and `source_line`."""
    try:
        reader = pq.ParquetFile(pa.BufferReader(f.data))
        names = set(reader.schema_arrow.names)
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise Rejected("missing CUR 2.0 column(s): " + ", ".join(missing))
        table = reader.read(columns=[c for c in COLUMNS if c in names])
    except (pa.ArrowException, OSError) as exc:
        raise Rejected(f"not a readable Parquet file: {exc}") from None
    for name in COLUMNS:
        if name not in names:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table.append_column("source_line", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))


def _gzipped(f: SourceFile) -> bool:
    return f.key.endswith(".gz") or f.data[:2] == b"\x1f\x8b"


def _csv_stream(f: SourceFile) -> pa.NativeFile:
    return pa.input_stream(pa.py_buffer(f.data), compression="gzip" if _gzipped(f) else None)


def _csv_header(f: SourceFile) -> list[str]:
    """The column names of a CSV file's header, as PyArrow's reader splits it (only the first
    block is read)."""
    try:
        reader = pacsv.open_csv(_csv_stream(f), read_options=pacsv.ReadOptions(use_threads=False),
                                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"))
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise Rejected(f"not a readable CSV file: {exc}") from None
    try:
        return reader.schema.names
    finally:
        reader.close()


def _read_csv(f: SourceFile) -> tuple[pa.Table, list[dict]]:
    """A CUR 2.0 CSV file: the columns this parser reads as text (an empty field is NULL), and
    one rejected row per line whose field count is not the header's. `source_line` is the line
    of each row, the header being line 1 (rows are one line each unless a quoted field holds a
    line break: then the count goes on by rows)."""
    names = set(_csv_header(f))
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise Rejected("missing CUR 2.0 column(s): " + ", ".join(missing))
    present = [c for c in COLUMNS if c in names]
    malformed: list[dict] = []

    def invalid(row) -> str:  # called for malformed lines only
        malformed.append(_reject(f.key, row.number, f"CSV line has {row.actual_columns} fields, the header "
                                 f"has {row.expected_columns}", json.dumps({"fields": row.actual_columns})))
        return "skip"

    try:
        table = pacsv.read_csv(
            _csv_stream(f),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in present}, include_columns=present, null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise Rejected(f"not a readable CSV file: {exc}") from None
    table = pa.table({c: table[c] if c in names else pa.nulls(table.num_rows, pa.string()) for c in COLUMNS})
    numbers = np.arange(2, table.num_rows + len(malformed) + 2, dtype=np.int64)
    lines = numbers[~np.isin(numbers, np.array([r["line"] for r in malformed], dtype=np.int64))]
    return table.append_column("source_line", pa.array(lines)), malformed


def _parse_file(con: duckdb.DuckDBPyConnection, f: SourceFile, table: pa.Table, period: date):
    con.register("cur_raw", table)
    try:
        sql.run(con, "ingest/cur_lines", file=f.key, billing_period=period)
        names = sql.table(con, "ingest/cur_lines__product_names").to_pylist()
        models = [dict(row, model=model_for_product(row["product_name"], row["is_global"])) for row in names]
        con.register("product_models", pa.Table.from_pylist(models, schema=_PRODUCT_MODELS))
        records = sql.table(con, "ingest/cur_lines__records", sha256=f.sha256)
        rejects = sql.table(con, "ingest/cur_lines__rejects", source=SOURCE)
    finally:
        con.unregister("cur_raw")
        con.unregister("product_models")
        con.execute("drop table if exists parsed_cur")
    return records.cast(CUR_LINES), rejects.cast(REJECTS_SCHEMA)


@lru_cache(maxsize=1024)
def model_for_product(product_name: str, is_global: bool = False) -> str | None:
    """The price catalog's AWS model id for a CUR product name, or None.

    `Claude Sonnet 4.5 (Amazon Bedrock Edition)` loses its edition suffix and is matched, case
    and spacing aside, against the `name`s of genai-prices' `aws` models; the catalog names its
    Anthropic-on-Bedrock models only under `anthropic`, so a name found there maps to the `aws`
    models with that id (`claude-sonnet-4-5` -> `regional.anthropic.claude-sonnet-4-5-20250929-v1:0`).
    Where a model exists both as a global and a regional profile, the usage type's `_Global`
    flag chooses; an ambiguous name stays unmatched.
    """
    name = _normal(_EDITION.sub("", product_name))
    providers = {p.id: p for p in get_snapshot().providers}
    aws = providers["aws"].models
    candidates = [m.id for m in aws if m.name and _normal(m.name) == name]
    if not candidates and "anthropic" in providers:
        for model in providers["anthropic"].models:
            if model.name and _normal(model.name) == name:
                pattern = re.compile(
                    rf"^(?:(?:regional|global)\.)?anthropic\.{re.escape(model.id)}(?:-\d{{8}})?(?:-v\d+(?::\d+)?)?$"
                )
                candidates += [m.id for m in aws if pattern.match(m.id)]
    preferred = [c for c in candidates if c.startswith("global.") == is_global]
    for group in (preferred, candidates):
        if len(group) == 1:
            return group[0]
    return None


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def _reject(key: str, line: int | None, reason: str, raw: str) -> dict:
    return {"source": SOURCE, "file": key, "line": line, "reason": reason, "raw": raw[:4096]}


def _file_row(key: str, f: SourceFile | None, read: int, records: int, skipped: int, rejected: int) -> dict:
    return {"source": SOURCE, "file": key, "sha256": f.sha256 if f else None,
            "bytes": len(f.data) if f and not f.refused else None,
            "lines_read": read, "records": records, "skipped": skipped, "rejected": rejected}


def _ingested(records: list[pa.Table], rejects: list[dict], line_rejects: list[pa.Table], files_rows: list[dict]):
    return Ingested(
        records=pa.concat_tables(records) if records else CUR_LINES.empty_table(),
        rejects=pa.concat_tables([rejects_table(rejects), *line_rejects]),
        files=pa.Table.from_pylist(files_rows, schema=FILES_SCHEMA),
    )
