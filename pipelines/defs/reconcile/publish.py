"""Publishing days into the warehouse file without ever blocking or confusing a reader.

The warehouse (`DARKCOMPUTE_WAREHOUSE`) is derived state: everything in it is rebuilt from the
lake's marts (`lake/marts/<table>/date=<day>/`), restatements included. A day is published by
writing a whole new file beside the old one (a copy of it, or a rebuild from the lake when the
old one cannot be opened), applying the day to the copy, checkpointing and closing it, and
renaming it over the old one. A reader with the old file open (`darkcompute sql` in another
process, a read-only DuckDB connection) keeps reading the old file until it reconnects, never
holds a lock the publisher needs, and never sees half a day. Publishers take turns (an exclusive
`flock` on `.<warehouse>.publish.lock`): two at once would start from the same old file, and the
last rename would silently drop the other's days. Every publication also (re)writes the table and
column comments (`apply_comments`): the marts' from their dbt models' descriptions, the other
tables' from `sql/publish/_tables.yml`.

No Dagster here: `warehouse_tables` calls `publish`; tests call it directly.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from pipelines.lib import dbt as dbt_project
from pipelines.lib import sql
from pipelines.lib.disk import explained, is_disk_error
from pipelines.lib.lake import Lake, temp_path
from pipelines.lib.runlock import process_alive

log = logging.getLogger("darkcompute")

RESTATEMENTS = "restatements"  # lake/marts/restatements/date=<usage day>/restated-<as of>-<digest>.parquet
MIGRATED = "migrated-from-warehouse.parquet"  # restatements an older warehouse held only in itself
# The DuckDB storage format the warehouse is written in: the newest the published standalone
# shell reads (duckdb-cli 1.5.x reads storage versions 64-68; duckdb 2.0's default, 69, it refuses).
# A file keeps the format it was created in, so a warehouse written in another one is converted once.
STORAGE_VERSION = "v1.5.0"
PUBLISH_WAIT_SECONDS = 900.0  # how long a publisher waits for another one to finish before failing
TABLES_YML = sql.SQL_DIR / "publish" / "_tables.yml"  # descriptions of the tables dbt does not build


@dataclass
class Published:
    """What one publication did."""

    path: str
    days: list[date]
    rebuilt: bool = False
    rebuilt_days: list[date] = field(default_factory=list)
    skipped_days: list[str] = field(default_factory=list)
    restatements: int = 0
    seconds_copy: float = 0.0
    notice: str = ""


def restatement_rows(con: duckdb.DuckDBPyConnection, published: pa.Table | None, incoming: pa.Table,
                     restated_at: datetime) -> pa.Table | None:
    """The rows `marts/restatements.sql` finds between the day's mart as published and as
    recomputed; None when there was nothing published to compare with."""
    if published is None:
        return None
    for column in incoming.schema:  # a mart published before a column was added (price_tier, ...)
        if column.name not in published.column_names:
            fill = "standard" if column.name == "price_tier" else None  # its rows were one tier
            published = published.append_column(column, pa.array([fill] * published.num_rows, column.type))
    con.register("published", published)
    con.register("incoming", incoming)
    try:
        return sql.table(con, "publish/restatement_rows", restated_at=restated_at)
    finally:
        con.unregister("published")
        con.unregister("incoming")


def restatement_file_name(rows: pa.Table, restated_at: datetime) -> str:
    """A name per restatement: when, and a digest of what changed (a re-run that restates the same
    rows as of the same time writes the same file again instead of a second copy)."""
    digest = hashlib.sha256(repr(rows.to_pylist()).encode()).hexdigest()[:12]
    return f"restated-{restated_at.strftime('%Y%m%dT%H%M%SZ')}-{digest}.parquet"


def publish(
    path: str | Path, lake: Lake, days: list[date], *, connect: Callable[[str], duckdb.DuckDBPyConnection],
    day_files: Callable[[date], list[str]], temp_directory: str = "",
) -> Published:
    """Publish `days` from the lake into the warehouse file at `path`, by rename.

    `connect(path)` opens a DuckDB session with the project's settings; `day_files(day)` lists a
    delivery day's bronze `_files` partitions (for `ingest_files`). A warehouse that cannot be
    opened is rebuilt from every day the lake's marts hold (days whose identity does not hold
    are left out and named), and `Published.notice` says so. Every filesystem error names its
    path and setting (`DARKCOMPUTE_WAREHOUSE`, `DARKCOMPUTE_DUCKDB_TEMP_DIR`, `DARKCOMPUTE_LAKE_DIR`).
    """
    target = Path(path)
    places = [(target.parent, "DARKCOMPUTE_WAREHOUSE", str(target)), (lake.root, lake.setting, str(lake.root))]
    if temp_directory:
        places.insert(0, (temp_directory, "DARKCOMPUTE_DUCKDB_TEMP_DIR", temp_directory))
    out = Published(path=str(target), days=list(days))
    with explained(places, during="publishing the warehouse"):
        target.parent.mkdir(parents=True, exist_ok=True)
        with one_publisher_at_a_time(target):
            _publish(target, lake, days, connect, day_files, out)
    return out


@contextmanager
def one_publisher_at_a_time(target: Path, wait: float = PUBLISH_WAIT_SECONDS) -> Iterator[None]:
    """Hold the warehouse's publish lock (an exclusive `flock` on `.<name>.publish.lock` beside
    it) for the block, waiting up to `wait` seconds for another publisher to finish. The CLI's
    run lock and Dagster's `duckdb_warehouse` pool keep most publishers apart, but not two lakes
    or two Dagster instances sharing one warehouse file. The lock dies with its process."""
    lock = target.with_name(f".{target.name}.publish.lock")
    handle = open(lock, "a")
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"another process has been publishing the warehouse {target} for over {wait:.0f} s "
                        f"(it holds {lock}): let it finish, or end it, and run again") from None
                time.sleep(0.05)
        yield
    finally:
        handle.close()


def _publish(target: Path, lake: Lake, days: list[date], connect, day_files, out: Published) -> None:
    """`publish`'s work, with the publish lock held."""
    _sweep(target)
    tmp = temp_path(target)
    try:
        problem = _copy_published(target, tmp, connect, out)
        if problem is None:
            _convert_storage(tmp, connect)
            try:
                _apply(tmp, lake, days, connect, day_files, out, migrate=True)
            except (duckdb.Error, OSError) as exc:
                if is_disk_error(exc) or not _unreadable(exc):
                    raise
                problem = str(exc).strip()  # a damaged block found only when the day touched it
        if problem is not None:
            problem = problem.replace(str(tmp), str(target))  # DuckDB named the copy; the damage is the published file's
            _remove(tmp)
            out.rebuilt = True
            out.rebuilt_days, out.skipped_days = _rebuild_days(lake, set(days))
            _create(tmp)
            _apply(tmp, lake, out.rebuilt_days, connect, day_files, out, rebuild=True)
            out.notice = _rebuild_notice(target, problem, out)
            (log.warning if problem else log.info)(out.notice)
        os.replace(tmp, target)
        Path(f"{target}.wal").unlink(missing_ok=True)  # a log an in-place writer once left belongs to the old file
    finally:
        _remove(tmp)


