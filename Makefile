# mindpain — two commands: `make book` builds the site, `make test` runs every test.
# Both bootstrap .venv from the pinned, hashed requirements.txt when it is missing or stale.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mindpain-installed
PRESET ?= full
SEED ?= 20220701
N_JOBS ?= 2
# Real data (pain21, official signature files) live in a data directory; on the project's
# machines that is ../shared/data. Users: leave unset (a user cache dir) or point it elsewhere.
MINDPAIN_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export MINDPAIN_DATA
export MINDPAIN_SEED := $(SEED)
export MINDPAIN_N_JOBS := $(N_JOBS)
export MPLBACKEND := Agg

.PHONY: book test lint venv twin lock benchmark clean chromium multiverse

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@touch $@

## book: generate the full twin (if absent), execute every chapter on it, build _build/html.
book: export MINDPAIN_PRESET := $(PRESET)
book: $(STAMP)
	$(BIN)/mindpain twin --out data/twin-$(PRESET) --preset $(PRESET) --seed $(SEED) --if-current --overwrite
	$(BIN)/python -m mindpain.buildtools prepare-book --preset $(PRESET) --seed $(SEED)
	$(BIN)/jupyter-book build . -W --keep-going
	$(BIN)/python -m mindpain.buildtools check-site _build/html

## test: lint, unit tests, BIDS validation, chapters on the small preset, offline-site check.
test: $(STAMP) chromium
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

twin: $(STAMP)
	$(BIN)/mindpain twin --out data/twin-$(PRESET) --preset $(PRESET) --seed $(SEED) --if-current --overwrite

benchmark: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_twin.py --keep \
		&& ../$(BIN)/python bench_first_level.py --twin _work/twin-full \
		&& ../$(BIN)/python bench_scoring.py

## multiverse: recompute chapter 6's committed multiverse (book/precomputed/) on the reduced
## twin (full design, coarse grid); the book checks its content key. About 40 min on 2 cores.
multiverse: $(STAMP)
	$(BIN)/mindpain twin --out data/twin-reduced --preset reduced --seed $(SEED) --if-current
	$(BIN)/python -m mindpain.multiverse --preset reduced --seed $(SEED) --out book/precomputed

## lock: recompile requirements.txt from requirements.in (needs the package registry).
lock:
	$(PYTHON) -m venv /tmp/mindpain-piptools && /tmp/mindpain-piptools/bin/pip install -q pip-tools
	/tmp/mindpain-piptools/bin/pip-compile --generate-hashes --allow-unsafe --strip-extras -q -o requirements.txt requirements.in

clean:
	rm -rf _build
