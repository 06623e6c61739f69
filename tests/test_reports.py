"""What a student reads when a check fails, in a real kernel: a few lines
naming the exercise and the mistake; for an exception in their own code,
their cell, line and message, and none of the grader's frames."""

from __future__ import annotations

import re

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from course import ROOT

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SETUP = ("import numpy as np\n"
         "from krylov_ref.checks import use_own\n"
         "from krylov_ref.checks.lesson01 import check_exact_step, check_steepest_descent")


def run_cells(*sources):
    nb = new_notebook(cells=[new_code_cell(SETUP), *[new_code_cell(s) for s in sources]])
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute()
    return nb.cells[1:]


def shown(cell):
    parts = []
    for o in cell.outputs:
        parts.append(o.text if o.output_type == "stream" else "\n".join(o.get("traceback", [])))
    return ANSI.sub("", "\n".join(parts))


def grader_lines():
    lines = set()
    for path in (ROOT / "krylov_ref").rglob("*.py"):
        lines |= {l.strip() for l in path.read_text().splitlines() if len(l.strip()) >= 16}
    return lines


BUGGY = '''def exact_step(A, r, p):
    Ap = A @ p
    return (r @ p) / Ap[len(p)]   # index out of range'''


@pytest.fixture(scope="module")
def cells():
    return run_cells(
        BUGGY, "check_exact_step(exact_step)",
        "def exact_step(A, r, p, extra):\n    return 0.0", "check_exact_step(exact_step)",
        "def steepest_descent(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):\n"
        "    from numpy.linalg import solve\n    return solve(np.eye(b.size), b), [0.0]",
        "check_steepest_descent(steepest_descent)",
        "def exact_step(A, r, p):\n    return (r @ p) / (p @ (A @ p))",
        "check_exact_step(exact_step)",
        "step = use_own(exact_step)\nprint(step is exact_step or step.__wrapped__ is exact_step)",
        "def steepest_descent(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):\n"
        "    raise NotImplementedError()",
        "sd = use_own(steepest_descent)\nx, norms = sd(np.diag([1.0, 2.0]), np.ones(2), rtol=1e-10)\n"
        "print(np.allclose(x, [1.0, 0.5]))",
    )


def test_an_error_in_the_students_code_shows_their_frames_only(cells):
    text = shown(cells[1])
    assert cells[1].outputs[-1].ename == "StudentCodeError"
    assert "Exercise 3, `exact_step`" in text and "IndexError" in text
    assert re.search(r"Cell In\[\d+\], line 3, in exact_step", text), text
    assert "return (r @ p) / Ap[len(p)]" in text
    assert not [line for line in grader_lines() if line in text]
    assert text.count("\n") < 12


def test_a_call_that_breaks_the_contract_says_so(cells):
    text = " ".join(shown(cells[3]).split())
    assert "calling `exact_step` failed" in text and "missing 1 required positional argument" in text
    assert not [line for line in grader_lines() if line in text]


def test_a_forbidden_solver_is_named_with_the_line_that_called_it(cells):
    text = " ".join(shown(cells[5]).split())
    assert "numpy.linalg.solve() is not allowed in this exercise" in text
    assert re.search(r"in Cell In\[\d+\], line 3", text), text


def test_use_own_takes_the_students_function_once_it_passed(cells):
    assert "\u2713 exact_step" in shown(cells[7])
    text = " ".join(shown(cells[8]).split())
    assert "using your `exact_step` from Exercise 3" in text and "True" in text


def test_use_own_falls_back_to_the_reference_and_says_so(cells):
    text = " ".join(shown(cells[10]).split())
    assert "using krylov_ref's `steepest_descent`" in text and "True" in text
    assert not any(o.output_type == "error" for o in cells[10].outputs)