def _copy_published(target: Path, tmp: Path, connect, out: Published) -> str | None:
    """Copy the published file to `tmp` and check that DuckDB can open it and list its tables;
    return why not (the file is then rebuilt), or None. No file at all is rebuilt silently."""
    if not target.exists():
        return ""
    started = time.monotonic()
    shutil.copyfile(target, tmp)
    if Path(f"{target}.wal").exists():
        shutil.copyfile(f"{target}.wal", f"{tmp}.wal")
    out.seconds_copy = time.monotonic() - started
    try:
        con = connect(str(tmp))
    except duckdb.Error as exc:
        if is_disk_error(exc):
            raise
        return str(exc).strip()
    try:
        for (table,) in con.execute("select table_name from duckdb_tables() where database_name = current_database()").fetchall():
            con.execute(f'select count(*) from "{table}"').fetchall()
    except duckdb.Error as exc:
        if is_disk_error(exc):
            raise
        return str(exc).strip()
    finally:
        con.close()
    return None


def _create(tmp: Path) -> None:
    """An empty DuckDB file at `tmp` in `STORAGE_VERSION` (every later write keeps it)."""
    duckdb.connect(str(tmp), config={"storage_compatibility_version": STORAGE_VERSION}).close()


def storage_version(con: duckdb.DuckDBPyConnection, database: str | None = None) -> str:
    """The storage format of a connection's database file, e.g. `v1.5.0` (DuckDB tags it `v1.5.0+`)."""
    tags = con.execute("select tags from duckdb_databases() where database_name = coalesce($d, current_database())",
                       {"d": database}).fetchall()[0][0]
    return (tags or {}).get("storage_version", "").rstrip("+")


