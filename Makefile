# Every target sets itself up: a fresh clone needs only Python 3.11+ and the package index.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck cfn-lint unit integration test-sfn-local bench sam-build clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt 'pip==26.3'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/tollgate demo

demo: run

test: lint typecheck cfn-lint
	$(BIN)/python -m pytest

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
