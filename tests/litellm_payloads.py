"""LiteLLM `StandardLoggingPayload`s as the proxy's logging callbacks write them (one JSON object per
line), after litellm/types/utils.py and docs/proxy/logging_spec.md: every field of the payload,
with the prompt (`messages`), the completion (`response`) and the other free-text fields carrying a
marker that must never be stored."""

from __future__ import annotations

import json
from datetime import datetime, timezone

MARKER = "SECRET-PROMPT-7f3a9c"


def payload(*, provider: str = "anthropic", model: str = "claude-3-5-sonnet-20241022", call_id: str = "msg_01",
            start: str = "2026-11-02T10:00:00.250Z", prompt_tokens: int = 1200, completion_tokens: int = 300,
            cache_read: int | None = 1000, cache_creation: int | None = 100, cost: str = "0.0046275",
            team_alias: str | None = "search-team", key_alias: str | None = "search-backend",
            tags: list[str] = ("feature:search_answer",), spend_metadata: dict | None = None,
            status: str = "success", call_type: str = "acompletion", end_user: str | None = "u-42",
            usage_in_hidden_params: bool = False, details_only: bool = False) -> str:
    """One payload line. `cost` is written as a JSON number literal exactly as given.
    `details_only`: the usage object as for OpenAI (cached tokens only in `prompt_tokens_details`)."""
    started = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()
    usage = {
        "completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": 0, "text_tokens": completion_tokens},
        "prompt_tokens_details": {"cached_tokens": cache_read or 0, "text_tokens": None, "audio_tokens": None,
                                  "image_tokens": None},
    }
    if cache_read is not None and not details_only:
        usage["cache_read_input_tokens"] = cache_read
    if cache_creation is not None and not details_only:
        usage["cache_creation_input_tokens"] = cache_creation
    metadata = {
        "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "user_api_key_alias": key_alias,
        "user_api_key_team_id": "team-7f1c",
        "user_api_key_org_id": None,
        "user_api_key_user_id": "user-ops",
        "user_api_key_team_alias": team_alias,
        "user_api_key_end_user_id": None,
        "spend_logs_metadata": spend_metadata,
        "requester_ip_address": "10.0.3.7",
        "requester_metadata": {"note": f"{MARKER} requester note"},
        "applied_guardrails": [],
        "usage_object": None if usage_in_hidden_params else usage,
        "mcp_tool_call_metadata": None,
        "vector_store_request_metadata": None,
        "prompt_management_metadata": None,
        "user_agent": "OpenAI/Python 1.54.0",
    }
    record = {
        "id": call_id,
        "trace_id": f"trace-{call_id}",
        "call_type": call_type,
        "stream": False,
        "response_cost": "@COST@",
        "cost_breakdown": {"input_cost": 0.0, "output_cost": 0.0, "total_cost": 0.0},
        "response_cost_failure_debug_info": None,
        "status": status,
        "status_fields": {"llm_api_status": status, "guardrail_status": "not_run"},
        "custom_llm_provider": provider,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "startTime": started,
        "endTime": started + 2.5,
        "completionStartTime": started + 0.4,
        "response_time": 2.5,
        "model_map_information": {"model_map_key": model, "model_map_value": None},
        "model": model,
        "model_id": "9b1fe0b1c2c0",
        "model_group": "smart",
        "api_base": "https://api.anthropic.com/v1/messages",
        "metadata": metadata,
        "cache_hit": None,
        "cache_key": None,
        "saved_cache_cost": 0.0,
        "request_tags": list(tags),
        "end_user": end_user,
        "requester_ip_address": "10.0.3.7",
        "messages": [{"role": "system", "content": f"You are helpful. {MARKER}"},
                     {"role": "user", "content": f"What is in my contract? {MARKER}"}],
        "response": {"id": call_id, "object": "chat.completion", "model": model,
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": f"Your contract says {MARKER}"}}],
                     "usage": usage},
        "error_str": None if status == "success" else f"Overloaded {MARKER}",
        "error_information": None if status == "success" else {
            "error_code": "529", "error_class": "InternalServerError", "llm_provider": provider,
            "traceback": f"Traceback ... {MARKER}", "error_message": f"overloaded {MARKER}"},
        "model_parameters": {"temperature": 0.2, "max_tokens": 1024, "system": f"{MARKER} system"},
        "hidden_params": {"model_id": "9b1fe0b1c2c0", "cache_key": None, "api_base": "https://api.anthropic.com",
                          "response_cost": "@COST@", "litellm_overhead_time_ms": 3.1,
                          "additional_headers": {}, "batch_models": None, "litellm_model_name": model,
                          "usage_object": usage if usage_in_hidden_params else None},
        "guardrail_information": None,
        "standard_built_in_tools_params": {"web_search_options": None, "file_search": None},
    }
    return json.dumps(record).replace('"@COST@"', cost)