def _convert_storage(tmp: Path, connect) -> None:
    """Rewrite the copy at `tmp` in `STORAGE_VERSION` if it is in another format (a warehouse
    published before the format was pinned): every table, view and comment, by DuckDB's
    `copy from database`."""
    con = connect(str(tmp))
    converted = tmp.with_name(f"{tmp.name}.convert")
    try:
        try:
            if storage_version(con) == STORAGE_VERSION:
                return
            name = con.execute("select current_database()").fetchall()[0][0].replace('"', '""')
            _remove(converted)
            con.execute(f"attach '{str(converted).replace(chr(39), chr(39) * 2)}' as converted "
                        f"(storage_version '{STORAGE_VERSION}')")
            con.execute(f'copy from database "{name}" to converted')
            con.execute("detach converted")
        finally:
            con.close()
        os.replace(converted, tmp)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    finally:
        _remove(converted)


def _apply(tmp: Path, lake: Lake, days: list[date], connect, day_files, out: Published,
           migrate: bool = False, rebuild: bool = False) -> None:
    con = connect(str(tmp))
    try:
        if migrate:
            _migrate_restatements(con, lake)
        for day in days:
            _publish_day(con, lake, day, day_files(day))
        con.register("incoming_restatements", _restatements(lake, None if rebuild else days))
        sql.run_script(con, "publish/restatements", days=list(days))
        con.unregister("incoming_restatements")
        _create_views(con)
        out.restatements = con.execute("select count(*) from restatements").fetchall()[0][0]
        apply_comments(con)
        con.execute("checkpoint")
    finally:
        con.close()


REDISTRIBUTION_NEEDS = ("fct_spend_reconciliation", "fct_dark_compute")
COST_GROWTH_NEEDS = ("fct_spend_reconciliation", "fct_dark_compute", "fct_feature_users")


