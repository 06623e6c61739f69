"""Skipping demonstrations when grading changes no score, and the lessons'
use_own demonstrations never flag an honest student.

The same submissions of every lesson are graded twice with ``make
autograde``'s grader: as the course grades (demonstrations marked
skippable are skipped unless a cell that runs needs them) and with every
demonstration run (``c.SealedExecute.skip_demonstrations = False``). The
submissions: the solution, a blank one, a wrong one whose every function
returns None (which the demonstrations try through use_own, then replace),
one whose last answer reads a demonstration's variable at its top level
(the grader must run that demonstration), lesson 09 with the student's own
Lanczos pasted in (right, and wrong), and lesson 01's wrong and looping
answers. Every cell scores the same both ways (the blank submission, which
scores nothing in any cell whatever runs, is graded with skipping only and
must score nothing there); and, graded with every demonstration run, none of
them is flagged."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest

from course import (ROOT, answer_code, copy_course, lesson_names, lesson_path, make_submission,
                    nbgrader_meta, read)
from test_autograde import ADVERSARIAL, L01, cell_scores, points_by_exercise, run

LESSONS = lesson_names()
L09 = "09_gaussian_processes"
PASTE_CELL = "code-019"   # lesson 09's invitation to paste the lesson-02 Lanczos
WRONG_LANCZOS = """
def lanczos(A, v0, k):
    n = v0.shape[0]
    Q = np.zeros((n, k + 1))
    Q[:, 0] = v0 / np.linalg.norm(v0)
    return Q, np.ones(k), np.ones(k)     # not Lanczos at all
"""


def returning_none(name, root):
    """grade_id -> every answer stub of lesson ``name`` made to return None."""
    return {nbgrader_meta(c)["grade_id"]: c.source.replace("raise NotImplementedError()", "return None")
            for c in read(lesson_path(name, root)).cells if nbgrader_meta(c).get("solution")}


def demonstration_name(name, root):
    """A name holding data that a skippable demonstration before the last
    answer binds; and the id of the (first) cell that binds it."""
    from krylov_ref.grading.dataflow import cell_names

    cells = read(lesson_path(name, root)).cells
    last = max(i for i, c in enumerate(cells) if nbgrader_meta(c).get("solution"))
    for cell in cells[:last]:
        if cell.cell_type == "code" and cell.metadata.get("krylov_ref", {}).get("grading") == "skip":
            names = cell_names(cell.source)
            data = sorted(names.bound - names.code - names.constants)
            if data:
                return data[0], cell.id
    raise AssertionError(f"{name}: no demonstration binds data before the last answer")


def uses_a_demonstration(name, root):
    """Honest answers, the last of which also reads a demonstration's name at
    its top level: the grader must run that demonstration."""
    answers = answer_code(name, root)
    last = list(answers)[-1]
    variable, _ = demonstration_name(name, root)
    return {last: answers[last] + f"\n\n_seen_in_a_demonstration = {variable}\n"}




def class_of(name, root, blank=True):
    """student -> submission of lesson ``name`` for the comparison. (The blank
    one is graded with skipping only: with every demonstration run it scores
    nothing in any cell, as it must, since each test calls an answer that
    raises NotImplementedError.)"""
    students = {
        "honest": make_submission(name, root=root),
        **({"blank": make_submission(name, root=root, answered=False)} if blank else {}),
        # every answer returns None: a wrong submission whose functions the
        # demonstrations try (use_own), and replace
        "own_fail": make_submission(name, root=root, answered=False,
                                    replace=returning_none(name, root)),
        "demo_names": make_submission(name, root=root, replace=uses_a_demonstration(name, root)),
    }
    if name == L09:
        lanczos = answer_code("02_krylov_lanczos", root)["lanczos_answer"]
        students["pasted_own"] = make_submission(L09, root=root, replace_cells={PASTE_CELL: lanczos})
        students["pasted_wrong"] = make_submission(L09, root=root,
                                                   replace_cells={PASTE_CELL: WRONG_LANCZOS})
    if name == L01:
        for student in ("wrong", "looper"):
            students[student] = make_submission(L01, root=root, **ADVERSARIAL[student][0])
    return students


def grade_class(root, blank=True):
    for name in LESSONS:
        for student, nb in class_of(name, root, blank).items():
            path = root / "submitted" / student / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
    for name in LESSONS:
        proc, _ = run(root, sys.executable, str(ROOT / "scripts" / "autograde.py"), name,
                      "--root", str(root), "--workers", "2", "--export", "")
        assert proc.returncode == 0, proc.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded both ways, at the same time, in two copies of the
    course: as the course grades, and with every demonstration run."""
    from concurrent.futures import ThreadPoolExecutor

    skipping = copy_course(tmp_path_factory.mktemp("skip"))
    everything = copy_course(tmp_path_factory.mktemp("noskip"))
    with open(everything / "nbgrader_config.py", "a") as f:
        f.write("\nc.SealedExecute.skip_demonstrations = False\n")
    with ThreadPoolExecutor(2) as pool:
        return tuple(pool.map(grade_class, (skipping, everything), (True, False)))


