# ssoidc: make help lists the targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYPROJECT_SHA := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
RUN_STAMP := $(VENV)/.runtime-$(PYPROJECT_SHA)
STAMP := $(VENV)/.installed-$(PYPROJECT_SHA)
NODE_STAMP := tests/node/node_modules/.installed
# AWS CLI v2 releases newer than Debian bookworm's 2.9 (tools/awscli-v2/): NAME=Debian version; 2.23.6 (Debian 13) is
# the oldest tested with the PKCE login, "newest" follows Debian unstable (pinned; its current one when the pin is gone)
CLI_V2 := 2.23.6=2.23.6-1 newest=2.38.1-1
CLI_V2_DIR := .tools/awscli-v2
PORT ?= 8000
DATA ?= .data/demo

.DEFAULT_GOAL := help
.PHONY: help install install-runtime system-deps node-deps cli-v2 run run-tls test test-fast lint fmt typecheck shapes settings-doc bench bench-scale clean

help: ## show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

# Two stamps: the runtime (what serving needs, plus boto3 for the banner's example) for `make run`, and the
# development toolchain (.[dev]: pytest, mypy, ruff, playwright, the AWS CLI v1, ...) on top for the rest.
$(RUN_STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[demo]'
	@rm -f $(VENV)/.runtime-*
	@touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install-runtime: $(RUN_STAMP) ## install only what serving needs (the venv with the runtime dependencies and boto3)

install: $(STAMP) system-deps node-deps cli-v2 ## install everything the tests need (venv, Debian and npm packages)

system-deps: ## Debian packages used by tests and benchmarks: AWS CLI v2, wrk, chromium, pgbouncer
	@missing=""; \
	  [ -x /usr/bin/aws ] || missing="$$missing awscli"; \
	  [ -x /usr/sbin/pgbouncer ] || missing="$$missing pgbouncer"; \
	  [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	  command -v wrk >/dev/null || missing="$$missing wrk"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  fi

$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

node-deps: $(NODE_STAMP) ## npm packages for the JavaScript SDK tests

cli-v2: system-deps ## AWS CLI v2 $(CLI_V2) from Debian's archive into $(CLI_V2_DIR) (aws sso login PKCE tests)
	PY=$(PY) tools/awscli-v2/install.sh $(CLI_V2_DIR) $(CLI_V2)

run: $(RUN_STAMP) ## serve on http://127.0.0.1:$(PORT) with demo data (SQLite in $(DATA))
	$(BIN)/ssoidc serve --demo --port $(PORT) --data-dir $(DATA)

TLS_PORT ?= 8443

run-tls: $(RUN_STAMP) ## serve on https://localhost:$(TLS_PORT) with demo data and a development certificate (aws sso login)
	$(BIN)/ssoidc dev-cert --dir $(DATA)/tls
	$(BIN)/ssoidc serve --demo --port $(TLS_PORT) --data-dir $(DATA) --public-url https://localhost:$(TLS_PORT) \
	  --tls-certfile $(DATA)/tls/cert.pem --tls-keyfile $(DATA)/tls/key.pem

test: install ## install what is needed and run every test
	$(BIN)/pytest -q -n 2

test-fast: $(STAMP) ## unit tests only
	$(BIN)/pytest -q tests/unit

lint: $(STAMP) ## ruff and mypy --strict
	$(BIN)/ruff check ssoidc tests bench tools examples
	$(BIN)/ruff format --check ssoidc tests bench tools examples
	$(BIN)/mypy
	$(BIN)/mypy tools/gen_shapes.py

typecheck: $(STAMP) ## mypy --strict only
	$(BIN)/mypy

settings-doc: $(STAMP) ## regenerate the settings table in docs/settings.md from ssoidc/settings.py
	$(BIN)/python -m ssoidc.settings --write docs/settings.md

fmt: $(STAMP) ## format and auto-fix
	$(BIN)/ruff format ssoidc tests bench tools
	$(BIN)/ruff check --fix ssoidc tests bench tools

shapes: $(STAMP) ## regenerate ssoidc/aws/shapes (typed wire shapes) from the pinned botocore models
	$(BIN)/python tools/gen_shapes.py

bench: install ## load benchmark (wrk): JWT-bearer and refresh grants, tokens/s and latency at 1/16/32/64 conns
	$(BIN)/python bench/run.py

bench-scale: $(STAMP) ## scale benchmark (issue 12): provision users to 100k on SQLite and PostgreSQL, 1/16 clients, plots
	$(BIN)/python bench/scale.py $(ARGS)

clean: ## remove the venv, caches and demo data
	rm -rf $(VENV) .tools .data .pytest_cache .mypy_cache .ruff_cache tests/node/node_modules
