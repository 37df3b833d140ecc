# Two commands: `make demo` and `make test`. Both set up their own virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test lint typecheck docs pytest bench bench-e2e bench-memory bench-instructions soak fuzz clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: install your distribution's venv package (Debian: apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir build/site

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck docs pytest

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@touch $(BENCH_STAMP)

# Benchmarks (not part of `make test`): in process, over uvicorn (wrk if installed), memory, instruction counts.
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

bench-e2e: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.e2e

bench-memory: $(STAMP)
	$(BIN)/python -m benchmarks.memory

# Instructions and cache misses per request under valgrind's callgrind (Debian: apt-get install valgrind).
bench-instructions: $(STAMP)
	$(BIN)/python -m benchmarks.instructions

# Proof under load and faults (not part of `make test`): uvicorn with 2 workers and mixed tokens for SOAK_SECONDS,
# then a broken JWK Set endpoint (down, slow, 500, garbage, huge, gzip bomb). Loopback only, bounded.
SOAK_SECONDS ?= 180
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak --seconds $(SOAK_SECONDS)
	$(BIN)/python -m benchmarks.faults

# The property tests with a nightly budget (20 times the examples of `make test`).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=nightly $(BIN)/python -m pytest -q \
		tests/test_verify.py tests/test_differential.py tests/test_cache.py tests/test_token_content.py

clean:
	rm -rf $(VENV) build site .pytest_cache .mypy_cache .ruff_cache
