# Two commands on a fresh machine (Python 3.11+, Java 17, Maven): `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo stop test test-fast lint kafka-jars bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) kafka-jars

kafka-jars: $(STAMP)
	$(BIN)/newswatch kafka fetch

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/newswatch demo

test: setup lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/pytest -m "not integration and not e2e"

lint: $(STAMP)
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/mypy

# the local broker `make demo` leaves running (the only thing it leaves running)
stop:
	@if [ -x $(BIN)/newswatch ]; then $(BIN)/newswatch kafka stop; fi

clean: stop
	rm -rf $(VENV) .state
