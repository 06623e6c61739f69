# The course's commands. Each sets up .venv itself when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# nbgrader runs alembic from the venv: its bin/ must be on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help setup lab test release autograde autograde-demo bench bench-grading mutants clean

help:
	@echo "make setup           create .venv with everything the course needs (the others do it too)"
	@echo "make lab             your working copy in my-work/ (new lessons added, nothing overwritten), in JupyterLab"
	@echo "make test            every test: package, notebooks, release sync, autograde, browser, mutants"
	@echo "make release         regenerate lessons/ from solutions/ (FORCE=1 to overwrite edited lessons)"
	@echo "make autograde LESSON=NN_name [WORKERS=n]  grade submitted/*/NN_name in parallel, then export grades"
	@echo "make autograde-demo  autograde sample submissions in a temporary course copy"
	@echo "make mutants         only the mutation testing of the graders (part of make test)"
	@echo "make bench           krylov_ref against SciPy, as ratios"
	@echo "make bench-grading   grading throughput per lesson, serial and parallel"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

lab: $(STAMP)
	$(BIN)/python scripts/workspace.py
	$(BIN)/jupyter lab --allow-root --no-browser --ip=127.0.0.1 \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/my-work

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python scripts/mutants.py

release: $(STAMP)
	$(BIN)/python scripts/release.py $(if $(FORCE),--force) $(if $(LESSON),--lesson $(LESSON))

autograde: $(STAMP)
	@test -n "$(LESSON)" || (echo "usage: make autograde LESSON=NN_name [WORKERS=n]"; exit 2)
	$(BIN)/python scripts/autograde.py $(LESSON) $(if $(WORKERS),--workers $(WORKERS))

mutants: $(STAMP)
	$(BIN)/python scripts/mutants.py $(if $(LESSON),--lesson $(LESSON))

autograde-demo: $(STAMP)
	$(BIN)/python scripts/autograde_demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-grading: $(STAMP)
	$(BIN)/python benchmarks/grading.py

clean:
	rm -rf $(VENV) gradebook.db .gradebook-sources.json .course.lock exchange submitted \
		autograded feedback integrity
