# The two commands a newcomer needs: `make run` and `make test`. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck check-containers services worker sandbox bench clean

install: $(STAMP)

# Re-install only when the dependency list changes; a fresh machine needs nothing but Python.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)
	@echo "installed into $(VENV)"

run: install
	@mkdir -p var
	$(BIN)/alembic upgrade head
	LOG_JSON=$${LOG_JSON:-false} $(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --proxy-headers

worker: install
	$(BIN)/arq app.worker.WorkerSettings

sandbox: install
	$(BIN)/python -m app.sandbox --port 8100

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app tests bench alembic
	$(BIN)/mypy app tests bench alembic
	@$(MAKE) --no-print-directory check-containers

typecheck: install
	$(BIN)/mypy app tests bench alembic

# No Docker engine runs here: validate the compose file with the Compose v2 binary and lint the Dockerfile.
check-containers: install
	@COMPOSE=$$($(BIN)/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")'); \
	  chmod +x "$$COMPOSE" 2>/dev/null || true; \
	  "$$COMPOSE" -f docker-compose.yml config --quiet && echo "docker-compose.yml: valid"
	@$(BIN)/hadolint Dockerfile && echo "Dockerfile: hadolint clean"

services:
	@scripts/ensure-services.sh

test: install services lint
	$(BIN)/pytest

bench: install services
	$(BIN)/python -m bench.batch_post
	$(BIN)/python -m bench.webhooks

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
