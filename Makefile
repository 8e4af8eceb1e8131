# Two commands do everything on a fresh clone:
#   make demo   set up the environment and run the example analysis
#   make test   set up the environment and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := -e ./statistics -e ./framework[generate] -e ./plugins/cwola[torch] -e ./plugins/cathode -e ./plugins/_template

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: constraints.txt requirements-dev.txt framework/pyproject.toml statistics/pyproject.toml plugins/cwola/pyproject.toml plugins/_template/pyproject.toml plugins/cathode/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/casehunt run examples/demo.yaml --output results/demo --overwrite

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/bench_cwola.py

clean:
	rm -rf $(VENV) results
