# csmpt: `make demo` runs the pipeline in miniature, `make test` runs the tests.
# Both install into .venv first when needed (5-9 minutes and ~7 GB the first time).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.csmpt-installed
CONSTRAINTS ?= requirements/constraints.txt
PYTEST_ARGS ?=
# make test's pytest-xdist workers (each gets its share of the cores: tests/conftest.py); 1: none
TEST_WORKERS ?= 2

.PHONY: install demo test lint mutate clean

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	@# a csmpt.egg-info left in the checkout by an older install shadows the new entry points
	rm -rf csmpt.egg-info
	@# torch is an 865 MB wheel: a dropped connection resumes (--resume-retries) and the whole
	@# install is tried three times before the error stands
	@for attempt in 1 2 3; do \
	  $(BIN)/python -m pip install --resume-retries 20 --timeout 60 \
	    $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[dev]" && exit 0; \
	  echo "install attempt $$attempt failed; retrying" >&2; sleep 10; \
	done; exit 1
	@touch $(STAMP)

demo: install
	$(BIN)/csmpt demo

test: install
	$(BIN)/python -m pytest $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check csmpt tests launch bench tools
	$(BIN)/ruff format --check csmpt tests launch bench tools
	$(BIN)/mypy

# Curated mutation testing (tools/mutants.yaml; docs/testing.md): minutes per mutant, not in CI.
mutate: install
	$(BIN)/python tools/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf artifacts .pytest_cache .mypy_cache .ruff_cache
