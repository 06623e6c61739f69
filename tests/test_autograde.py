"""The instructor's pipeline end to end, in a temporary copy of the course:
generate the assignments, autograde a class of sample submissions (honest,
blank, wrong, looping, cheating, broken), export grades, generate feedback,
and check every score exactly and that no hidden test leaks into feedback."""

from __future__ import annotations

import csv
import html
import os
import re
import subprocess
import sys
import time

import nbformat
import pytest

from course import (copy_course, hidden_sources, lesson_names, make_submission, nbgrader_meta,
                    read, release, solution_path)

LESSONS = lesson_names()
CELL_TIMEOUT = 20  # seconds per cell while grading the adversarial lesson
CHECK_LIMIT = 4    # KRYLOV_REF_TIME_LIMIT: a looping function fails its check after this

L01 = "01_quadratics"
WRONG_QUADRATIC = '''
def quadratic(A, b, x):
    return 0.5 * x @ A @ x - b @ x, b - A @ x   # gradient with the wrong sign
'''
LOOPING_SD = '''
def steepest_descent(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):
    x = np.zeros(b.shape[0])
    r = b - A @ x
    while np.linalg.norm(r) > -1:   # a stopping test that can never be true
        q = A @ r
        alpha = (r @ r) / (r @ q)
        x = x + alpha * r
        r = r - alpha * q
    return x, [0.0]
'''
LOOP_AT_TOP = '''
while True:   # runs when the cell runs: only the cell timeout stops it
    pass

def exact_step(A, r, p):
    return (r @ p) / (p @ (A @ p))
'''
WRONG_STEP = '''
def exact_step(A, r, p):
    return (r @ r) / (r @ (A @ r))
'''
WRONG_FIT = '''
def fit_power_law(n, t):
    return 1.0, 3.0
'''
FORBIDDEN_SD = '''
def steepest_descent(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):
    from scipy.sparse.linalg import cg
    x, info = cg(A, b, rtol=rtol)
    return x, [1.0]
'''

# student -> (lesson 01 submission recipe, exercises expected to score 0)
ADVERSARIAL = {
    "wrong": (dict(replace={"quadratic_answer": WRONG_QUADRATIC}), {"quadratic"}),
    "looper": (dict(replace={"steepest_descent_answer": LOOPING_SD}), {"steepest_descent"}),
    "hangs": (dict(replace={"exact_step_answer": LOOP_AT_TOP}), {"exact_step"}),
    "deleter": (dict(replace={"exact_step_answer": WRONG_STEP},
                     delete={"exact_step_visible", "exact_step_hidden"}), {"exact_step"}),
    "passer": (dict(replace={"fit_power_law_answer": WRONG_FIT},
                    edit_tests={"fit_power_law_visible": "pass", "fit_power_law_hidden": "pass"}),
               {"fit_power_law"}),
    "cheater": (dict(replace={"steepest_descent_answer": FORBIDDEN_SD}), {"steepest_descent"}),
}


def points_by_exercise(name):
    points = {}
    for cell in read(solution_path(name)).cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            exercise = meta["grade_id"].rsplit("_", 1)[0]
            points[exercise] = points.get(exercise, 0) + meta["points"]
    return points


