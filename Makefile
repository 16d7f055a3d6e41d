# cityflux: two commands do all the set-up (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell cksum < pyproject.toml | cut -d' ' -f1)
CORE   := $(VENV)/.core-$(HASH)
DEV    := $(VENV)/.dev-$(HASH)

.PHONY: demo test bench docs demo-data clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamps carry a hash of pyproject.toml: a changed dependency list reinstalls.
$(CORE): | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV): $(CORE)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(DEV)

demo: $(CORE)
	$(BIN)/cityflux run configs/demo-city.yaml

test: $(DEV)
	$(BIN)/python -m pytest

bench: $(CORE)
	$(BIN)/python benchmarks/run_all.py

demo-data: $(CORE)
	$(BIN)/python -m cityflux.synthetic.demo_city data-samples/demo-city
	$(BIN)/python -m cityflux.synthetic.coastal_city data-samples/coastal-city

docs: $(CORE)
	$(BIN)/cityflux config-doc > docs/configuration.md

clean:
	rm -rf output .pytest_cache build src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
