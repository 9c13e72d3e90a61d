# mmsim: `make demo` and `make test` set everything up from a fresh clone (Python 3.11+ and make only).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROTOS := $(wildcard protos/mmsim/v1/*.proto)
GEN    := protos/gen

.PHONY: all venv proto proto-check buf-lint test soak demo bench up down status clean compose-test experiments-docs pictures

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(STAMP)

# Regenerate the protobuf/gRPC code under protos/gen (committed; `proto-check` fails when it is stale).
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=$(GEN) --pyi_out=$(GEN) \
		--grpc_python_out=$(GEN) $(PROTOS)

proto-check: $(STAMP)
	@tmp=$$(mktemp -d) && mkdir -p $$tmp/gen && \
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=$$tmp/gen --pyi_out=$$tmp/gen \
		--grpc_python_out=$$tmp/gen $(PROTOS) && \
	cp $(GEN)/mmsim/v1/__init__.py $$tmp/gen/mmsim/v1/ && \
	if diff -r -q -x __pycache__ $(GEN)/mmsim $$tmp/gen/mmsim; then echo "generated protobuf code is up to date"; rm -rf $$tmp; \
	else echo "generated protobuf code is STALE: run 'make proto' and commit"; rm -rf $$tmp; exit 1; fi

# buf (STANDARD lint rules, buf.yaml) from the npm registry into .buf/ (ignored by git).
BUF := .buf/node_modules/.bin/buf
$(BUF):
	npm install --silent --no-audit --no-fund --prefix .buf @bufbuild/buf

buf-lint: $(BUF)
	$(BUF) lint && echo "buf lint: protos follow the STANDARD rules"

# The bytes-model property test of issue 9 runs MODEL_EXAMPLES examples per configuration (6 of them) in
# `make test`, and the 200 the issue asks for in `make soak` (about 25 min on 2 cores), which CI also runs.
MODEL_EXAMPLES ?= 25
# Test modules run in TEST_WORKERS processes (pytest-xdist, a whole module per worker: module-scoped stacks
# stay private). The tests mostly wait on gRPC and Redis, so two workers on 2 cores finish sooner; every
# stack picks free ports and its own state directory. TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2

# Bytecode first: with PYTHONDONTWRITEBYTECODE set, every `mmsim` and service process would compile the
# project's sources again (the README test alone starts ~70 of them).
test: proto-check buf-lint
	$(BIN)/python -m compileall -q clients services protos/gen
	MMSIM_MODEL_EXAMPLES=$(MODEL_EXAMPLES) $(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile \
		--durations=25 tests

soak: $(STAMP)
	MMSIM_MODEL_EXAMPLES=200 $(BIN)/pytest -q -p no:cacheprovider tests/integration/test_coherence_model.py
	MMSIM_EXPERIMENTS=all $(BIN)/pytest -q -p no:cacheprovider tests/integration/test_experiments.py
	MMSIM_PRESSURE_ROUNDS=8 $(BIN)/pytest -q -p no:cacheprovider tests/integration/test_reclaim.py
	MMSIM_AS_EXAMPLES=40 MMSIM_AS_STEPS=25 $(BIN)/pytest -q -p no:cacheprovider tests/integration/test_address_space_stateful.py
	MMSIM_COMPACTION_EXAMPLES=40 $(BIN)/pytest -q -p no:cacheprovider tests/integration/test_compaction_model.py
	MMSIM_SOAK=1 $(BIN)/pytest -q -p no:cacheprovider tests/integration/test_anon_lru.py

# docs/experiments.md and docs/experiments/NAME/: every experiment with --quick, seed 0 (commit the result).
experiments-docs: $(STAMP)
	$(BIN)/mmsim experiment docs --out docs

demo: $(STAMP)
	$(BIN)/mmsim demo

# Every picture of docs/pictures.md, redrawn from a private stack (mmsim.gallery), and the web view's
# screenshot from the browser test (needs Debian's chromium; graphviz for the XArray SVG).
pictures: $(STAMP)
	$(BIN)/python -m mmsim.gallery docs/pictures
	MMSIM_PICTURES_DIR=docs/pictures $(BIN)/pytest -q -p no:cacheprovider -rs tests/integration/test_web_browser.py

# Every figure of issue 16 beside its floor, medians of 3 runs over gRPC and in-process (bench.json; compare two
# with `mmsim bench compare A.json B.json`). BENCH_ARGS: e.g. --repeats 5 --faults 200.
BENCH_ARGS ?= --repeats 3

bench: $(STAMP)
	$(BIN)/mmsim bench run $(BENCH_ARGS) --out bench.json

up: $(STAMP)
	$(BIN)/mmsim up

down: $(STAMP)
	$(BIN)/mmsim down

status: $(STAMP)
	$(BIN)/mmsim status

clean:
	rm -rf $(VENV) .mmsim .pytest_cache .hypothesis .buf

# The docker-compose stack for real (root; no registry needed): Docker engine and a local Debian base from
# ../shared/tools/docker-offline.sh, images built, `up -d`, health, tests/compose driven from the host with the
# Python client, `down -v`, and the engine stopped if this started it. See deploy/compose-test.sh.
compose-test: $(STAMP)
	bash deploy/compose-test.sh
