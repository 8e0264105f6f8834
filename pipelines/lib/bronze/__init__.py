"""The bronze tables: names and Arrow schemas, the contract between the source wings (which
write them) and the reconciliation (which reads them). One module per source; one partition
per delivery day. Every table `<name>` also has `<name>_rejects` and `<name>_files`."""

from ..ingest import FILES_SCHEMA as FILES
from ..ingest import REJECTS_SCHEMA as REJECTS
from .anthropic import ANTHROPIC_COSTS, ANTHROPIC_USAGE
from .aws import BEDROCK_INVOCATIONS, CUR_LINES
from .common import MONEY, TS
from .logs import MODEL_CALLS
from .openai import OPENAI_COSTS, OPENAI_USAGE

# table name in the lake's bronze layer -> schema
TABLES = {
    "openai_usage": OPENAI_USAGE,
    "openai_costs": OPENAI_COSTS,
    "anthropic_usage": ANTHROPIC_USAGE,
    "anthropic_costs": ANTHROPIC_COSTS,
    "bedrock_invocations": BEDROCK_INVOCATIONS,
    "cur_lines": CUR_LINES,
    "app_calls": MODEL_CALLS,
    "worker_calls": MODEL_CALLS,
}

__all__ = [
    "BEDROCK_INVOCATIONS",
    "CUR_LINES",
    "ANTHROPIC_COSTS",
    "ANTHROPIC_USAGE",
   "FILES", "MODEL_CALLS", "MONEY", "OPENAI_COSTS", "OPENAI_USAGE", "REJECTS", "TABLES", "TS"]
