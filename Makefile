# stylecat: `make demo` and `make test` are the two set-up commands; both are idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STYLECAT := $(VENV)/bin/stylecat
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help system-deps install stack migrate demo lint test-unit test down

help:
	@echo "make demo    install, start the stack, migrate, run the demo"
	@echo "make test    install, start the stack, lint, type-check, run the whole test suite"
	@echo "make test-unit   the server-free tests alone (no stack needed, under a minute)"
	@echo "make lint    ruff (lint and format check) and mypy"
	@echo "make down    stop what the stack started"

# PostgreSQL and Redis servers, Maven and a JDK, POV-Ray and node (the corpus build), Chromium (the
# web interface's browser tests) from Debian's packages, only where missing.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v java >/dev/null || missing="$$missing default-jdk-headless"; \
	command -v povray >/dev/null || missing="$$missing povray"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

install: system-deps $(VENV)/.installed

stack: install
	$(STYLECAT) stack up

migrate: stack
	$(STYLECAT) db upgrade

demo: migrate
	$(STYLECAT) demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-unit: install
	$(PY) -m pytest -m unit

test: lint stack
	$(PY) -m pytest

down:
	-$(STYLECAT) demo --stop
	$(STYLECAT) stack down
