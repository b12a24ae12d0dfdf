# caw: `make demo` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BACKENDS := tests/backends
# The pinned backend CLIs come first on PATH for everything make runs.
export PATH := $(CURDIR)/$(BACKENDS)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: setup test-setup demo lint test test-fast schema clean

# Debian packages some tests use: luacheck for the Neovim client's lint.
APT_PACKAGES := lua-check

# What the library, the daemon and `caw demo` need.
setup: $(VENV)/.installed $(BACKENDS)/node_modules/.installed

# Plus what the tests of the editor clients need: luacheck, and the VS Code
# extension's packages with code-server, chromium and ripgrep for its e2e test.
test-setup: setup
	./scripts/system-deps.sh $(APT_PACKAGES)
	bash clients/vscode/scripts/install-e2e.sh
	cd tests/acp/node && npm ci --no-audit --no-fund --loglevel=error  # the ACP TypeScript SDK client

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(BACKENDS)/node_modules/.installed: $(BACKENDS)/package.json $(BACKENDS)/package-lock.json
	# Not `npm ci`: the lock cannot list the CLIs' binaries for other platforms (the
	# registry here has none), and ci refuses such a lock. --no-save keeps it as it is.
	cd $(BACKENDS) && npm install --no-save --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(BIN)/caw demo

# Python held to the clients' bar: lint, format and types, zero findings.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite waits on CLI processes as much as it computes: one worker per core (at most 4),
# a test file per worker at a time (module fixtures share one daemon or editor). TEST_WORKERS=0
# runs it in one process.
TEST_WORKERS ?= auto
test: test-setup lint
	$(BIN)/pytest --numprocesses=$(TEST_WORKERS) --maxprocesses=4 --dist=loadfile

# Unit tests only: no backend CLI involved.
test-fast: $(VENV)/.installed
	$(BIN)/pytest -m "not e2e"

schema: $(VENV)/.installed
	$(BIN)/python -m caw_server.schema --write

clean:
	rm -rf $(VENV) $(BACKENDS)/node_modules
