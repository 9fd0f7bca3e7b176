# The two commands of the README: `make run` and `make test`. Both set up .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run test lint docs deps params expected clean-venv

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

## Run the default pipeline (the profile named in params.yaml, `quick` unless changed). It says
## first which precision this machine trains in, and whether the committed results used another.
## GANFORGE_CPU_BF16=off forces the fp32 path of a CPU without native bf16 (see docs/scale.md).
run: setup
	python -m pipeline machine
	dvc repro

## Run the test suite (unit tests and one end-to-end DVC run on the smoke profile) on two
## workers: a test file stays on one, the two end-to-end files start first side by side
## (tests/conftest.py), the rest fill in around them.
TEST_WORKERS ?= 2
test: setup
	pytest -n $(TEST_WORKERS) --dist loadfile --durations=10

lint: setup
	ruff check src pipeline tests benchmarks scripts docs/hooks
	ruff format --check src pipeline tests benchmarks scripts docs/hooks
	python -m pipeline deps --check

## Build the documentation site (docs/, mkdocs.yml) into site/; --strict fails on any warning
## (a broken link, a docstring mkdocstrings cannot read). `mkdocs serve` to read it while editing.
## The results pages are made from reports/ by docs/hooks/results.py during the build.
docs: setup
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir site

## Write every DVC stage's code deps into dvc.yaml, from the import closure of its command.
deps: setup
	python -m pipeline deps --write

## Re-measure what the end-to-end test accepts: the smoke profile over several seeds in fp32 and
## in bf16 (emulated where the CPU has no native bf16: slower), into tests/expected/.
expected: setup
	GANFORGE_CPU_BF16=off python -m tests.smoke_expectation --write
	GANFORGE_CPU_BF16=on python -m tests.smoke_expectation --write

## Recompose params.yaml from conf/ (what `dvc exp run` does before every experiment).
params: setup
	python -m pipeline params

clean-venv:
	rm -rf $(VENV)