def _create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the redistribution views (`sql/publish/redistributed_views.sql`: each account's
    unlogged dollars spread over its attributed classes, proportionally and evenly) once the marts
    they read are in the warehouse; the stored marts keep the raw residual. Likewise the weekly
    `fct_cost_growth` (`sql/publish/cost_growth_view.sql`): a week spans days, the day's dbt build
    one day, so the week is a view over the published daily marts."""
    present = {name for (name,) in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database()").fetchall()}
    if set(REDISTRIBUTION_NEEDS) <= present:
        sql.run_script(con, "publish/redistributed_views")
    if set(COST_GROWTH_NEEDS) <= present:
        sql.run_script(con, "publish/cost_growth_view")


def table_descriptions() -> dict[str, tuple[str, dict[str, str]]]:
    """What every warehouse table and column means: table -> (description, {column: description}).
    The marts' come from the dbt manifest (their models' YAML, `sql/models/marts/_marts.yml`), the
    other tables' from `sql/publish/_tables.yml`; a column of `any_table` there (the partition
    column `date`) is described wherever it appears. Whitespace is folded to single spaces."""
    def fold(text: str | None) -> str:
        return " ".join((text or "").split())

    written = yaml.safe_load(TABLES_YML.read_text())
    tables = {name: (fold(t["description"]), {c: fold(d) for c, d in t["columns"].items()})
              for name, t in written["tables"].items()}
    nodes = dbt_project.manifest()["nodes"]
    for mart in dbt_project.MARTS:
        node = nodes[f"model.darkcompute.{mart}"]
        tables[mart] = (fold(node["description"]), {c: fold(v["description"]) for c, v in node["columns"].items()})
    any_table = {c: fold(d) for c, d in written.get("any_table", {}).items()}
    return {name: (text, {**any_table, **columns}) for name, (text, columns) in tables.items()}


def apply_comments(con: duckdb.DuckDBPyConnection) -> None:
    """`comment on` every table and column of the warehouse that `table_descriptions` describes,
    where the comment is not already that text (a re-publication rewrites only what changed).
    Comments live in the file's catalog: a copy keeps them, a rebuild writes them again."""
    described = table_descriptions()
    current = con.execute(
        "select table_name, null as column_name, comment from duckdb_tables() where database_name = current_database() "
        "union all select view_name, null, comment from duckdb_views() where database_name = current_database() "
        "and not internal "
        "union all select table_name, column_name, comment from duckdb_columns() where database_name = current_database()"
    ).fetchall()
    statements = []
    for table, column, comment in current:
        text = described.get(table, ("", {}))[0] if column is None else described.get(table, ("", {}))[1].get(column)
        if not text or text == comment:
            continue
        literal = "'" + text.replace("'", "''") + "'"
        target = f'table "{table}"' if column is None else f'column "{table}"."{column}"'
        statements.append(f"comment on {target} is {literal}")
    if statements:
        con.execute("begin transaction")
        try:
            for statement in statements:
                con.execute(statement)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise


def _publish_day(con: duckdb.DuckDBPyConnection, lake: Lake, day: date, files: list[str]) -> None:
    """The day's rows of the marts, rejected_records, source_status and ingest_files, each
    replaced in one transaction (a mart the lake does not hold for the day is left as it is)."""
    for mart in dbt_project.MARTS:
        if (path := lake.partition_file("marts", mart, day)).exists():
            sql.run_script(con, f"publish/{mart}", path=str(path), usage_date=day)
    for table in ("rejected_records", "source_status"):
        if (path := lake.partition_file("marts", table, day)).exists():
            sql.run_script(con, f"publish/{table}", path=str(path), delivery_date=day)
    if files:
        sql.run_script(con, "publish/ingest_files", paths=files, delivery_date=day)


def _restatements(lake: Lake, days: list[date] | None) -> pa.Table:
    """Every restatement the lake holds for `days` (None: all days), as one Arrow table."""
    folder = lake.table_dir("marts", RESTATEMENTS)
    files = sorted(folder.glob("date=*/*.parquet")) if days is None else sorted(
        p for d in days for p in (folder / f"date={d.isoformat()}").glob("*.parquet"))
    tables = []
    for file in files:
        try:
            tables.append(pq.read_table(file))
        except (pa.ArrowException, OSError) as exc:
            if isinstance(exc, OSError) and is_disk_error(exc):
                raise
            log.warning("restatements file %s could not be read (%s): its rows are not in the warehouse; "
                        "move it away to silence this", file, str(exc).strip())
    if not tables:
        return _empty_restatements()
    return pa.concat_tables(tables, promote_options="default")


