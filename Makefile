# Two commands on a fresh machine:
#   make run    set everything up, then the whole default run on the embedded synthetic collection
#   make test   set everything up, then lint and the whole test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export MPLBACKEND := Agg

.PHONY: setup system-deps run test lint format bench viz mlflow-ui clean

# The Python stack, pinned in pyproject.toml (torch 2.14.1 / torchaudio 2.11.0, kedro 1.7, mlflow 3.17.2 ...).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Optional system tools: ffmpeg decodes m4a/opus/webm. Installed when missing and apt is usable;
# without it those formats are rejected with a clear reason and everything else works.
system-deps:
	@if ! command -v ffmpeg >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing ffmpeg (optional: m4a/opus/webm decoding)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) \
	      || echo "ffmpeg could not be installed: m4a/opus/webm recordings will be rejected"; \
	  else echo "ffmpeg not found and cannot be installed here: m4a/opus/webm recordings will be rejected"; fi; \
	fi

setup: $(STAMP) system-deps

run: setup
	$(BIN)/kedro run

test: setup lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/cqt.py

viz: setup
	$(BIN)/kedro viz build

mlflow-ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db

clean:
	rm -rf data/0[2-8]_*/*/ mlflow.db mlartifacts build  # never data/01_raw: it may hold your audio
