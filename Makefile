# Ledgerflow: `make run` starts the demo, `make test` runs the whole suite. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: setup run test lint worker clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	HOST=$(HOST) PORT=$(PORT) BIN=$(BIN) scripts/run

worker: setup
	LEDGERFLOW_ENV=$${LEDGERFLOW_ENV:-development} $(BIN)/flask --app wsgi worker

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: setup lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
