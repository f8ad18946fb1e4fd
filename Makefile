# The two-command contract: `make demo` and `make test` do all the set-up themselves.
# Both are idempotent: the venv is created once and re-installed only when
# pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.her2kit-installed

.PHONY: demo test lint lock clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "her2kit needs Python >= 3.11 (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[report,parquet,slide,service,test]'
	@touch $(STAMP)

demo: $(STAMP)
	@bash scripts/setup_web.sh
	@bash scripts/demo.sh

# setup_node.sh installs the offline FHIR validator (tools/fhir-validator) only when
# its lock file changed; the FHIR validator tests must then run, not skip. setup_postgres.sh
# installs PostgreSQL when initdb is missing; the service tests must then run on it too.
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports --no-cache --no-logo
	@bash scripts/setup_node.sh
	@bash scripts/setup_postgres.sh
	@bash scripts/setup_web.sh
	@bash scripts/setup_chromium.sh
	HER2KIT_REQUIRE_FHIR_VALIDATOR=1 HER2KIT_REQUIRE_POSTGRES=1 HER2KIT_REQUIRE_BROWSER=1 \
		$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# Refresh the pinned versions after changing dependencies in pyproject.toml.
lock:
	rm -rf /tmp/her2kit-lock && $(PYTHON) -m venv /tmp/her2kit-lock
	/tmp/her2kit-lock/bin/python -m pip install --quiet '.[report,parquet,slide,service,test]'
	/tmp/her2kit-lock/bin/python -m pip freeze --exclude her2kit > constraints.txt

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .hypothesis tools/fhir-validator/node_modules \
		web/node_modules src/her2kit/api/static
