# The two commands a newcomer needs: `make run` and `make test`. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SUB ?= alice

.PHONY: install run token test lint typecheck check-containers services worker sandbox bench bench-webhooks bench-inbound \
	bench-profile clean \
	postman postman-collection test-browser test-faults

install: $(STAMP)

# Re-install only when the dependency list changes; a fresh machine needs nothing but Python.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)
	@echo "installed into $(VENV)" >&2

# HOST and PORT reach the app too: without PUBLIC_BASE_URL its links and OAuth redirect follow them.
run: install
	@mkdir -p var
	$(BIN)/alembic upgrade head
	@echo "Swagger UI: http://$(HOST):$(PORT)/docs"
	HOST=$(HOST) PORT=$(PORT) LOG_JSON=$${LOG_JSON:-false} $(BIN)/python -m app serve

# A development JWT for user SUB (stdout carries the token alone: TOKEN=$$(make token SUB=alice)).
token: install
	@$(BIN)/python -m app token --sub "$(SUB)"

# arq's worker under a supervisor that rides out Redis outages (plain `arq app.jobs.worker.WorkerSettings` exits).
worker: install
	$(BIN)/python -m app worker

sandbox: install
	$(BIN)/python -m app.sandbox --port 8100

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app tests bench alembic postman
	$(BIN)/mypy app tests bench alembic postman/build_collection.py
	@$(MAKE) --no-print-directory check-containers

typecheck: install
	$(BIN)/mypy app tests bench alembic postman/build_collection.py

# No Docker engine runs here: validate the compose file with the Compose v2 binary and lint the Dockerfile.
check-containers: install
	@COMPOSE=$$($(BIN)/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")'); \
	  chmod +x "$$COMPOSE" 2>/dev/null || true; \
	  "$$COMPOSE" -f docker-compose.yml config --quiet && echo "docker-compose.yml: valid"
	@$(BIN)/hadolint Dockerfile && echo "Dockerfile: hadolint clean"

services:
	@scripts/ensure-services.sh

# Two processes (pytest-xdist), each test file kept in one: most of the suite's time is waiting on real
# processes, a restarting PostgreSQL, Redis and timers, which overlaps. The OpenAPI fuzzer runs on its own
# afterwards: schemathesis reports each operation as a subtest, which xdist's workers do not pass on.
test: install services lint
	$(BIN)/pytest -n 2 --dist loadfile --ignore tests/reliability/test_fuzz.py
	$(BIN)/pytest tests/reliability/test_fuzz.py

# The fault matrix alone (two APIs, two workers, a private PostgreSQL and Redis) with the 90 s Redis outage
# of issue 9; `make test` runs it with a 20 s outage.
test-faults: install services
	FAULT_REDIS_OUTAGE_SECONDS=90 $(BIN)/pytest tests/reliability/test_fault_matrix.py -p no:cacheprovider -s

# The Postman collection against a fresh service on a free port, with newman from postman/node_modules
# (Node.js, npm and newman are installed on the first run).
postman: install
	@scripts/postman.sh

# Rebuild postman/*.json from the OpenAPI document (a test fails when they are out of date).
postman-collection: install
	$(BIN)/python postman/build_collection.py

# The pages in headless Chromium (Debian's chromium and chromium-driver, installed on the first run):
# Swagger UI, ReDoc, the consent page and the OAuth ending. Screenshots of failures go to var/browser/.
test-browser: install
	@scripts/ensure-chromium.sh
	$(BIN)/pytest tests/browser -m browser -p no:cacheprovider

# Issue 8's goals, each beside its reference measured in the same run (about 5 minutes): one table, and the
# figures in var/bench/latest.json. wrk (Debian's package) is installed on the first run.
bench: install services
	@scripts/ensure-wrk.sh
	$(BIN)/python -m bench.suite

# The webhook delivery delay (a minute): publication to receipt of signed post.published events.
bench-webhooks: install services
	$(BIN)/python -m bench.webhooks

# 1,000 signed Instagram webhook deliveries in 10 s, the worker SIGKILLed midway: latency, none lost or doubled.
bench-inbound: install services
	$(BIN)/python -m bench.inbound_webhooks

# py-spy's profile of the API under goal 1's load: hot spots by function and by library, in var/bench/.
bench-profile: install services
	@scripts/ensure-wrk.sh
	$(BIN)/python -m bench.profile

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache postman/node_modules
