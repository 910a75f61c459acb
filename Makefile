# The two commands a person needs (see README):
#   make run    set up .venv if missing, then run the whole pipeline (snakemake --cores all)
#   make test   set up .venv if missing, then run the test suite
# Python 3.12 comes from pyenv (.python-version) when present, else python3.12 on PATH.

PYTHON ?= $(shell (pyenv which python3 2>/dev/null || command -v python3.12 || command -v python3) | head -n 1)
VENV := .venv
STAMP := $(VENV)/.installed
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=
# Rules call the `binn` command: put the environment first on PATH for every recipe.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: run test setup lint report clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' || \
		{ echo "binn needs Python >= 3.12, $(PYTHON) is older" >&2; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[fem,dev]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores all $(SNAKEMAKE_ARGS)

report: $(STAMP)
	$(VENV)/bin/snakemake --report report.html $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check Snakefile */rules.smk
	$(VENV)/bin/snakemake --lint --dry-run

clean:
	rm -rf results .snakemake report.html
