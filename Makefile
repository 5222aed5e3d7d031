# Two commands on a fresh machine: `make up` runs the demo world, `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
# uv must use this machine's Python, never download one.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
PY := $(VENV)/bin/python
# Debian packages of the real servers the tests start, each as package=file-that-proves-it (a glob).
SERVICES := postgresql=/usr/lib/postgresql/*/bin/initdb mosquitto=/usr/sbin/mosquitto chromium=/usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help up test lint typecheck pytest services sync bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

sync: $(UV)  ## create .venv and install the locked dependencies (dev included)
	$(UV) sync --frozen --python python3

up: sync  ## install, then run the demo world and print its address
	$(VENV)/bin/smartev up $(ARGS)

lint: sync  ## ruff check and ruff format --check
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: sync  ## mypy --strict on src/
	$(VENV)/bin/mypy --strict src

services:  ## install the servers the tests start (Debian packages), if missing
	@set -f; missing=; \
	for s in $(SERVICES); do compgen -G "$${s#*=}" >/dev/null || missing="$$missing $${s%%=*}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# SMARTEV_REQUIRE_SERVICES: a server that cannot be found fails its tests instead of skipping them.
pytest: sync services  ## the test suite
	SMARTEV_REQUIRE_SERVICES=1 $(VENV)/bin/pytest

test: lint typecheck pytest  ## everything CI checks: lint, types, tests

bench: sync  ## every benchmark in bench/
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:  ## remove the environment and caches
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
