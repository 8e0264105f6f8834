"""Hand-written payloads in the providers' documented shapes, and a tiny lake builder."""

from __future__ import annotations

import json
import tempfile
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pyarrow as pa

from pipelines.defs.logs.parse import parse_log_files
from pipelines.defs.openai.parse import parse_cost_pages, parse_usage_pages
from pipelines.lib import dbt
from pipelines.lib.lake import Lake
from pipelines.lib.store import SourceFile

DAY = date(2026, 11, 2)


def unix(day: date, hour: int = 0) -> int:
    return int(datetime.combine(day, time(hour), tzinfo=timezone.utc).timestamp())


def usage_page(day: date, results: list[dict], endpoint: str = "completions") -> str:
    """An OpenAI Usage API page with one 1d bucket."""
    kind = f"organization.usage.{endpoint}.result"
    return json.dumps(
        {
            "object": "page",
            "data": [
                {
                    "object": "bucket",
                    "start_time": unix(day),
                    "end_time": unix(day) + 86400,
                    "results": [{"object": kind, "user_id": None, "api_key_id": None, **r} for r in results],
                }
            ],
            "has_more": False,
            "next_page": None,
        }
    )


def cost_page(day: date, lines: list[tuple[str | None, str, str]]) -> str:
    """An OpenAI Costs API page: (line_item, project_id, amount as a JSON number literal)."""
    results = ",".join(
        '{"object": "organization.costs.result", "amount": {"value": %s, "currency": "usd"}, '
        '"line_item": %s, "project_id": "%s", "api_key_id": null, "quantity": null, "quantity_unit": null}'
        % (amount, json.dumps(item), project)
        for item, project, amount in lines
    )
    return (
        '{"object": "page", "data": [{"object": "bucket", "start_time": %d, "end_time": %d, "results": [%s]}], '
        '"has_more": false, "next_page": null}' % (unix(day), unix(day) + 86400, results)
    )


def call(ts: str = "2026-11-02T10:00:00Z", **fields) -> str:
    """One flat OpenTelemetry-named log line for an OpenAI call (`gen_ai_x` -> `gen_ai.x`)."""
    record = {"timestamp": ts, "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
              "billing.account": "proj_a"}
    for key, value in fields.items():
        record[key.replace("__", ".")] = value
    return json.dumps(record)


def usage(input_tokens: int, output_tokens: int, cache_read: int = 0, **fields) -> dict:
    return {"gen_ai__usage__input_tokens": input_tokens, "gen_ai__usage__output_tokens": output_tokens,
            "gen_ai__usage__cache_read__input_tokens": cache_read, **fields}


def write_day(
    lake_dir: Path,
    day: date,
    *,
    usage_pages: list[str] = (),
    cost_pages: list[str] | None = (),
    app_lines: list[str] = (),
    worker_lines: list[str] = (),
) -> Lake:
    """Parse the payloads of one delivery day and write them to the bronze layer.

    `cost_pages=None` means the cost export has not arrived (no file at all).
    """
    lake = Lake(lake_dir)
    folder = day.isoformat()
    parsed = {
        "openai_usage": parse_usage_pages(
            [SourceFile(f"openai/usage/completions/{folder}/p{i}.json", p.encode()) for i, p in enumerate(usage_pages)],
            endpoint="completions", folder_date=day),
        "openai_costs": parse_cost_pages(
            [SourceFile(f"openai/costs/{folder}/p{i}.json", p.encode()) for i, p in enumerate(cost_pages or [])],
            folder_date=day),
        "app_calls": parse_log_files(
            [SourceFile(f"app_logs/{folder}/app.jsonl", ("\n".join(app_lines) + "\n").encode())] if app_lines else [],
            log_source="app", folder_date=day),
        "worker_calls": parse_log_files(
            [SourceFile(f"worker_logs/{folder}/w.jsonl", ("\n".join(worker_lines) + "\n").encode())]
            if worker_lines else [],
            log_source="worker", folder_date=day),
    }
    for table, ingested in parsed.items():
        lake.write("bronze", table, day, ingested.records)
        lake.write("bronze", f"{table}_files", day, ingested.files)
        lake.write("bronze", f"{table}_rejects", day, ingested.rejects)
    return lake


def build_models(day: date, bronze: list[tuple[str, date, pa.Table]], models: tuple[str, ...]) -> dict[str, pa.Table]:
    """dbt-build `models` and their parents for `day` over a temporary lake holding `bronze`
    (`(table, folder date, records)`: each written as the bronze partition of that folder; CUR
    tables under their billing period) and return the models' tables.

    The run reads the lake as a day's run does (the delivery window D-1..D+1, the billing
    period's CUR partition), so a partition outside the window is not read."""
    partitions = [(table, folder) for table, folder, _ in bronze]
    if len(set(partitions)) != len(partitions):
        raise ValueError(f"a bronze partition is given twice: {partitions}")
    as_of = datetime.combine(day + timedelta(days=1), time(), timezone.utc)
    with tempfile.TemporaryDirectory(prefix="darkcompute-test-lake-") as root:
        lake = Lake(root)
        for table, folder, records in bronze:
            lake.write("bronze", table, folder, records)
        result = dbt.build(lake, day, as_of, select=[f"+{m}" for m in models], keep=tuple(models))
    assert result.success, result.failures
    return result.kept


def build_day(lake: Lake, day: date, as_of: datetime, keep: tuple[str, ...] = (),
              settle_days: dict[str, int] | None = None) -> dbt.Build:
    """The whole day's dbt build as `reconcile_day` runs it (the day's price catalog written
    first), keeping the `keep` models' tables (`Build.kept`) beside the marts."""
    from pipelines.defs.reconcile.model import ensure_catalog

    ensure_catalog(lake, day)
    result = dbt.build(lake, day, as_of, settle_days, keep=keep)
    assert result.success, result.failures
    return result
