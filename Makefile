# Two commands on a fresh machine:
#   make run    set everything up, then the whole default run on the embedded rendered corpus (music21 pieces, FluidSynth)
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
	$(BIN)/pip install --quiet -e ".[dev,qmax]"  # qmax: Essentia also where no pinned wheel exists
	touch $(STAMP)

# Optional system tools, installed when missing and apt is usable: ffmpeg decodes m4a/opus/webm
# (without it those formats are rejected with a clear reason); fluidsynth and a General-MIDI
# soundfont render the music21 corpus for the rendered_corpus source.
system-deps:
	@if ! command -v ffmpeg >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing ffmpeg (optional: m4a/opus/webm decoding)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) \
	      || echo "ffmpeg could not be installed: m4a/opus/webm recordings will be rejected"; \
	  else echo "ffmpeg not found and cannot be installed here: m4a/opus/webm recordings will be rejected"; fi; \
	fi
	@# FluidSynth and a General-MIDI soundfont render the music21 corpus (ingest.source: rendered_corpus).
	@if ! command -v fluidsynth >/dev/null 2>&1 || { ! ls /usr/share/sounds/sf2/*.sf2 >/dev/null 2>&1 \
	    && ! ls /usr/share/soundfonts/*.sf2 >/dev/null 2>&1; }; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing fluidsynth and fluid-soundfont-gm (rendered_corpus source)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      fluidsynth fluid-soundfont-gm >/dev/null) \
	      || echo "fluidsynth could not be installed: the rendered_corpus source will fail (apt-get install fluidsynth fluid-soundfont-gm)"; \
	  else echo "fluidsynth or a General-MIDI soundfont is missing and cannot be installed here: the rendered_corpus source needs them (Debian: apt-get install fluidsynth fluid-soundfont-gm; macOS: brew install fluid-synth and an .sf2 soundfont)"; fi; \
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
	rm -rf data/0[2-8]_*/*/ mlflow.db mlruns mlartifacts build  # never data/01_raw: it may hold your audio