def _empty_restatements() -> pa.Table:
    con = duckdb.connect()
    try:
        empty = pa.table({c: pa.array([], t) for c, t in [
            ("usage_date", pa.date32()), ("provider", pa.string()), ("billing_account", pa.string()),
            ("model", pa.string()), ("price_tier", pa.string()), ("status", pa.string()), ("reconciled_at", pa.timestamp("us", "UTC")),
            *[(f"{c}_cost_usd", pa.decimal128(38, 12)) for c in
              ("invoice", "user", "background", "retry", "unlogged", "non_token")]]})
        con.register("published", empty)
        con.register("incoming", empty)
        return sql.table(con, "publish/restatement_rows", restated_at=datetime(1970, 1, 1))
    finally:
        con.close()


def _migrate_restatements(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """A warehouse written before restatements were kept in the lake holds them only in itself:
    copy them into the lake once (one file per usage day), so no publication or rebuild loses them."""
    if lake.table_dir("marts", RESTATEMENTS).exists():
        return
    found = con.execute("select count(*) from duckdb_tables() where table_name = 'restatements' "
                        "and database_name = current_database()").fetchall()[0][0]
    if not found:
        return
    rows = con.sql("select * from restatements order by all").to_arrow_table()
    if not rows.num_rows:
        return
    with lake.replace_together() as batch:
        for day in sorted(set(rows["usage_date"].to_pylist())):
            day_rows = rows.filter(pc.equal(rows["usage_date"], pa.scalar(day, pa.date32())))
            batch.write("marts", RESTATEMENTS, day, day_rows, name=MIGRATED)


def _rebuild_days(lake: Lake, publishing: set[date]) -> tuple[list[date], list[str]]:
    """Every day the lake's marts hold, but those whose fct_spend_reconciliation breaks the
    identity (the blocking check kept them from the warehouse once; a rebuild must too), with
    why each was left out. The days being published passed their check in this run."""
    found = sorted(publishing | {d for t in (*dbt_project.MARTS, "rejected_records", "source_status")
                                 for d in lake.days("marts", t)})
    keep, skipped = [], []
    con = duckdb.connect()
    try:
        for day in found:
            path = lake.partition_file("marts", "fct_spend_reconciliation", day)
            if day not in publishing and path.exists():
                try:
                    violations, worst = sql.run(con, "checks/identity", path=str(path)).fetchall()[0]
                except duckdb.Error as exc:
                    if is_disk_error(exc):
                        raise
                    skipped.append(f"{day} ({path} could not be read: {str(exc).strip()})")
                    continue
                if violations:
                    skipped.append(f"{day} (identity broken on {violations} rows, worst gap {worst} USD)")
                    continue
            keep.append(day)
    finally:
        con.close()
    return keep, skipped


def _rebuild_notice(target: Path, problem: str, out: Published) -> str:
    days = out.rebuilt_days
    span = f"{len(days)} day{'s' if len(days) > 1 else ''}, {days[0]} to {days[-1]}" if days else "no days"
    why = f"could not be opened ({problem})" if problem else "did not exist"
    left_out = f"; left out: {'; '.join(out.skipped_days)}" if out.skipped_days else ""
    return (f"the warehouse {target} {why}: rebuilt from the lake's marts ({span}) and its "
            f"{out.restatements} restatements{left_out}")


def _unreadable(exc: BaseException) -> bool:
    """DuckDB's words for a damaged file (as opposed to a bug in a query)."""
    text = str(exc).lower()
    return isinstance(exc, (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException)) or any(
        w in text for w in ("corrupt", "checksum", "could not read", "not a valid duckdb"))


def _remove(tmp: Path) -> None:
    tmp.unlink(missing_ok=True)
    Path(f"{tmp}.wal").unlink(missing_ok=True)


def _sweep(target: Path) -> None:
    """Remove the temporary warehouse files of publishers that are no longer running (the pid
    in the name says whose a file is)."""
    prefix = f".{target.name}."
    for stale in target.parent.glob(f"{prefix}*.tmp*"):
        pid = stale.name.removeprefix(prefix).partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and process_alive(int(pid)):
            continue
        stale.unlink(missing_ok=True)
