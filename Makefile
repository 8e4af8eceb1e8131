# Two commands do everything on a fresh clone:
#   make demo   set up the environment and run the example analysis
#   make test   set up the environment and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := cwola cathode vae tnt quak salad vrnn _template
PACKAGES := -e ./statistics -e ./framework[generate,formats,hepdata] -e ./plugins/cwola[torch] -e ./plugins/cathode \
	-e ./plugins/vae -e ./plugins/tnt -e ./plugins/quak -e ./plugins/salad -e ./plugins/vrnn -e ./plugins/_template

.PHONY: setup demo test test-stats-alone lint bench samples clean

$(VENV)/.installed: constraints.txt requirements-dev.txt framework/pyproject.toml statistics/pyproject.toml $(PLUGINS:%=plugins/%/pyproject.toml)
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
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

# Samples beyond the development dataset, made with `casehunt generate` (Pythia 8 +
# FastJet) into generated/ (about an hour on 2 cores; resumable): the 3-prong signal of
# the issue-5 benchmark, QUAK's signal priors (none of them the development signal),
# constituent-level samples for VAE-QR's constituent mode and the VRNN tagger, and
# SALAD's background simulation (QCD with Pythia tune 4C; the data use Monash).
GEN := $(BIN)/casehunt generate --jobs 2 --constituents 50 --no-progress
PRIORS := 2:250:80 2:400:200 2:700:150 3:300:100 3:700:200
samples: setup
	mkdir -p generated
	$(GEN) wprime --x-prongs 3 --mx 500 --my 100 -n 20000 --seed 501 -o generated/signal_wp3500_x500_y100_3prong.h5
	for p in $(PRIORS); do set -- $$(echo $$p | tr : ' '); \
	  $(GEN) wprime --x-prongs $$1 --mx $$2 --my $$3 -n 5000 --seed 60$$1 \
	    -o generated/prior_wp3500_x$$2_y$$3_$${1}prong.h5 || exit 1; done
	$(GEN) wprime --mx 500 --my 100 -n 10000 --seed 701 -o generated/signal_wp3500_x500_y100_const.h5
	$(GEN) qcd -n 40000 --seed 801 -o generated/qcd_const.h5
	$(BIN)/casehunt generate --jobs 2 --no-progress qcd -n 100000 --seed 5001 \
	  --pythia 'Tune:pp = 5' -o generated/qcd_sim_tune4c.h5

bench: setup
	$(BIN)/python benchmarks/suite.py --jobs 2

clean:
	rm -rf $(VENV) .venv-stats results
