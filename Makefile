# make demo   - set up .venv, pre-train a tiny ELECTRA on CPython's own docs, show it at work
# make test   - set up .venv with the test extras, run the whole suite
# make bazel-test - the unit tests through `bazel test` (offline; installs bazel-bootstrap)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test bazel-test venv venv-test clean

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
	$(BIN)/python -m pytest -n 2 --dist loadfile

bazel-test: $(VENV)/.test
	tools/bazel_test.sh //...

clean:
	rm -rf $(VENV) runs
