"""Bronze schemas of the OpenAI Usage and Costs API pages."""

import pyarrow as pa

from .common import BUCKET, LINEAGE, MONEY

OPENAI_USAGE = pa.schema(
    BUCKET
    + [
        ("endpoint", pa.string()),
        ("project_id", pa.string()),
        ("api_key_id", pa.string()),
        ("user_id", pa.string()),
        ("model", pa.string()),
        ("batch", pa.bool_()),
        ("service_tier", pa.string()),
        ("input_tokens", pa.int64()),
        ("input_cached_tokens", pa.int64()),
        ("input_cache_write_tokens", pa.int64()),
        ("input_uncached_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("num_model_requests", pa.int64()),
        # the audio and image parts of the totals above (priced at their own rates), null when absent
        ("input_audio_tokens", pa.int64()),
        ("input_cached_audio_tokens", pa.int64()),
        ("output_audio_tokens", pa.int64()),
        ("input_image_tokens", pa.int64()),
        ("input_cached_image_tokens", pa.int64()),
        ("output_image_tokens", pa.int64()),
    ]
    + LINEAGE
)

OPENAI_COSTS = pa.schema(
    BUCKET
    + [
        ("project_id", pa.string()),
        ("api_key_id", pa.string()),
        ("line_item", pa.string()),
        ("amount", MONEY),
        ("currency", pa.string()),
        ("quantity", MONEY),
        ("quantity_unit", pa.string()),
    ]
    + LINEAGE
)
