# The two commands a newcomer needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Local peers for provider tests (Prism for Twilio's contract, web-push-testing), from npm.
NODE_STAMP := node_modules/.installed
DEV_KEY ?= dev-key-change-me
DEV_DEVICE_SECRET ?= dev-device-secret-change-me-0123456789
# Signs in-app feedback objects: a fixed key, so feedback outstanding on devices
# still verifies after `make run` restarts.
DEV_FEEDBACK_KEY ?= dev-feedback-key-change-me-0123456789
DATABASE_URL ?= sqlite:///var/clarion.db
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint typecheck unit bench venv peers clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

venv: $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

peers: $(NODE_STAMP)

run: $(STAMP)  ## migrate a SQLite database and start Clarion with the example catalog
	mkdir -p var
	CLARION_DATABASE_URL=$(DATABASE_URL) $(BIN)/clarion migrate
	$(BIN)/clarion catalog check catalog
	@echo "Clarion on http://$(HOST):$(PORT) -- development API key: $(DEV_KEY)"
	@echo "Device tokens: CLARION_DEVICE_TOKEN_SECRETS='{\"default\": \"$(DEV_DEVICE_SECRET)\"}' $(BIN)/clarion device-token <profile>"
	CLARION_DATABASE_URL=$(DATABASE_URL) CLARION_CATALOG=catalog CLARION_API_KEYS=$(DEV_KEY) \
	  CLARION_DEVICE_TOKEN_SECRETS='{"default": "$(DEV_DEVICE_SECRET)"}' \
	  CLARION_FEEDBACK_KEYS='{"dev": "$(DEV_FEEDBACK_KEY)"}' \
	  CLARION_LOG_JSON=$${CLARION_LOG_JSON:-false} $(BIN)/clarion serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports  # the layers: contracts in pyproject.toml [tool.importlinter]

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(NODE_STAMP)  ## lint, type checks and the whole test suite
	$(BIN)/pytest

bench: $(STAMP)  ## benchmarks; each prints one JSON object
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) node_modules var .mypy_cache .ruff_cache .pytest_cache
