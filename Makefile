# The two commands of the README: `make run` and `make test`. Both set up .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run test lint params clean-venv

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

## Run the default pipeline (the profile named in params.yaml, `quick` unless changed).
run: setup
	dvc repro

## Run the test suite (unit tests and one end-to-end DVC run on the smoke profile).
test: setup
	pytest

lint: setup
	ruff check src pipeline tests benchmarks
	ruff format --check src pipeline tests benchmarks

## Recompose params.yaml from conf/ (what `dvc exp run` does before every experiment).
params: setup
	python -m pipeline params

clean-venv:
	rm -rf $(VENV)
