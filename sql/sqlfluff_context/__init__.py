"""What dbt puts in a model's Jinja context that sqlfluff's jinja templater does not have.

sql/.sqlfluff loads this package (`library_path`); its public names are added to the context in
which sqlfluff renders the models, ahead of sqlfluff's own stand-ins for dbt's builtins. Only
linting uses it: dbt never imports it.
"""

from pathlib import Path

import yaml

_VARS = yaml.safe_load((Path(__file__).resolve().parent.parent / "dbt_project.yml").read_text())["vars"]


def var(name, default=None):
    """dbt's `var()`: the project's vars from dbt_project.yml (sqlfluff's stand-in returns a string)."""
    return _VARS.get(name, default)


def union_providers(kinds, also=(), columns="*", operator="union all by name"):
    """What macros/union_providers.sql renders (that macro returns values with dbt's `return()` and
    reads dbt's `graph`, which plain Jinja has neither of): the staging models of the registry's
    providers, one `select` each."""
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    models = list(also) + [
        f"stg_{provider}_{kind}"
        for provider, provider_kinds in _VARS["providers"].items()
        for kind in kinds
        if kind in provider_kinds
    ]
    return f"\n    {operator}\n    ".join(f"select {columns} from {model} as {model}" for model in models)


def lake_relation(source_name, table_name, files_key=""):
    """What macros/source.sql's `lake_relation` stands for (it reads dbt's `graph`): a relation."""
    return f"{source_name}_{table_name}"
