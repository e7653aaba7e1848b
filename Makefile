# Everything runs in the project's own virtualenv, created on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(PY) -m pytest

.PHONY: install demo test lint fmt fuzz fuzz-ci bench diagrams clean

# The fuzz campaigns (agent-fsm fuzz): a CI-sized one gates `make test`; `make fuzz` is the long one.
FUZZ_SEED     ?= 1
FUZZ_EXAMPLES ?= 100000
FUZZ_JOBS     ?= 2
FUZZ_CI_EXAMPLES ?= 6000

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m agent_fsm demo

lint: install
	$(PY) -m ruff check agent_fsm tests
	$(PY) -m ruff format --check agent_fsm tests
	$(PY) -m mypy --strict agent_fsm

fmt: install
	$(PY) -m ruff format agent_fsm tests
	$(PY) -m ruff check --fix agent_fsm tests

test: lint fuzz-ci
	$(PYTEST) -q

fuzz-ci: install
	$(PY) -m agent_fsm fuzz --examples $(FUZZ_CI_EXAMPLES) --seed $(FUZZ_SEED) --plain

fuzz: install
	$(PY) -m agent_fsm fuzz --examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED) --jobs $(FUZZ_JOBS)

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
