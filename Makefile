# Referloop: `make run` to try it, `make test` to check it. `make help` lists everything.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.DEFAULT_GOAL := help
BENCH_DB ?= sqlite

.PHONY: help run test lint migrate demo deliver browser bench bench-quick clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# A random secret key, made once and kept in instance/ (never committed).
instance/config.py:
	@mkdir -p instance
	@$(PYTHON) -c "import secrets; print('SECRET_KEY = ' + repr(secrets.token_hex(32)))" > $@
	@echo "Wrote a new secret key to $@"

run: $(VENV)/.installed instance/config.py ## Install, migrate the SQLite database and serve on http://127.0.0.1:5000
	$(FLASK) db upgrade
	$(FLASK) run --debug --host $(HOST) --port $(PORT)

browser: ## Install Debian's chromium for the browser tests, if missing and possible
	@sh scripts/ensure-chromium.sh

test: $(VENV)/.installed-dev browser ## Install the dev tools and run the whole suite (browser tests included)
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev browser ## Run the benchmark (BENCH_DB=postgresql for PostgreSQL); writes bench/results.json
	@sh scripts/ensure-wrk.sh
	$(BIN)/python -m bench.run --database $(BENCH_DB)

bench-quick: $(VENV)/.installed-dev browser ## The benchmark on small data with short runs, for development
	@sh scripts/ensure-wrk.sh
	$(BIN)/python -m bench.run --database $(BENCH_DB) --quick

lint: $(VENV)/.installed-dev ## Run ruff on the code and tests
	$(BIN)/ruff check .

migrate: $(VENV)/.installed instance/config.py ## Apply migrations to the configured database
	$(FLASK) db upgrade

demo: $(VENV)/.installed instance/config.py ## Seed a demo professional and print a sign-in and a client link
	$(FLASK) db upgrade
	$(FLASK) demo

deliver: $(VENV)/.installed instance/config.py ## Deliver queued email now (needs FLASK_MAIL_SERVER)
	$(FLASK) outbox deliver

clean: ## Remove the virtual environment and caches (keeps instance/)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info bench/.data
