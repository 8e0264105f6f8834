"""`darkcompute simulate`: write a synthetic world of sources and its ground truth."""

from __future__ import annotations

from pipelines.cli.output import console, warn


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
    summary = run(args.out, args.start, args.days, calls_per_day=args.calls_per_day, seed=args.seed,
                  providers=providers, otlp_share=args.otlp_share, cur_format=args.cur_format,
                  cross_region=args.cross_region, openai_usage_group_by=usage_group_by,
                  openai_cost_group_by=cost_group_by, tiers=args.tiers, litellm_share=args.litellm_share,
                  aggregate_jobs=args.aggregate_jobs)
    console.print(f"wrote {args.out / 'sources'} and {args.out / 'ground_truth.json'}")
    for key, value in summary.items():
        console.print(f"  {key}: {value}")
    return 0


def _group_by(text: str) -> tuple[str, ...]:
    """`project_id,model` -> ("project_id", "model"); `none` (or nothing) -> ungrouped."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    return () if names in ((), ("none",)) else names
