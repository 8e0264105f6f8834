"""dim_model: the catalog's canonical id of every model name the day's staging mentions.

genai-prices resolves a name (an alias, a dated snapshot, a Bedrock model id) with matching rules
written in Python, so this one model is Python: it reads the tens of distinct names of
`int_model_names` and returns one row per name. Prices come from the `catalog` source (`dim_price`).
"""

import pyarrow as pa

from pipelines.lib.prices import canonical_model

SCHEMA = pa.schema([("provider", pa.string()), ("model_name", pa.string()), ("canonical_model", pa.string())])


def model(dbt, session):
    dbt.config(materialized="table")
    names = dbt.ref("int_model_names").arrow()
    if hasattr(names, "read_all"):  # a record batch reader on newer DuckDB
        names = names.read_all()
    rows = [{"provider": p, "model_name": m, "canonical_model": canonical_model(p, m)}
            for p, m in zip(names["provider"].to_pylist(), names["model"].to_pylist())]
    return pa.Table.from_pylist(rows, schema=SCHEMA)
