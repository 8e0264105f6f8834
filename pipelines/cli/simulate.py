"""`darkcompute simulate`: write a synthetic world of sources and its ground truth."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from rich.table import Table

from pipelines.cli.output import console, warn
from pipelines.cli.progress import Steps


def simulate(args) -> int:
    from pipelines.simulate import simulate as run

    providers = tuple(p.strip() for p in args.providers.split(",") if p.strip())
    unknown = set(providers) - {"openai", "anthropic", "aws.bedrock"}
    if unknown or not providers:
        warn(f"--providers: expected some of openai, anthropic, aws.bedrock, got {args.providers!r}")
        return 2
    from pipelines.simulate.openai import COST_GROUP_BY, USAGE_GROUP_BY

    usage_group_by, cost_group_by = _group_by(args.openai_usage_group_by), _group_by(args.openai_cost_group_by)
    for flag, given, allowed in (("--openai-usage-group-by", usage_group_by, USAGE_GROUP_BY),
                                 ("--openai-cost-group-by", cost_group_by, COST_GROUP_BY)):
        if set(given) - set(allowed):
            warn(f"{flag}: expected some of {','.join(allowed)} or 'none', got {','.join(given)!r}")
            return 2
    tenant, _, thrash_day = (args.cache_thrash or "").partition(":")
    try:
        cache_thrash = (tenant, date.fromisoformat(thrash_day)) if args.cache_thrash else None
    except ValueError:
        cache_thrash = None
    if args.cache_thrash and not (tenant and cache_thrash):
        warn(f"--cache-thrash: expected TENANT:DAY like t_0003:2026-11-09, got {args.cache_thrash!r}")
        return 2
    with Steps("simulating", args.days) as steps:
        steps.next(f"simulate {args.start}")

        def on_day(day: date) -> None:
            steps.done(f"simulate {day}")
            after = day + timedelta(days=1)
            steps.next(f"simulate {after}" if after < args.start + timedelta(days=args.days)
                       else "simulate: the CUR export and the late log lines")

        summary = run(args.out, args.start, args.days, calls_per_day=args.calls_per_day, seed=args.seed,
                      providers=providers, otlp_share=args.otlp_share, cur_format=args.cur_format,
                      cross_region=args.cross_region, openai_usage_group_by=usage_group_by,
                      openai_cost_group_by=cost_group_by, tiers=args.tiers, litellm_share=args.litellm_share,
                      aggregate_jobs=args.aggregate_jobs, provisional_days=args.provisional_days,
                      litellm_cost_factor=args.litellm_cost_factor, sdk_retry_account=args.sdk_retry_account,
                      gzip_app_logs=args.gzip_app_logs, on_day=on_day, cache_thrash=cache_thrash)
    console.print(summary_table(summary))
    console.print(f"wrote {summary['files_written']:,} files: {args.out / 'sources'} and {args.out / 'ground_truth.json'} "
                  f"(seed {summary['seed']})", soft_wrap=True)
    return 0


def summary_table(summary: dict) -> Table:
    """The simulated world, a row per day and provider: what the provider billed, what the logs
    recorded, the invoice (every digit of the ground truth); totals per provider at the foot."""
    table = Table(title="simulated world (ground truth)", title_justify="left", show_footer=False)
    for name, justify in (("day", "left"), ("provider", "left"), ("billed requests", "right"),
                          ("logged calls", "right"), ("invoice USD", "right")):
        table.add_column(name, justify=justify)
    totals: dict[str, list] = {}
    for day, providers in sorted(summary["days"].items()):
        for provider, values in providers.items():
            table.add_row(day, provider, f"{values['provider_requests']:,}", f"{values['logged_calls']:,}",
                          values["invoice_usd"])
            total = totals.setdefault(provider, [0, 0, Decimal(0)])
            total[0] += values["provider_requests"]
            total[1] += values["logged_calls"]
            total[2] += Decimal(values["invoice_usd"])
    table.add_section()
    for provider, (requests, calls, invoice) in totals.items():
        table.add_row("total", provider, f"{requests:,}", f"{calls:,}", str(invoice))
    return table


def _group_by(text: str) -> tuple[str, ...]:
    """`project_id,model` -> ("project_id", "model"); `none` (or nothing) -> ungrouped."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    return () if names in ((), ("none",)) else names
