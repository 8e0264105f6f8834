"""The synthetic world and its writers: `simulate(out, start, days, ...)`.

    world.py    billed model calls of a day, as columns (user traffic, background jobs, a service
                that does not log, SDK-internal retries) plus how each call reaches the logs
    logs.py     app_logs/<day>/app-NN.jsonl and worker_logs/<day>/worker-NN.jsonl.gz
    openai.py   OpenAI Usage API (completions, embeddings) and Costs API pages
    truth.py    ground_truth.json: the split a perfect reconciliation of the logs must report
    pricing.py  exact Decimal costs and JSON with exact decimal literals

Another provider is added as new rows in `world.py` (its `provider` value) and a writer module
like `openai.py` that returns its cost lines; `truth.day_truth` is per provider already.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from . import logs, truth
from .openai import write_openai_day
from .world import PROVIDER, generate_day

__all__ = ["simulate"]


def simulate(out: Path, start: date, days: int, calls_per_day: int = 2000, seed: int = 7) -> dict:
    """Write a consistent synthetic world under `out/sources/` and its truth in `out/ground_truth.json`.

    Deterministic: the same arguments give byte-identical files. An existing `out/sources/` is
    replaced. Returns a summary: billed calls, invoice per day, files written.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if calls_per_day < 1:
        raise ValueError("calls_per_day must be at least 1")
    out = Path(out)
    sources = out / "sources"
    if sources.exists():
        shutil.rmtree(sources)
    sources.mkdir(parents=True)

    rng = np.random.Generator(np.random.PCG64(seed))
    files: list[Path] = []
    days_truth: dict[str, dict] = {}
    carry = logs.empty_lines()  # late lines of the previous day, written into this day's folder
    for i in range(days):
        day = start + timedelta(days=i)
        world = generate_day(rng, day, calls_per_day, seed)
        written, cost_lines = write_openai_day(sources, day, world.calls, world.non_token)
        files += written
        days_truth[day.isoformat()] = {PROVIDER: truth.day_truth(PROVIDER, day, world.calls, cost_lines)}

        lines = logs.concat_lines(
            [carry, logs.render_call_lines(world.calls, day), logs.render_lifecycle_lines(world.lifecycle, day)]
        )
        files += logs.write_log_folder(sources, day, lines)
        carry = lines.filter(lines["folder_date"] == day + timedelta(days=1))
    files += logs.write_log_folder(sources, start + timedelta(days=days), carry)  # the folder after the last day

    (out / "ground_truth.json").write_text(json.dumps({"days": days_truth}, indent=2) + "\n")
    return {
        "out": str(out),
        "seed": seed,
        "days": {
            d: {
                "provider_requests": t[PROVIDER]["provider_requests"],
                "logged_calls": t[PROVIDER]["logged_calls"],
                "invoice_usd": t[PROVIDER]["invoice_usd"],
            }
            for d, t in days_truth.items()
        },
        "files_written": len(files) + 1,
    }
