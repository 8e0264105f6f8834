"""Shared pieces of the bronze schemas."""

import pyarrow as pa

from ..money import MONEY_PRECISION, MONEY_SCALE

MONEY = pa.decimal128(MONEY_PRECISION, MONEY_SCALE)
TS = pa.timestamp("us", tz="UTC")

LINEAGE = [("source_file", pa.string()), ("source_line", pa.int64()), ("file_sha256", pa.string())]
BUCKET = [("folder_date", pa.date32()), ("usage_date", pa.date32()), ("bucket_start", TS), ("bucket_end", TS)]
