# S2P Workbench — the two set-up commands are `make up` and `make test`.
# Everything else here is a step they depend on, or a convenience for developers.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SPAWNER ?= $(or $(WORKBENCH_SPAWNER),local)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[hub,test]'
	@touch $@

node_modules/.installed: package.json $(wildcard package-lock.json)
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
	 else npm install --no-audit --no-fund --loglevel=error; fi
	@touch $@

# The s2p kernels compiled once into the environment's numba cache, which local labs and the tests use:
# a new lab's first call of s2p loads machine code instead of compiling for a minute in front of its user.
NUMBA_CACHE := $(CURDIR)/$(VENV)/numba-cache
$(VENV)/.numba-warm: $(VENV)/.installed $(shell find libs/s2p -name '*.py' 2>/dev/null)
	NUMBA_CACHE_DIR=$(NUMBA_CACHE) $(PY) -m s2p.warmup
	@touch $@

# jsonschema builds an RFC 3987 grammar when it is imported if rfc3987-syntax is installed: 1.4 s of CPU in
# every lab, hub, Voila and papermill start, for an optional format check no Jupyter schema uses
# (hub/workbench/labstart.py). Pip brings it with jupyter-events' extras: it is taken out after installs.
SLOW_IMPORTS_OUT = @$(PIP) uninstall --quiet --yes rfc3987-syntax 2>/dev/null || true

install: $(VENV)/.installed node_modules/.installed $(VENV)/.numba-warm ## create .venv and node_modules, compile the s2p kernels (what `up` and `test` need)
	$(SLOW_IMPORTS_OUT)

up: install ## start the workbench: dev IdP + hub on http://127.0.0.1:8000 (SPAWNER=local|docker|swarm)
	@if [ "$(SPAWNER)" = docker ] || [ "$(SPAWNER)" = swarm ]; then $(VENV)/bin/workbench images build lab --if-missing; fi
	$(VENV)/bin/workbench up --spawner $(SPAWNER)

lint: install ## ruff (lint + format check) and mypy on the packages
	$(VENV)/bin/ruff check libs hub tests bench images/common/s2p-jsonlog
	$(VENV)/bin/ruff format --check libs hub tests bench images/common/s2p-jsonlog
	$(VENV)/bin/mypy

format: install ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix libs hub tests bench images/common/s2p-jsonlog
	$(VENV)/bin/ruff format libs hub tests bench images/common/s2p-jsonlog

test: install lint ## install what is missing, then run the whole suite
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install ## run the benchmarks against their peers (needs `pip install -e .[bench]`)
	$(PIP) install --quiet -e '.[bench]' || true
	$(SLOW_IMPORTS_OUT)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: ## remove the local environments and caches (keeps data and state)
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install up lint format test bench clean
