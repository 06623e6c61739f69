# The course's commands. Each sets up .venv itself when needed, with what it
# needs: `make lab` the package and JupyterLab (the `lab` extra), the others
# everything (`dev`). Each stamp records one install; `dev` includes `lab`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LAB_STAMP := $(VENV)/.installed-lab
DEV_STAMP := $(VENV)/.installed-dev
# nbgrader runs alembic from the venv: its bin/ must be on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
# The student's lab runs in my-work/, the file browser's root, with nbgrader's
# student tools only (Validate, Assignment List): the instructor's server
# extensions are off by these flags, their JupyterLab plugins by the Jupyter
# configuration folder STUDENT_JUPYTER (written by scripts/workspace.py, and
# put on JUPYTER_CONFIG_PATH for this server only).
WORK := my-work
STUDENT_JUPYTER := $(abspath $(VENV))/etc/krylov-student
NO_INSTRUCTOR_TOOLS := \
	--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False \
	--ServerApp.jpserver_extensions=nbgrader.server_extensions.course_list=False
# More JupyterLab options for `make lab`, e.g. LAB_FLAGS=--port=8899
LAB_FLAGS ?=

.PHONY: help setup lab formgrader test release autograde report autograde-demo bench bench-grading mutants misconceptions book clean

help:
	@echo "make setup           create .venv with everything (dev); the other targets install what they need"
	@echo "make lab             your working copy in my-work/ (new lessons added, nothing overwritten), in JupyterLab"
	@echo "make formgrader      the instructor's JupyterLab in the course folder (Formgrader, Create Assignment)"
	@echo "make test            every test: package, notebooks, release sync, autograde, browser, mutants"
	@echo "make release         regenerate lessons/ from solutions/ (FORCE=1 to overwrite edited lessons)"
	@echo "make autograde LESSON=NN_name [WORKERS=n]  grade submitted/*/NN_name in parallel, then export grades"
	@echo "make autograde-demo  autograde sample submissions in a temporary course copy"
	@echo "make report LESSON=NN_name   the class report: reports/NN_name.html and its CSV files"
	@echo "make mutants         only the mutation testing of the graders (part of make test)"
	@echo "make misconceptions  the catalogue of named mistakes, tested (part of make test)"
	@echo "make book            the course as a static web site in build/book/ (offline; open index.html)"
	@echo "make bench           krylov_ref against SciPy, as ratios"
	@echo "make bench-grading   grading throughput per lesson, with and without the sandbox"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# A student's install skips pip's byte-compilation of every module (a third to
# a half of the install's time, measured): Python compiles a module when it is
# first imported and keeps the result (unless PYTHONDONTWRITEBYTECODE is set:
# then pip compiles, once).
LAB_PIP_FLAGS := $(if $(PYTHONDONTWRITEBYTECODE),,--no-compile)

$(LAB_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing the course package, JupyterLab and nbgrader into $(VENV) (first time only)"
	$(BIN)/python -m pip install --quiet $(LAB_PIP_FLAGS) -e '.[lab]'
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing the course package with everything (dev) into $(VENV) (first time only)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(LAB_STAMP)

setup: $(DEV_STAMP)

lab: $(LAB_STAMP)
	$(BIN)/python scripts/workspace.py --jupyter-config $(STUDENT_JUPYTER)
	cd $(WORK) && JUPYTER_CONFIG_PATH=$(STUDENT_JUPYTER)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH} \
		$(abspath $(BIN))/jupyter lab --allow-root --no-browser --ip=127.0.0.1 \
		$(NO_INSTRUCTOR_TOOLS) $(LAB_FLAGS)

formgrader: $(DEV_STAMP)
	$(BIN)/jupyter lab --allow-root --no-browser --ip=127.0.0.1 $(LAB_FLAGS)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python scripts/mutants.py
	$(BIN)/python scripts/misconceptions.py

release: $(DEV_STAMP)
	$(BIN)/python scripts/release.py $(if $(FORCE),--force) $(if $(LESSON),--lesson $(LESSON))

autograde: $(DEV_STAMP)
	@test -n "$(LESSON)" || (echo "usage: make autograde LESSON=NN_name [WORKERS=n]"; exit 2)
	$(BIN)/python scripts/autograde.py $(LESSON) $(if $(WORKERS),--workers $(WORKERS))

report: $(DEV_STAMP)
	@test -n "$(LESSON)" || (echo "usage: make report LESSON=NN_name"; exit 2)
	$(BIN)/python scripts/report.py $(LESSON)

misconceptions: $(DEV_STAMP)
	$(BIN)/python scripts/misconceptions.py $(if $(LESSON),--lesson $(LESSON))

mutants: $(DEV_STAMP)
	$(BIN)/python scripts/mutants.py $(if $(LESSON),--lesson $(LESSON))

autograde-demo: $(DEV_STAMP)
	$(BIN)/python scripts/autograde_demo.py

# The web book: the student lessons executed (reference package standing in for
# the answers), rendered by Sphinx with myst-nb; LESSONS=01_quadratics,... runs
# only those (the other pages are built unexecuted).
book: $(DEV_STAMP)
	$(BIN)/python scripts/book.py $(if $(LESSONS),--lessons $(LESSONS))

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/run.py

bench-grading: $(DEV_STAMP)
	$(BIN)/python benchmarks/grading.py

clean:
	rm -rf $(VENV) gradebook.db .gradebook-sources.json .course.lock exchange submitted \
		autograded feedback integrity reports build/book build/book-src
