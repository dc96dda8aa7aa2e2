# Two commands for a newcomer: `make run` starts the whole service, `make test` runs every test.
# Each creates the virtual environment and installs the project first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint bench install

$(BIN)/partnermatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/partnermatch

run: install
	$(BIN)/partnermatch run

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench
