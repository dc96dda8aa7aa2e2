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

# GOV.UK Frontend and the other pinned npm packages, built into services/api/static/vendor.
ASSETS = services/api/static/vendor/.built
$(ASSETS): services/api/frontend/package-lock.json services/api/frontend/build.sh services/api/frontend/app.scss
	bash services/api/frontend/build.sh

install: $(BIN)/partnermatch $(ASSETS)

run: install
	$(BIN)/partnermatch run

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench
