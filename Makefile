# Set-up and everyday commands. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_USER ?= demo
# Where `make run` keeps its demo token's key, to print the same one on every run (git
# ignores the file); a new token replaces it when the database has no active token for it.
DEMO_TOKEN_FILE ?= .demo-token
# `make run` is for local development: DEBUG on, SQLite unless DATABASE_URL is set.
RUN_ENV := DEBUG=true LOG_FORMAT=plain

.PHONY: install connectors lock upgrade run serve test soak lint format check-deploy bench \
	bench-smoke clean

# Every environment installs a lock compiled with hashes, so each machine gets exactly the
# versions CI tested (docs/dependencies.md).
LOCKS := requirements/base.txt requirements/dev.txt

install: $(VENV)/.installed

# pip-sync removes what an older lock installed (the venv is kept: it holds the connectors'
# one). The project goes in last, without dependencies, built by the locked setuptools.
$(VENV)/.installed: pyproject.toml $(LOCKS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip-sync --quiet --pip-args '--require-hashes' requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The BI tools the shipped connectors are tested with (connectors/requirements.in), in an
# environment of their own: their dependencies conflict with the service's.
CONNECTORS := $(VENV)/connectors
connectors: $(CONNECTORS)/.installed

# Rebuilt from empty (--clear) whenever its lock changes, so it holds that lock alone.
$(CONNECTORS)/.installed: connectors/requirements.txt | install
	$(PYTHON) -m venv --clear $(CONNECTORS)
	$(CONNECTORS)/bin/python -m pip install --quiet --require-hashes -r connectors/requirements.txt
	touch $@

# Recompile the locks after editing pyproject.toml or connectors/requirements.in; current
# pins stay unless a range now excludes them. The dev lock is constrained by the runtime
# one, so the packages they share have one version. Index options stay out of the files.
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(UPGRADE)
lock: install
	$(PIP_COMPILE) --build-deps-for wheel -o requirements/base.txt pyproject.toml
	$(PIP_COMPILE) --build-deps-for editable --extra dev -c requirements/base.txt \
		-o requirements/dev.txt pyproject.toml
	$(PIP_COMPILE) -o connectors/requirements.txt connectors/requirements.in

# Every package to the newest version its range admits, or only those named: P="django redis".
upgrade: UPGRADE = $(if $(P),$(addprefix --upgrade-package ,$(P)),--upgrade)
upgrade: lock

run: install
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py load_demo_data
	@token=$$($(RUN_ENV) $(BIN)/python manage.py demo_token $(DEMO_USER) --file $(DEMO_TOKEN_FILE)) && \
	echo && echo "API token for '$(DEMO_USER)' (kept in $(DEMO_TOKEN_FILE)): $$token" && \
	echo "Try: curl -H 'Authorization: Token $$token' http://$(HOST):$(PORT)/api/v1/oms/customers/list-simple/" && echo
	$(RUN_ENV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Production-style serving: nginx (config/nginx.conf, on SERVE_BIND) in front of gunicorn
# (config/gunicorn.py), both run by config/serve.py; needs nginx installed. Takes its
# settings from the environment like production (SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL...).
serve: install
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python -m config.serve

test: install connectors
	$(BIN)/pytest

# The connectors' soak on PostgreSQL: 50,000 customers, 10 minutes of writes, dlt, Airbyte
# and the recipe of docs/syncing.md syncing throughout; prints what each copy missed (nothing).
SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
soak: install connectors
	DATABASE_URL=$(SOAK_DATABASE_URL) SOAK_ROWS=50000 SOAK_SECONDS=600 \
	$(BIN)/pytest -q tests/test_connectors.py

# mypy (pyproject.toml's [tool.mypy]) loads the settings for django-stubs' plugin, so it
# needs what they need: DEBUG=true gives them a development SECRET_KEY.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# `manage.py check --deploy` as production runs it: DEBUG off, a real key, a host name.
check-deploy: install
	DEBUG=false SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	ALLOWED_HOSTS=oms.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

# Load benchmark against the reference bench in ../shared/bench when present (else the
# project alone); writes bench/RESULTS.md. See bench/run.sh for every variable.
BENCH_N ?= 1000000
BENCH_ROUNDS ?= 2
BENCH_DURATION ?= 10
bench: install
	BENCH_N=$(BENCH_N) BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_DURATION=$(BENCH_DURATION) bench/run.sh

# CI: the whole pipeline on 2,000 customers, project alone, 2 s per scenario. Fails on a
# failed pre-check or request, never on speed; results stay in bench/.work/.
bench-smoke: install
	BENCH_SHARED=none BENCH_N=2000 BENCH_ROUNDS=1 BENCH_DURATION=2 BENCH_WARMUP=1 \
	BENCH_DB=oms_bench_smoke BENCH_PORT=8091 BENCH_RESULTS=bench/.work/smoke-RESULTS.md bench/run.sh

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache staticfiles
