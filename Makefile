# sdannc: every target creates .venv when it is missing, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

MODEL  ?= examples/digits_mlp_q.onnx
TARGET ?= darwin3
OUT    ?= build
INPUT  ?= examples/digits_input.npy
OUTPUT ?= $(OUT)/output.npy

.PHONY: install test bench demo clean sim

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

demo: $(STAMP)
	$(BIN)/python examples/demo.py

sim: $(STAMP)
	$(BIN)/sdannc sim $(OUT) --input $(INPUT) --output $(OUTPUT) --report $(OUT)/sim_report.json

clean:
	rm -rf build .pytest_cache
