"""How a LiteLLM payload's team, key, user and tags become the log contract's attribution.

LiteLLM's proxy knows who called (the virtual key's team and alias, the user, the end user) and
whatever the caller tagged the request with (`request_tags`, `metadata.spend_logs_metadata`);
it does not know darkcompute's `billing.account`, `feature` or `job_type`. The rule says, per
contract field, where to look, in order; the first source with a value wins
(`sql/ingest/litellm_payloads.sql` applies it). Pure functions, no Dagster.

Sources: `team_id`, `team_alias`, `key_alias`, `user_id`, `org_id` (the virtual key's metadata),
`end_user` (the payload's end user), `tag:<name>` (a request tag written `<name>:<value>`) and
`metadata:<key>` (a string or number in `metadata.spend_logs_metadata`).

Override in `DARKCOMPUTE_LITELLM_ATTRIBUTION` (the `litellm` resource's `overrides`): `target=source,source;target=...`, e.g.
`job_type=tag:job,metadata:job_type;billing.account=team_id`. A target named there gets exactly
those sources (none: `feature=` never sets it); the other targets keep the default.
"""

from __future__ import annotations

import re

TARGETS = ("billing.account", "feature", "job_type", "job_id", "user_id", "tenant_id")
PLAIN_SOURCES = ("team_id", "team_alias", "key_alias", "user_id", "org_id", "end_user")
DEFAULT_RULE: dict[str, tuple[str, ...]] = {
    "billing.account": ("tag:billing.account", "metadata:billing.account", "team_alias", "team_id"),
    "feature": ("tag:feature", "metadata:feature", "key_alias"),
    "job_type": ("tag:job_type", "metadata:job_type"),
    "job_id": ("tag:job_id", "metadata:job_id"),
    "user_id": ("end_user", "user_id"),
    "tenant_id": ("tag:tenant_id", "metadata:tenant_id"),
}
_SOURCE = re.compile(r"(tag|metadata):[^:\s][^\s]*")


def parse_rule(text: str) -> dict[str, tuple[str, ...]]:
    """The default rule with `text`'s overrides (`target=source,...;...`); a wrong target or
    source raises a ValueError that says what is accepted."""
    rule = dict(DEFAULT_RULE)
    for item in filter(None, (p.strip() for p in text.split(";"))):
        target, eq, sources = item.partition("=")
        target = target.strip()
        if not eq or target not in TARGETS:
            raise ValueError(f"DARKCOMPUTE_LITELLM_ATTRIBUTION: expected target=source,... with a target among "
                             f"{', '.join(TARGETS)}; got {item!r}")
        names = tuple(s.strip() for s in sources.split(",") if s.strip())
        for name in names:
            if name not in PLAIN_SOURCES and not _SOURCE.fullmatch(name):
                raise ValueError(f"DARKCOMPUTE_LITELLM_ATTRIBUTION: unknown source {name!r} for {target}; use "
                                 f"{', '.join(PLAIN_SOURCES)}, tag:<name> or metadata:<key>")
        rule[target] = names
    return rule


def rule_params(rule: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """The rule as the SQL's bind parameters: parallel lists of targets and sources, in priority order."""
    pairs = [(target, source) for target in TARGETS for source in rule.get(target, ())]
    return {"rule_targets": [t for t, _ in pairs], "rule_sources": [s for _, s in pairs]}
