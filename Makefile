# Two commands: `make demo` and `make test`. Both set up the virtualenv in .venv, installing what they need:
# `make demo` only the package and uvicorn (the `demo` extra), everything else the whole development stack.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.created
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test lint typecheck docs pytest test-services bench bench-e2e bench-memory bench-instructions soak fuzz clean

$(VENV_STAMP):
	@$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: install your distribution's venv package (Debian: apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $(VENV_STAMP)

$(STAMP): pyproject.toml | $(VENV_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The development stack includes the demo extra: after `make test`, `make demo` installs nothing more.
$(DEMO_STAMP): pyproject.toml | $(VENV_STAMP)
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then :; else $(BIN)/python -m pip install --quiet -e '.[demo]'; fi
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir build/site

# The Redis tests run a real redis-server (never skipped): install it with apt-get when it is missing.
test-services:
	@command -v redis-server >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 || { echo "redis-server is missing: install it (the Redis tests need it)"; exit 1; }; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  echo "installing redis-server for the Redis tests (apt-get)"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

pytest: $(STAMP) test-services
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
# then a broken JWK Set endpoint (down, slow, 500, garbage, huge, gzip bomb), then the revocation store's
# redis-server stopped and frozen (needs redis-server). Loopback only, bounded.
SOAK_SECONDS ?= 180
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak --seconds $(SOAK_SECONDS)
	$(BIN)/python -m benchmarks.faults
	$(BIN)/python -m benchmarks.redis_faults

# The property tests with a nightly budget (20 times the examples of `make test`).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=nightly $(BIN)/python -m pytest -q \
		tests/test_verify.py tests/test_differential.py tests/test_cache.py tests/test_token_content.py

clean:
	rm -rf $(VENV) build site .pytest_cache .mypy_cache .ruff_cache
