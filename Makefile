# Two commands do everything on a fresh clone:
#   make demo   set up the environment and run the example analysis
#   make test   set up the environment and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := -e ./statistics -e ./framework[generate] -e ./plugins/cwola[torch] -e ./plugins/cathode -e ./plugins/_template

.PHONY: setup demo test test-stats-alone lint bench clean

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

# The reviewer's environment: casehunt-stats alone, without the framework or any ML stack.
test-stats-alone:
	rm -rf .venv-stats
	$(PYTHON) -m venv .venv-stats
	.venv-stats/bin/pip install --quiet ./statistics pytest
	.venv-stats/bin/python -c "import importlib.util as u, sys; bad = [m for m in ('casehunt', 'torch', 'sklearn', 'tensorflow') if u.find_spec(m)]; sys.exit(f'not a stats-only environment: {bad}' if bad else 0)"
	.venv-stats/bin/pytest tests/stats --confcutdir=tests/stats -p no:cacheprovider -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/suite.py --jobs 2

clean:
	rm -rf $(VENV) .venv-stats results
