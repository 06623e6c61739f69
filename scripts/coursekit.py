"""Course plumbing shared by the tests and the instructor scripts: the
lessons' notebooks, their graded cells, and student submissions built from
them (for the autograde demo and the end-to-end tests)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

from release import ROOT

__all__ = ["solution_path", "lesson_path", "read", "nbgrader_meta", "answer_code",
           "hidden_sources", "make_submission", "copy_course"]


def solution_path(name, root=ROOT):
    return Path(root) / "solutions" / name / f"{name}.ipynb"


def lesson_path(name, root=ROOT):
    return Path(root) / "lessons" / name / f"{name}.ipynb"


def read(path):
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def answer_code(name, root=ROOT):
    """grade_id -> the full solution code of each answer cell (markers removed)."""
    answers = {}
    for cell in read(solution_path(name, root)).cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            lines = [l for l in cell.source.split("\n")
                     if "### BEGIN SOLUTION" not in l and "### END SOLUTION" not in l]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def hidden_sources(name, root=ROOT):
    """grade_id -> the lines inside BEGIN/END HIDDEN TESTS of each test cell."""
    hidden = {}
    for cell in read(solution_path(name, root)).cells:
        lines, inside = [], False
        for line in cell.source.split("\n"):
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside:
                lines.append(line)
        if lines:
            hidden[nbgrader_meta(cell)["grade_id"]] = lines
    return hidden


def make_submission(name, *, answered=True, replace=None, delete=(), edit_tests=None,
                    replace_cells=None, root=ROOT):
    """A student's notebook: the released version with answers filled in.

    Parameters
    ----------
    answered : bool
        Fill every answer cell with the solution (else leave the stubs).
    replace : dict, optional
        grade_id -> source for answer cells (a wrong or adversarial answer).
    delete : iterable of str
        grade_ids of cells the student deleted.
    edit_tests : dict, optional
        grade_id -> new source for (locked) test cells the student edited.
    replace_cells : dict, optional
        cell id -> new source for other cells (a demonstration the student
        changed, or the cell where a lesson invites pasting earlier work).
    """
    nb = copy.deepcopy(read(lesson_path(name, root)))
    answers = answer_code(name, root) if answered else {}
    answers.update(replace or {})
    kept = []
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in delete:
            continue
        if gid in answers:
            cell.source = answers[gid]
        if edit_tests and gid in edit_tests:
            cell.source = edit_tests[gid]
        if replace_cells and cell.get("id") in replace_cells:
            cell.source = replace_cells[cell["id"]]
        kept.append(cell)
    nb.cells = kept
    return nb


def copy_course(dst, root=ROOT):
    """Copy what nbgrader needs (config, solutions, lessons) to ``dst``."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(root) / "nbgrader_config.py", dst / "nbgrader_config.py")
    for sub in ("solutions", "lessons"):
        shutil.copytree(Path(root) / sub, dst / sub,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dst