def nbgrader(root, *args, timeout=900):
    env = dict(os.environ, KRYLOV_REF_TIME_LIMIT=str(CHECK_LIMIT))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - start


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("course"))
    release(root)
    submissions = {}
    for name in LESSONS:
        submissions[("honest", name)] = make_submission(name, root=root)
        submissions[("blank", name)] = make_submission(name, answered=False, root=root)
    if L01 in LESSONS:
        for student, (recipe, _) in ADVERSARIAL.items():
            submissions[(student, L01)] = make_submission(L01, root=root, **recipe)
    for (student, name), nb in submissions.items():
        path = root / "submitted" / student / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, str(path))
    if L01 in LESSONS:
        broken = root / "submitted" / "broken" / L01 / f"{L01}.ipynb"
        broken.parent.mkdir(parents=True)
        broken.write_text('{"cells": [ this is not JSON')

    runs = {}
    for name in LESSONS:
        extra = [f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}"] if name == L01 else []
        runs[name] = nbgrader(root, "autograde", name, "--force", *extra)
        proc, _ = nbgrader(root, "generate_feedback", name, "--force")
        assert proc.returncode == 0, proc.stderr[-3000:]
    proc, _ = nbgrader(root, "export", "--to", str(root / "grades.csv"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(root / "grades.csv") as f:
        grades = {(row["student_id"], row["assignment"]): row for row in csv.DictReader(f)}
    return {"root": root, "runs": runs, "grades": grades}


def cell_scores(root, student, name):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(name, name, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades}


def score(course, student, name):
    row = course["grades"][(student, name)]
    return float(row["raw_score"]), float(row["max_score"])


@pytest.mark.parametrize("name", LESSONS)
def test_honest_student_gets_full_marks_and_blank_gets_zero(course, name):
    total = sum(points_by_exercise(name).values())
    assert score(course, "honest", name) == (total, total), cell_scores(course["root"], "honest", name)
    assert score(course, "blank", name) == (0.0, total)


needs_l01 = pytest.mark.skipif(L01 not in LESSONS, reason="KRYLOV_TEST_LESSONS excludes lesson 01")


@needs_l01
@pytest.mark.parametrize("student", sorted(ADVERSARIAL))
def test_each_mistake_costs_exactly_its_exercise(course, student):
    points = points_by_exercise(L01)
    lost = ADVERSARIAL[student][1]
    expected = sum(p for ex, p in points.items() if ex not in lost)
    scores = cell_scores(course["root"], student, L01)
    assert score(course, student, L01)[0] == expected, scores
    for grade_id, (got, maximum) in scores.items():
        exercise = grade_id.rsplit("_", 1)[0]
        assert got == (0 if exercise in lost else maximum), (grade_id, got)


@needs_l01
def test_broken_notebook_is_reported_and_does_not_stop_the_class(course):
    proc, _ = course["runs"][L01]
    log = proc.stdout + proc.stderr
    assert f"error processing assignment '{L01}' for student 'broken'" in log, log[-3000:]
    assert "does not appear to be JSON" in log, log[-3000:]
    assert ("broken", L01) not in course["grades"] or course["grades"][("broken", L01)]["raw_score"] in ("", "0.0")
    # every other student of the lesson was graded
    for student in ["honest", "blank", *ADVERSARIAL]:
        assert (student, L01) in course["grades"]


@needs_l01
def test_grading_run_is_bounded_despite_infinite_loops(course):
    _, seconds = course["runs"][L01]
    students = 3 + len(ADVERSARIAL)
    # one cell timeout for the top-level loop, two check limits for the looping
    # function, and a generous 15 s per notebook for start-up and honest work
    bound = CELL_TIMEOUT + 2 * CHECK_LIMIT + 15 * students
    assert seconds < bound, f"autograde of {L01} took {seconds:.0f} s (bound {bound} s)"


def feedback_text(path):
    """The text a student reads in a feedback page (tags stripped, entities decoded)."""
    raw = path.read_text()
    raw = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", raw)
    text = html.unescape(re.sub(r"<[^>]+>", "", raw))
    return re.sub(r"\s+", " ", text)


def test_feedback_never_shows_hidden_tests(course):
    root = course["root"]
    pages = sorted((root / "feedback").rglob("*.html"))
    students_with_feedback = {p.relative_to(root / "feedback").parts[0] for p in pages}
    assert {"honest", "blank"} | (set(ADVERSARIAL) if L01 in LESSONS else set()) <= students_with_feedback
    for page in pages:
        name = page.parent.name
        text = feedback_text(page)
        # the page does show the visible tests: the text extraction works
        assert "check_" in text, f"{page}: visible tests missing from the feedback text"
        for grade_id, lines in hidden_sources(name).items():
            for line in lines:
                line = re.sub(r"\s+", " ", line).strip()
                if line and not line.startswith("#"):
                    assert line not in text, f"{page}: hidden test of {grade_id} leaks: {line!r}"


@needs_l01
def test_feedback_explains_failures(course):
    text = feedback_text(course["root"] / "feedback" / "wrong" / L01 / f"{L01}.html")
    assert "wrong sign" in text
    text = feedback_text(course["root"] / "feedback" / "cheater" / L01 / f"{L01}.html")
    assert "is not allowed in this exercise" in text
