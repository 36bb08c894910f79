# casestream — the two commands a new machine needs are `make demo` and `make test`.
# Each bootstraps the venv (.venv) and the Debian packages it needs, with no manual step.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JOBS   ?= auto

.PHONY: demo test lint unit integration bench system-deps schemas clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests use, each a real server or tool started by the tests on 127.0.0.1:
# PostgreSQL (store contract), Prometheus + promtool (rules, scrape test), Chromium + ChromeDriver (UI e2e),
# docker-compose (validates deploy/compose.yaml offline; no engine needed).
APT_PKGS := postgresql prometheus chromium chromium-driver docker-compose
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/casestream demo

lint: $(STAMP)
	$(BIN)/ruff check events projections services ui tests
	$(BIN)/mypy events projections services
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n $(JOBS) tests/unit

test: $(STAMP) system-deps lint
	$(BIN)/pytest -q -p no:cacheprovider -n $(JOBS) --durations=15 tests

schemas: $(STAMP)
	$(BIN)/python -m events.schema_export

# Benchmarks (not tests): each prints its figures, with ratios to a peer measured in the same run.
BENCH_REPLAY_EVENTS ?= 1000000
bench: $(STAMP)
	$(BIN)/casestream bench pipeline
	$(BIN)/casestream bench latency
	$(BIN)/casestream bench replay --events $(BENCH_REPLAY_EVENTS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
