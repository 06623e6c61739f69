"""Test set-up: keep Jupyter, IPython and matplotlib state out of the home
directory, and draw figures without a screen."""

import os
import shutil
import tempfile

import pytest

# The test files that take longest, longest first: with --no-loadscope-reorder
# (pyproject.toml) xdist hands files to its workers in collection order, so
# these start at once, each on a worker of its own, and the short files fill
# in around them. (xdist's own order, by number of tests, started
# test_skipping.py, the longest by far, after 110 s and left it running alone
# for the last 5 minutes of a 25-minute run.) Measured with --durations, set-up
# included.
LONGEST_FIRST = ["test_skipping.py", "test_autograde.py", "test_misconceptions.py",
                 "test_sandbox.py", "test_notebooks.py", "test_class_grading.py",
                 "test_book.py", "test_browser.py", "test_grading.py",
                 "test_benchmarks_smoke.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # Stable: the tests of a file keep their order, and the other files theirs.
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_configure(config):
    state = tempfile.mkdtemp(prefix="krylov-course-test-")
    config._krylov_state = state
    for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"),
                     ("JUPYTER_DATA_DIR", "jupyter-data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
                     ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")]:
        path = os.path.join(state, sub)
        os.makedirs(path, exist_ok=True)
        os.environ[var] = path
    os.environ["MPLBACKEND"] = "Agg"
    # The kernel runs with the same Python as pytest (nbval --nbval-current-env,
    # nbgrader from the venv): put its bin/ first so alembic is found too.
    import sys

    bindir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_krylov_state", ""), ignore_errors=True)


def pytest_xdist_auto_num_workers(config):
    """Workers for ``-n auto``: twice the cores, at least 4. The slow tests
    wait on kernels, subprocesses and browsers much of their time, so more
    workers than cores finish sooner (measured on 2 cores: the suite in 19.6
    min with 4 workers against 21.3 with 2)."""
    return max(4, 2 * (os.cpu_count() or 1))


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of the module's own (pgserver) with an empty
    database "gradebook"; its SQLAlchemy URL.

    Its data folder is not under pytest's temporary root: pgserver opens the
    folders above its data to its own user (the server runs as one when the
    tests run as root), and every pytest that starts (a test's own pytest
    run, another session) closes pytest's root again (mode 0700), which made
    the server stop mid-run with "Permission denied"."""
    pgserver = pytest.importorskip("pgserver")
    pytest.importorskip("psycopg")
    folder = tempfile.mkdtemp(prefix="krylov-pgdata-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    server.psql("CREATE DATABASE gradebook;")
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/tmp/...
    yield uri.replace("postgresql://", "postgresql+psycopg://", 1).replace("/postgres?", "/gradebook?", 1)
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)
