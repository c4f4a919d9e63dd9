# `make test` is the one command CI runs; it creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Only what `python -m local` and `python -m tools` need (no Pulumi, no linters): `make demo` and
# `make serve` install this much; the full install (`make test`) covers it too.
LOCAL_STAMP := $(VENV)/.local-installed

.PHONY: test check lint install demo serve bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever a requirements or constraints file changes.
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt requirements-local.txt constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP) $(LOCAL_STAMP)

$(LOCAL_STAMP): $(BIN)/python requirements-local.txt constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-local.txt -c constraints.txt
	touch $(LOCAL_STAMP)

# The Node tools the tests run (npm), when npm is present: asl-validator (the States Language) and tsc (the
# TypeScript example against the package schema); their tests are skipped, saying why, when not.
ASL := tests/asl/node_modules/.installed
$(ASL): tests/asl/package.json tests/asl/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/asl --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the States Language and TypeScript example tests will be skipped"; fi

install: $(STAMP) $(ASL)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/actionlint

# The whole pipeline on moto with a generated sample set: no AWS account, no Docker.
demo: $(LOCAL_STAMP)
	$(BIN)/python -m local --out out/demo

# The local stack as an AWS endpoint on 127.0.0.1:4566 until Ctrl-C (see "Use the local stack").
serve: $(LOCAL_STAMP)
	$(BIN)/python -m local serve

# The tests spread over every core (pytest-xdist); each test file runs whole on one worker, so a module's
# fixtures and the graphs and corpus images a process caches are built once per worker, not once per test.
# Files start in collection order (the end-to-end files, the longest, first), not by how many tests they hold.
PYTEST := $(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

# Before a commit, in under two minutes: lint, the pure unit tests and the handlers on moto.
check: $(STAMP) $(ASL) lint
	$(PYTEST) tests/functional tests/unit

# Everything (what CI runs): lint, then every test, the slowest fifteen named at the end.
test: $(STAMP) $(ASL) lint
	$(PYTEST) --durations=15

# Many more event sequences for the lifecycle model, more property-test examples, and 1,000
# uploads with every fault; prints how many sequences it explored and the fault figures.
soak: $(STAMP)
	HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest -q -s -p no:cacheprovider \
		tests/e2e/test_lifecycle_model.py tests/unit/test_imaging_properties.py tests/unit/test_fingerprints.py \
		tests/functional/test_duplicates_model.py \
		tests/e2e/test_local_pipeline.py::test_a_thousand_uploads_with_every_fault_lose_nothing

$(VENV)/.bench-installed: $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt -c constraints.txt
	touch $@

# Every benchmark, ratios against baselines measured in the same run (about 25 minutes: the pipeline suite runs 10,000 images).
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
