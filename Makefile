# The two entry points of README.md. Each bootstraps .venv on first use.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
# torch and torchvision must be a matching pair (torchvision pins the torch it was built for).
TORCH        := torch==2.14.1
TORCHVISION  := torchvision==0.29.2
FACENET      := facenet-pytorch==2.6.0
CORES   ?= 2

.PHONY: demo report test test-fast lint zoo chromium

$(BIN)/.installed: pyproject.toml Makefile
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH) $(TORCHVISION)
	$(BIN)/python -m pip install -q --no-deps $(FACENET)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# the whole default target (tables, figures, paired comparison), then the Snakemake report
demo: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml
	$(MAKE) --no-print-directory report CONFIG=config/demo.yaml
	@echo "tables: results/tables/accuracy.md results/tables/balanced_accuracy.md results/tables/summary.csv"
	@echo "report: results/report.html"

# the Snakemake report of a finished run (it reads the run's outputs, so it has no dry run):
# `make report CONFIG=my.yaml` for a run made with --configfile my.yaml
CONFIG ?= config/demo.yaml
report: $(BIN)/.installed
	$(BIN)/snakemake --report results/report.html --configfile $(CONFIG)

# every registered model, one epoch, through the whole DAG (config/zoo.yaml)
zoo: $(BIN)/.installed
	$(BIN)/snakemake --configfile config/zoo.yaml --cores $(CORES) results/tables/accuracy.md

# Debian's chromium for the report screenshot test, installed when root with apt-get (as in CI)
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && DEBIAN_FRONTEND=noninteractive apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
	  || echo "chromium unavailable: the report screenshot test is skipped (required under CI=true)"

test: $(BIN)/.installed chromium
	$(BIN)/python -m pytest

test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow and not slurm"

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint --configfile config/demo.yaml
	$(BIN)/snakefmt --check Snakefile workflow/rules
