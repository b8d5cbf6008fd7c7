# Two commands on a fresh machine: `make demo` and `make test`. Each builds .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-postgres lint typecheck unit bench schema clean wheel-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lead2loyalty demo

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n auto

# The whole suite with every test's store on PostgreSQL (a fresh schema each, tests/backends.py;
# the server at L2L_TEST_POSTGRES_URL, default postgresql://127.0.0.1:5432/test).
test-postgres: $(STAMP)
	L2L_TEST_BACKEND=postgresql $(BIN)/pytest -n auto

wheel-check: $(STAMP)
	.ci/wheel-check

bench: $(STAMP)
	$(BIN)/python bench/predictions.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/scoring.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