@pytest.fixture(scope="module")
def with_skipping(graded):
    return graded[0]


@pytest.fixture(scope="module")
def without_skipping(graded):
    return graded[1]


@pytest.mark.parametrize("name", LESSONS)
def test_skipping_demonstrations_changes_no_score_in_any_cell(with_skipping, without_skipping, name):
    for student in class_of(name, ROOT):
        skipped = cell_scores(with_skipping, student, name)
        if student == "blank":
            assert skipped and all(score == 0.0 for score, _ in skipped.values()), skipped
            continue
        everything = cell_scores(without_skipping, student, name)
        assert skipped == everything, (student, name)


@pytest.mark.parametrize("name", LESSONS)
def test_a_demonstration_whose_names_an_answer_reads_still_runs(with_skipping, name):
    variable, cell_id = demonstration_name(name, with_skipping)
    for student, expect_run in (("honest", False), ("demo_names", True)):
        nb = read(with_skipping / "autograded" / student / name / f"{name}.ipynb")
        cell = next(c for c in nb.cells if c.get("id") == cell_id)
        text = "".join(o.get("text", "") for o in cell.get("outputs", []))
        assert ("not run by the autograder" not in text) == expect_run, (student, cell_id, text[:200])


# ---------------------------------------------------------------- use_own never flags an honest student
# (graded with every demonstration run: the demonstrations are where use_own runs)

def noskip_flags(root, student, name):
    path = root / "integrity" / name / f"{student}.json"
    return json.loads(path.read_text())["flags"] if path.exists() else []


@pytest.mark.parametrize("name", LESSONS)
def test_the_students_failing_functions_in_demonstrations_flag_nothing(without_skipping, name):
    """Every answer returns None: each later demonstration falls back on
    krylov_ref's version (use_own), and the student is not flagged."""
    scores = cell_scores(without_skipping, "own_fail", name)
    assert sum(score for score, _ in scores.values()) == 0.0
    assert noskip_flags(without_skipping, "own_fail", name) == []
    nb = read(without_skipping / "autograded" / "own_fail" / name / f"{name}.ipynb")
    said = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")
    if "use_own(" in "\n".join(c.source for c in nb.cells):
        assert "(using krylov_ref's" in said


@pytest.mark.parametrize("name", LESSONS)
def test_the_students_passing_functions_in_demonstrations_flag_nothing(without_skipping, name):
    assert noskip_flags(without_skipping, "honest", name) == []
    nb = read(without_skipping / "autograded" / "honest" / name / f"{name}.ipynb")
    said = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")
    if "use_own(" in "\n".join(c.source for c in nb.cells):
        assert "(using your `" in said


@pytest.mark.skipif(L09 not in LESSONS, reason="KRYLOV_TEST_LESSONS excludes lesson 09")
@pytest.mark.parametrize("student", ["pasted_own", "pasted_wrong"])
def test_pasting_ones_own_lanczos_into_lesson_09_flags_nothing(without_skipping, student):
    """Lesson 09 invites the student to paste their lesson-02 Lanczos; its
    demonstration then checks it (use_own with check=). Honest either way:
    full marks, no flag."""
    total = sum(points_by_exercise(L09).values())
    scores = cell_scores(without_skipping, student, L09)
    assert sum(score for score, _ in scores.values()) == total, scores
    assert noskip_flags(without_skipping, student, L09) == []
    nb = read(without_skipping / "autograded" / student / L09 / f"{L09}.ipynb")
    said = "\n".join(o.get("text", "") for c in nb.cells if c.get("id") == "code-020"
                     for o in c.get("outputs", []))
    expected = "using your `lanczos`" if student == "pasted_own" else "yours did not pass its test"
    assert expected in said, said
