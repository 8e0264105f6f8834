# Two commands on a fresh clone: `make demo` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
UV_VERSION := 0.13.8
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: setup demo test test-fast lint ui samples clean

setup: $(VENV)/.synced $(DAGSTER_HOME)/dagster.yaml sql/target/manifest.json

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	touch $@

# The dbt project parsed: the manifest Dagster builds its assets from (again when a model changes).
sql/target/manifest.json: $(VENV)/.synced sql/dbt_project.yml sql/profiles.yml $(shell find sql/models sql/macros sql/tests -type f 2>/dev/null)
	$(VENV)/bin/python -c "from pipelines.lib.dbt import prepare; prepare()"
	touch $@

# Dagster's run history; `make clean` removes it, the next command makes it again.
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $@

demo: setup
	$(VENV)/bin/darkcompute reconcile --all
	@echo
	@echo "Lineage, runs and checks:  make ui   (then open http://127.0.0.1:$(UI_PORT); UI_PORT=N to change it)"
	@echo "Ad-hoc SQL:                $(VENV)/bin/darkcompute sql -f sql/examples/top_dark_job_types.sql"
	@echo "                           ($(VENV)/bin/darkcompute sql with no query opens a prompt on warehouse.duckdb;"
	@echo "                            sql/examples/ holds the questions users ask)"
	@echo
	@$(VENV)/bin/darkcompute report

test: setup
	$(VENV)/bin/pytest

# The inner loop: every test not marked slow (no dbt build, Dagster run, CLI process or server).
test-fast: setup
	$(VENV)/bin/pytest -m "not slow"

# sqlfluff over the SQL (sql/.sqlfluff: duckdb, jaffle-shop's conventions) and ruff over the Python.
# The dbt models and macros render with the jinja templater; the Python-driven folders take `$name`
# bind parameters, so they run with the placeholder templater (a nested .sqlfluff cannot switch it).
lint: setup
	cd sql && ../$(VENV)/bin/sqlfluff lint --processes 2 models $$(test -d tests && echo tests)
	cd sql && ../$(VENV)/bin/sqlfluff lint --processes 2 --templater placeholder ingest publish checks reports examples
	$(VENV)/bin/ruff check pipelines tests

# The Dagster UI on http://127.0.0.1:$(UI_PORT) (`make ui UI_PORT=3001`), its runs in $(DAGSTER_HOME).
# `dagster dev` loads what pyproject's [tool.dagster] names: pipelines.definitions as the location
# `darkcompute`, the name [tool.dg.project] gives it too (when the two differ, Dagster warns on every
# load). Its advice to use `dg dev`, a CLI this project does not install, is silenced.
UI_PORT ?= 3000
ui: setup
	PYTHONWARNINGS=ignore::FutureWarning:click.core $(VENV)/bin/dagster dev -h 127.0.0.1 -p $(UI_PORT)

# Regenerate the committed sample world (deterministic: byte-identical on every run). Three
# providers, four days; the last day's cost exports have not arrived (provisional); Anthropic's
# Priority Tier usage is priced from the catalog (estimated); LiteLLM and OTLP log lines; a few
# truncated log lines a day (rejected_records: the simulator writes them from 1000 calls a day).
# (The OpenAI-only world the ingest tests break on purpose is tests/data/openai_world/.)
samples: setup
	rm -rf data_samples
	$(VENV)/bin/darkcompute simulate --out data_samples --start 2026-11-01 --days 4 --provisional-days 1 \
		--calls-per-day 1000 --seed 7 --providers openai,anthropic,aws.bedrock --otlp-share 0.1 \
		--litellm-share 0.1 --gzip-app-logs

clean:
	rm -rf lake warehouse.duckdb warehouse.duckdb.wal $(DAGSTER_HOME) sql/target
