"""Write course notebooks with the nbgrader metadata the course relies on.

Authors can edit notebooks in JupyterLab (View > nbgrader toolbar); this
module is for writing or extending a lesson from Python, with the
conventions of DESIGN.md built in:

* the set-up cell (the first code cell: imports, the lesson's checks,
  ``use_own``) is a read-only nbgrader cell ``setup``, restored from the
  gradebook when a submission is graded;
* answer cell ``<name>_answer``: the contract and a ``### BEGIN SOLUTION`` block;
* visible test ``<name>_visible`` right after it, calling ``krylov_ref.checks``;
* hidden test ``<name>_hidden`` right after that (nbgrader re-inserts a deleted
  test cell after the previous graded cell, so graded cells stay together);
* no outputs, deterministic cell ids, minimal notebook metadata.

Example::

    from nbauthor import Lesson
    L = Lesson("01_quadratics")
    L.md("# Title")
    L.exercise("quadratic", answer_src, visible_src, hidden_src, points=(1, 1))
    L.write("solutions/01_quadratics/01_quadratics.ipynb")
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def _nbgrader(grade_id, *, grade, solution, locked, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _clean(src):
    return textwrap.dedent(src).strip("\n")


class Lesson:
    """A notebook under construction; cells are appended in reading order."""

    def __init__(self, name):
        self.name = name
        self.cells = []

    def _add(self, cell, kind):
        cell.id = f"{kind}-{len(self.cells):03d}"
        self.cells.append(cell)
        return cell

    def md(self, src):
        """A markdown cell."""
        return self._add(new_markdown_cell(_clean(src)), "md")

    def code(self, src, alt=None, grading="skip"):
        """An ordinary code cell (demonstration); ``alt`` describes its figure.

        nbconvert's HTML (nbgrader's feedback pages) uses a cell's ``alt``
        as the alternative text of its images; a cell that calls
        ``plt.show()`` must have one. ``grading`` is "skip" (the autograder
        need not run it: it earns no points, and it still runs if a graded
        cell turns out to depend on it) or "run".
        """
        if grading not in ("skip", "run"):
            raise ValueError(f"grading must be 'skip' or 'run', not {grading!r}")
        cell = self._add(new_code_cell(_clean(src)), "code")
        cell.metadata["krylov_ref"] = {"grading": grading}
        if alt is not None:
            cell.metadata["alt"] = alt
        elif "plt.show()" in cell.source:
            raise ValueError(f"cell {cell.id} draws a figure: give it alt= text")
        return cell

    def setup(self, src):
        """The lesson's set-up cell: read-only, it must import the lesson's checks."""
        src = _clean(src)
        if "krylov_ref.checks" not in src:
            raise ValueError("the set-up cell must import the lesson's checks")
        cell = new_code_cell(src, metadata=_nbgrader("setup", grade=False, solution=False,
                                                     locked=True))
        cell.id = "setup"
        self.cells.append(cell)
        return cell

    def answer(self, grade_id, src):
        """An autograded answer cell; ``src`` holds ``### BEGIN/END SOLUTION``."""
        src = _clean(src)
        if "### BEGIN SOLUTION" not in src or "### END SOLUTION" not in src:
            raise ValueError(f"answer cell {grade_id} has no BEGIN/END SOLUTION block")
        cell = new_code_cell(src, metadata=_nbgrader(grade_id, grade=False, solution=True, locked=False))
        cell.id = grade_id
        self.cells.append(cell)
        return cell

    def test(self, grade_id, src, points):
        """An autograder test cell worth ``points``."""
        cell = new_code_cell(_clean(src), metadata=_nbgrader(
            grade_id, grade=True, solution=False, locked=True, points=points))
        cell.id = grade_id
        self.cells.append(cell)
        return cell

    def exercise(self, name, answer_src, visible_src, hidden_src, points):
        """Answer, visible test and hidden test for function ``name``.

        ``points`` is ``(visible, hidden)``. ``hidden_src`` is placed inside
        ``### BEGIN/END HIDDEN TESTS`` under a comment saying what it tests.
        """
        pv, ph = points
        self.answer(f"{name}_answer", answer_src)
        self.test(f"{name}_visible", visible_src, pv)
        hidden = (f"# Hidden tests ({ph} point{'s' if ph != 1 else ''}): `{name}` on other "
                  "sizes and seeds.\n"
                  "### BEGIN HIDDEN TESTS\n" + _clean(hidden_src) + "\n### END HIDDEN TESTS")
        self.test(f"{name}_hidden", hidden, ph)

    def write(self, path):
        nb = new_notebook(cells=self.cells, metadata=METADATA)
        nb.nbformat_minor = 5
        nbformat.validate(nb)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
        return path
