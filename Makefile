# Every target sets itself up: a fresh clone needs only Python 3.11+ and the package index.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck cfn-lint unit integration test-browser test-sfn-local bench mutation sam-build clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt 'pip==26.3'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/tollgate demo

demo: run

# The integration tests mostly wait on sockets and timers: four workers, each with its own engine, share two
# cores well. A file's tests stay in one worker (a module may hold a fixed port or a module-wide server).
PYTEST_WORKERS ?= 4
test: lint typecheck cfn-lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy functions tollgate tests bench

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

# The HTML reports in a real, headless browser (Debian's Chromium and its driver, installed when missing);
# screenshots go to build/browser/ (the README's docs/images/html-report.png is a copy of failing-report.png).
CHROMIUM := /usr/bin/chromium
test-browser: $(STAMP)
	@if [ ! -x $(CHROMIUM) ] || [ ! -x /usr/bin/chromedriver ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; fi
	$(BIN)/python -m pytest tests/browser

# Needs Docker: the workflow scenarios of test_external_sfn_endpoint.py on Step Functions Local
# (docker-compose.yml), which invokes the functions through the edge on SFN_LOCAL_EDGE_PORT.
SFN_LOCAL_EDGE_PORT ?= 4599
test-sfn-local: $(STAMP)
	TOLLGATE_EDGE_PORT=$(SFN_LOCAL_EDGE_PORT) docker compose up --detach
	TOLLGATE_SFN_ENDPOINT=http://127.0.0.1:8083 TOLLGATE_EDGE_PORT=$(SFN_LOCAL_EDGE_PORT) \
		$(BIN)/python -m pytest tests/integration/test_external_sfn_endpoint.py; \
		status=$$?; TOLLGATE_EDGE_PORT=$(SFN_LOCAL_EDGE_PORT) docker compose down; exit $$status

# A benchmark, not a test: prints a table and writes bench/results.json.
bench: $(STAMP)
	$(BIN)/python -m bench.run

# Mutation testing of the pure domain with the unit and property tests (docs/mutation.md); not part of `make test`.
# mutmut names a mutant after its file's path while the code imports functions/tollgate_core as tollgate_core,
# so build/mutation lays the package out as src/tollgate_core (mutmut's src/ convention), beside links to what
# the tests read. Every run starts afresh: no verdict outlives a change to the tests. The tests mostly wait on
# sockets and timeouts, so more workers than cores pay.
MUTATION_DIR := build/mutation
MUTATION_WORKERS ?= 6
mutation: $(STAMP)
	rm -rf $(MUTATION_DIR)
	mkdir -p $(MUTATION_DIR)/src
	ln -s ../../../functions/tollgate_core $(MUTATION_DIR)/src/tollgate_core
	for path in pyproject.toml functions tollgate tests statemachine events template.yaml; do \
		ln -s ../../$$path $(MUTATION_DIR)/$$path; done
	@date +%s > $(MUTATION_DIR)/started
	cd $(MUTATION_DIR) && ../../$(BIN)/mutmut run --max-children $(MUTATION_WORKERS)
	@echo "Surviving mutants (mutmut show <name> in $(MUTATION_DIR) shows one; docs/mutation.md explains each):"
	@cd $(MUTATION_DIR) && ../../$(BIN)/mutmut results && ../../$(BIN)/mutmut export-cicd-stats > /dev/null
	@$(BIN)/python -c 'import json, sys; s = json.load(open(sys.argv[1])); \
		killed, tested = s["killed"] + s["timeout"], s["total"] - s["skipped"]; \
		print("Mutation score: {} of {} mutants killed ({:.1f}%), {} survived, {} reached by no test".format( \
			killed, tested, 100 * killed / tested, s["survived"], s["no_tests"]))' $(MUTATION_DIR)/mutants/mutmut-cicd-stats.json
	@echo "Took $$(( $$(date +%s) - $$(cat $(MUTATION_DIR)/started) )) s"

# The SAM CLI lives in its own virtualenv: its pins differ from the project's.
SAM_VENV := .venv-sam
$(SAM_VENV)/.installed: constraints-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints-sam.txt aws-sam-cli
	@touch $@

# Builds with the local Python, no container: pass RUNTIME=python3.13 where that Python is installed.
RUNTIME ?= python3.11
sam-build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build --parameter-overrides PythonRuntime=$(RUNTIME)

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
