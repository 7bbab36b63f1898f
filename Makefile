# The commands people type. .ci/run calls the same targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint drill bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the gateway on 127.0.0.1:4000 with fake providers: no keys, no Redis.
run: $(STAMP)
	LITELLM_LOCAL_MODEL_COST_MAP=True $(BIN)/llm-router demo --port 4000

## Lint, type-check and run the whole test suite (real Redis at 127.0.0.1:6379).
test: $(STAMP) lint
	LITELLM_LOCAL_MODEL_COST_MAP=True $(BIN)/pytest -q -n 2 --dist loadfile -W error

lint: $(STAMP)
	$(BIN)/ruff check router_config plugins tests bench
	$(BIN)/ruff format --check router_config plugins tests bench
	$(BIN)/mypy

drill: $(STAMP)
	LITELLM_LOCAL_MODEL_COST_MAP=True $(BIN)/llm-router drill

## Side by side on loopback: fake provider direct, llm-router (1 and 2 workers), LiteLLM's
## proxy (installed into bench/.venv-litellm on first run). Writes bench/results/latest.md.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	LITELLM_LOCAL_MODEL_COST_MAP=True $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
