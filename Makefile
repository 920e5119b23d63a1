# mindpain — two commands: `make book` builds the site, `make test` runs every test.
# Both bootstrap .venv from the pinned, hashed requirements.txt when it is missing or stale.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mindpain-installed
# The Citation File Format 1.2.0 JSON schema, for the test of CITATION.cff. It ships inside the
# cffconvert 2.0.0 wheel (pinned by hash here), which is unpacked but not installed: cffconvert
# needs jsonschema<4, which the book's stack cannot take. Tests read it from this file, offline.
CFF_SCHEMA := $(VENV)/share/mindpain/cff-schema-1.2.0.json
CFFCONVERT := cffconvert==2.0.0 --hash=sha256:573c825e4e16173d99396dc956bd22ff5d4f84215cc16b6ab05299124f5373bb
UV := uv==0.13.9 \
  --hash=sha256:d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19 \
  --hash=sha256:5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe \
  --hash=sha256:66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63 \
  --hash=sha256:c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5
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
# One machine code for the floating point on every x86-64 processor with AVX2 and FMA
# (book/reproducibility.md): OpenBLAS's Haswell kernels, which it picks itself on AVX2
# processors (AVX-512 ones would get kernels that round float32 products differently), and
# numpy's AVX2 loops (its AVX-512 loops switched off). This machine's numbers are unchanged
# bit for bit; set either variable to override.
ifneq ($(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo y),)
export OPENBLAS_CORETYPE ?= Haswell
export NPY_DISABLE_CPU_FEATURES ?= X86_V4 AVX512_ICL AVX512_SPR
endif
# Bytecode is written on first import (to __pycache__ folders, ignored by git). Where the
# environment sets PYTHONDONTWRITEBYTECODE (this project's machines do), every process (each
# chapter, each worker, each command) would otherwise compile every module it imports from
# source again: chapter 3's imports took 10 s instead of 3.6 s (2 busy cores).
export PYTHONDONTWRITEBYTECODE :=

.PHONY: book test check lint venv twin lock benchmark clean chromium axe screenshots multiverse verify api precompute calibrate calibrate-rekey \
	tables-check tables-record

