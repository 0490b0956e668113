# make demo   - set up .venv, pre-train a tiny ELECTRA on CPython's own docs, show it at work
# make test   - set up .venv with the test extras, run the whole suite
# make bazel-test - the unit tests through `bazel test` (offline; installs bazel-bootstrap)
# make study   - ELECTRA vs MLM at equal pre-training FLOPs on ../shared/data (~1 hour, 2 CPU cores)
# make bench  - the benchmark suite on an idle machine: bench/results.jsonl + bench/RESULTS.md
#               (BENCH_FLAGS=--quick for a smoke run; not part of `make test`)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test bazel-test study bench venv venv-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamps make the venv refresh itself whenever a pin or setup.py changes.
$(VENV)/.runtime: $(BIN)/python requirements.txt setup.py
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime requirements-test.txt
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@

venv: $(VENV)/.runtime
venv-test: $(VENV)/.test

demo: $(VENV)/.runtime
	$(BIN)/python -m keras_electra.demo

test: $(VENV)/.test
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

bazel-test: $(VENV)/.test
	tools/bazel_test.sh //...

# The paper's Figure 1 at toy scale (python -m keras_electra.study --helpfull): ELECTRA vs
# MLM at equal pre-training FLOPs, 3 checkpoints each, fine-tuned on SST-2 and CoLA.
# About an hour of an idle 2-core CPU (the arithmetic is in keras_electra/study.py);
# re-running resumes. STUDY_BUDGET is pre-training FLOPs per objective.
SHARED_DATA ?= ../shared/data
STUDY_DIR ?= runs/study
STUDY_BUDGET ?= 4e13
study: $(VENV)/.runtime
	$(BIN)/python -m keras_electra.study --config=configs/electra_tiny.json \
		--input_files='$(SHARED_DATA)/gutenberg/train_0*.txt' --glue_dir=$(SHARED_DATA)/glue \
		--tasks=sst2,cola --budget_flops=$(STUDY_BUDGET) --points=3 \
		--max_train_examples=sst2=8000 --finetune_epochs=sst2=1 --num_seeds=1 \
		--output_dir=$(STUDY_DIR)

# Needs the test extras: the PyTorch + transformers side of every comparison.
bench: $(VENV)/.test
	$(BIN)/python bench/run_all.py $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) runs
