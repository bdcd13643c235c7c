# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: setup test demo bench lint format-check typecheck services secrets dashboards clean

setup: $(VENV)/.installed services

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# urllib3-future (grafana-client's HTTP stack) replaces urllib3 in place unless built with this, which breaks
	# requests and so schemathesis: both keep their own package
	URLLIB3_NO_OVERRIDE=1 $(PY) -m pip install --quiet --no-binary urllib3-future -e '.[test,server,dashboards,lab]'
	touch $@

# mosquitto and influxd must exist; installs the Debian packages when root, else says how.
services:
	@scripts/ensure-services.sh

test: setup
	$(VENV)/bin/pytest

# The main job: services, simulated village, gateway and criteria service; a report, then Ctrl-C stops it all.
demo: setup
	$(VENV)/bin/thonminh demo $(DEMO_ARGS)

# Every bench/*.py, into docs/benchmarks.md (BENCH_ARGS=--quick for a smaller run).
bench: setup
	$(PY) bench/run_all.py $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check thonminh edge server dashboards lab tests bench

# the tree as `ruff format` leaves it (line length 110, pyproject.toml); `ruff format <dirs>` fixes it
format-check: setup
	$(VENV)/bin/ruff format --check thonminh edge server dashboards lab tests bench

# mypy as configured in pyproject.toml: strict on thonminh/, edge/ and lab/, the default checks on server/ and dashboards/.
typecheck: setup
	$(VENV)/bin/mypy

secrets:
	@scripts/make-secrets.sh

dashboards: setup
	$(VENV)/bin/thonminh dashboards build

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
