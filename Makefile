# The course's commands. Each sets up .venv itself when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# nbgrader runs alembic from the venv: its bin/ must be on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help lab test release autograde-demo bench clean

help:
	@echo "make lab             JupyterLab on lessons/ (nbgrader extension enabled)"
	@echo "make test            every test: package, notebooks, release sync, autograde"
	@echo "make release         regenerate lessons/ from solutions/ with nbgrader"
	@echo "make autograde-demo  autograde sample submissions in a temporary course copy"
	@echo "make bench           krylov_ref against SciPy, as ratios"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

lab: $(STAMP)
	$(BIN)/jupyter lab --allow-root --no-browser --ip=127.0.0.1 \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/lessons

test: $(STAMP)
	$(BIN)/python -m pytest

release: $(STAMP)
	$(BIN)/python scripts/release.py

autograde-demo: $(STAMP)
	$(BIN)/python scripts/autograde_demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) gradebook.db exchange submitted autograded feedback
