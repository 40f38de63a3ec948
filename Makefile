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
CONFIG ?=

.PHONY: install test bench bench-scaling demo clean compile sim report example

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

# Compile time and memory against synapses (ResNet-18 at 64, 128, 224; VGG-16 at 224): minutes, and
# up to 14 GB (docs/performance.md), so not part of `make bench`.
bench-scaling: $(STAMP)
	$(BIN)/python bench/compile_scaling.py --json bench/out/compile_scaling.json

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# Deployment pipelines: make compile sim MODEL=net_q.onnx TARGET=darwin3 OUT=build/net INPUT=x.npy
# (CONFIG=sdannc.yaml adds a compile config; `make report` writes $(OUT)/report/index.html)
compile: $(STAMP)
	$(BIN)/sdannc compile $(MODEL) -t $(TARGET) -o $(OUT) $(if $(CONFIG),--config $(CONFIG))

sim: $(STAMP)
	$(BIN)/sdannc sim $(OUT) --input $(INPUT) --output $(OUTPUT) --report $(OUT)/sim_report.json

report: $(STAMP)
	$(BIN)/sdannc report $(OUT) --input $(INPUT) -o $(OUT)/report

# Rebuild the bundled example model (trained on scikit-learn's digits, quantized by onnxruntime).
example: $(STAMP)
	$(BIN)/python examples/build_example.py

clean:
	rm -rf build .pytest_cache