venv: $(STAMP) $(CFF_SCHEMA)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The pinned, hashed requirements go in with uv (itself pinned by hash), which installs
	# them several times faster than pip; where uv cannot be installed, pip does it. Either
	# way bytecode is compiled on first import, not up front (that doubled pip's CPU time).
	# Every wheel must match its hash, so trying every index for a version is safe.
	@echo "$(UV)" > $(VENV)/uv-requirement.txt
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(VENV)/uv-requirement.txt \
	  && $(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes --no-deps \
	     --index-strategy unsafe-best-match -r requirements.txt \
	  || $(BIN)/python -m pip install --quiet --require-hashes --no-deps --no-compile -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@touch $@

$(CFF_SCHEMA): | $(STAMP)
	@tmp=$$(mktemp -d) && echo "$(CFFCONVERT)" > $$tmp/req.txt \
	  && $(BIN)/python -m pip download --quiet --no-deps --require-hashes -r $$tmp/req.txt -d $$tmp \
	  && mkdir -p $(dir $@) \
	  && $(BIN)/python -c "import sys, zipfile; w = zipfile.ZipFile(sys.argv[1]); \
	     open(sys.argv[2], 'wb').write(w.read('cffconvert/schemas/1.2.0/schema.json'))" \
	     $$tmp/cffconvert-2.0.0-py3-none-any.whl $@ \
	  ; status=$$?; rm -rf $$tmp; exit $$status

## book: generate the full twin (if absent), fit its first level and score it, execute the
## chapters N_JOBS at a time into the execution cache, build _build/html from it.
book: export MINDPAIN_PRESET := $(PRESET)
# Checksums of unchanged files are reused (device, inode, size, mtime and ctime all equal):
# every chapter re-verifies the twin and the derivatives without re-reading gigabytes.
book: export MINDPAIN_HASH_CACHE ?= $(abspath data/cache/sha256.sqlite)
book: $(STAMP)
	$(BIN)/mindpain twin --out data/twin-$(PRESET) --preset $(PRESET) --seed $(SEED) --if-current --overwrite
	$(BIN)/python -m mindpain_book.buildtools prepare-book --preset $(PRESET) --seed $(SEED)
	$(BIN)/python -m mindpain_book.buildtools stage-data
	$(BIN)/python -m mindpain_book.buildtools execute --jobs $(N_JOBS)
	$(BIN)/jupyter-book build . -W --keep-going
	$(BIN)/python -m mindpain_book.buildtools check-site _build/html

## test: lint, unit tests, BIDS validation, chapters on the small preset, offline-site check:
## every test, TEST_JOBS workers at a time (pytest-xdist). A work unit (a test file, or a test
## class: one chapter of the tests on a user's dataset) stays on one worker, so its fixtures are
## made once; the longest units go first, and the session twins, the book's build and the
## user-dataset copies are made once for all workers (tests/conftest.py).
TEST_JOBS ?= 2
PYTEST_PARALLEL := $(if $(filter-out 0 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadscope --no-loadscope-reorder,-p no:xdist)
test: $(STAMP) $(CFF_SCHEMA) chromium axe
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

## check: the quick tier for the edit-test loop (about a minute): lint and the unit tests. Leaves
## out the tests marked slow (chapters, the book's build, external programs) and heavy (those
## using a generated twin, and the costliest others: tests/conftest.py lists them with their
## CPU seconds); `make test` runs them all.
check: $(STAMP) $(CFF_SCHEMA) axe
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -m "not slow and not heavy" $(PYTEST_PARALLEL)

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## axe: axe-core (the site test's accessibility engine) from the npm registry, pinned by version
## and sha512 integrity in src/mindpain_book/axe.py; only axe.min.js is kept, under .venv.
axe: $(STAMP)
	@$(BIN)/python -m mindpain_book.buildtools install-axe

## screenshots: every chapter of the built site at 1,400 px and 390 px, full page, as PNG files
## in _build/screenshots (for reviewers; needs chromium).
screenshots: $(STAMP) chromium
	$(BIN)/python -m mindpain_book.buildtools screenshots _build/html --out _build/screenshots

## verify: compute the results tables twice from scratch (small preset) and compare byte for byte.
verify: $(STAMP)
	$(BIN)/python -m mindpain_book.buildtools verify --preset small

## tables-check: after `make book PRESET=full`, hold results/tables/*.tsv against the recorded
## checksums (benchmarks/results_tables_full.sha256): a refactoring must leave them unchanged.
tables-check: $(STAMP)
	$(BIN)/python -m mindpain_book.table_record check

## tables-record: record the checksums anew (only for a change meant to change results).
tables-record: $(STAMP)
	$(BIN)/python -m mindpain_book.table_record record

## reproduce-check: after `make book PRESET=full` on any machine, hold results/tables/*.tsv
## against the published reference values (benchmarks/reference/) within tolerances: one
## line per table (see src/mindpain_book/table_compare.py). Byte identity: tables-check.
.PHONY: reproduce-check
reproduce-check: $(STAMP)
	$(BIN)/python -m mindpain_book.table_compare check

## precompute: recompute the committed calibration and recovery tables (book/precomputed/);
## the book adopts each only while its content key matches the code (else computes it).
precompute: $(STAMP)
	$(BIN)/python -m mindpain.precomputed

## api: rewrite book/api/*.md (one page per module) after adding or renaming a module.
api: $(STAMP)
	$(BIN)/python -m mindpain_book.buildtools api-pages

twin: $(STAMP)
	$(BIN)/mindpain twin --out data/twin-$(PRESET) --preset $(PRESET) --seed $(SEED) --if-current --overwrite

benchmark: $(STAMP)
	cd benchmarks && ../$(BIN)/python bench_twin_run.py \
		&& ../$(BIN)/python bench_twin.py --keep \
		&& ../$(BIN)/python bench_first_level.py --twin _work/twin-full \
		&& ../$(BIN)/python bench_scoring.py

## multiverse: recompute chapter 6's committed multiverse (book/precomputed/): the one-dataset
## specification curve through the file-based pipeline on the reduced twin (full design,
## coarse grid; 16 first-level variants, 384 specifications per signature) and the same
## multiverse replicated in memory on MV_REPLICATIONS independently drawn twins of the
## calibration grid (multiverse_replications.tsv.gz); both in the default (realistic) world.
## Resumable: first-level variants are content-keyed under data/multiverse/, finished
## replications kept in data/multiverse-cache/. The book checks both content keys. Measured
## (2026-12-07, shared machine): one replication of all 384 specifications per signature costs
## about 115 s CPU, so 20 take about 20 min on 2 free cores; the curve's 16 first-level
## variants cost about 13 s CPU each on the small twin's 40 runs, so about 20-30 min on the
## reduced twin's 412 runs: about 45 min in all.
MV_REPLICATIONS ?= 20
multiverse: $(STAMP)
	$(BIN)/mindpain twin --out data/twin-reduced --preset reduced --seed $(SEED) --if-current
	$(BIN)/python -m mindpain.multiverse --preset reduced --seed $(SEED) --n-jobs $(N_JOBS) \
		--replications $(MV_REPLICATIONS) --out book/precomputed

## transfer: measure what the pipeline (BOLD -> first level -> scoring) does to a latent
## effect in each world, on replications with seeds of their own (mindpain.endtoend.transfer):
## writes book/precomputed/pipeline_transfer.tsv and the values the twin plants its effects
## through (src/mindpain/twin/pipeline_transfer.toml). Then `make calibrate`, `make precompute`
## and `make multiverse`: every planted result changes. About 15 min on 2 free cores (60
## replications per world).
TRANSFER_REPLICATIONS ?= 60
.PHONY: transfer
transfer: $(STAMP)
	nice -n 10 $(BIN)/python -m mindpain.endtoend --transfer --seed $(SEED) \
		--replications $(TRANSFER_REPLICATIONS) --n-jobs 2 --out book/precomputed

## calibrate: recompute chapter 4's committed end-to-end calibration (book/precomputed/):
## the trial replicated through BOLD, first level, scoring and models in both worlds of the
## calibration twin (full design, 15 mm grid) and with dropout depending on baseline, in
## memory. REPLICATIONS per world; BUDGET (minutes) stops starting new replications (unset:
## none). Each finished replication is kept in data/endtoend-cache, so an interrupted run
## resumes. About 15-25 s CPU per replication and scenario (benchmarks/results.md): 300
## replications per world (and a sixth of them in the MAR scenario) take about 1.5-2 hours on
## 2 free cores.
REPLICATIONS ?= 300
calibrate: $(STAMP)
	nice -n 10 $(BIN)/python -m mindpain.endtoend --seed $(SEED) --replications $(REPLICATIONS) \
		--n-jobs 2 $(if $(BUDGET),--budget-minutes $(BUDGET)) --out book/precomputed

## multiverse-curve: recompute only the one-dataset curve of `make multiverse` (its content key
## covers the code it runs, so a change to that code that leaves its numbers must renew it:
## the committed TSVs come out byte-identical, only the key in multiverse.json changes).
## About 12 min on 2 free cores when data/multiverse holds no first-level variant yet.
.PHONY: multiverse-curve
multiverse-curve: $(STAMP)
	$(BIN)/mindpain twin --out data/twin-reduced --preset reduced --seed $(SEED) --if-current
	$(BIN)/python -m mindpain.multiverse --preset reduced --seed $(SEED) --n-jobs $(N_JOBS) \
		--part curve --out book/precomputed

## calibrate-rekey: after a change to code in the end-to-end result's fingerprint that cannot
## alter its numbers, recompute its check replications and, if they match, renew its key.
calibrate-rekey: $(STAMP)
	$(BIN)/python -m mindpain.endtoend --rekey --out book/precomputed

## multiverse-rekey: the same for the multiverse's committed replications (recomputes the
## first two and compares them, as written, with the committed rows).
.PHONY: multiverse-rekey
multiverse-rekey: $(STAMP)
	$(BIN)/python -m mindpain.multiverse --rekey --out book/precomputed

## lock: recompile requirements.txt from requirements.in (needs the package registry).
lock:
	$(PYTHON) -m venv /tmp/mindpain-piptools && /tmp/mindpain-piptools/bin/pip install -q pip-tools
	/tmp/mindpain-piptools/bin/pip-compile --generate-hashes --allow-unsafe --strip-extras -q -o requirements.txt requirements.in

clean:
	rm -rf _build
