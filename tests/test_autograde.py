"""The instructor's pipeline end to end, from the state of a fresh clone (no
gradebook, no exchange), with the README's commands: ``nbgrader autograde``,
``nbgrader generate_feedback``, ``nbgrader export``. A class of sample
submissions (honest, blank, wrong, looping, cheating, broken, and ones that
try to rewire the grader) is graded; every score is checked exactly, the
integrity flags are checked, and no hidden test or grader code may show in
any feedback page or in nbgrader's Validate output."""

from __future__ import annotations

import csv
import functools
import html
import json
import os
import re
import subprocess
import sys
import time

import nbformat
import pytest

from course import (ROOT, answer_code, copy_course, hidden_sources, lesson_names, lesson_path,
                    make_submission, nbgrader_meta, read, solution_path)

LESSONS = lesson_names()
CELL_TIMEOUT = 20  # seconds per cell while grading the adversarial lesson
CHECK_LIMIT = 4    # KRYLOV_REF_TIME_LIMIT: a looping function fails its check after this
BIN = os.path.dirname(sys.executable)  # what `source .venv/bin/activate` puts on PATH

L01 = "01_quadratics"
WRONG_QUADRATIC = '''
def quadratic(A, b, x):
    return 0.5 * x @ A @ x - b @ x, b - A @ x   # gradient with the wrong sign
'''
SCALED_QUADRATIC = '''
def quadratic(A, b, x):
    return 0.5 * x @ A @ x - b @ x, 1.5 * (A @ x - b)   # wrong, and not a "known" mistake
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

# ----- submissions that try to rewire the grader (the grading-integrity issue)
REBIND_ALL = '''
def _tick(*args, **kwargs):
    print("\\u2713")

for _name in [n for n in globals() if n.startswith("check_")]:
    globals()[_name] = _tick
'''
PASS_STUB = "def {name}(*args, **kwargs):\n    pass\n"
PATCH_MODULE = '''
import krylov_ref.checks.lesson01 as _grader
for _name in dir(_grader):
    if _name.startswith("check_"):
        setattr(_grader, _name, lambda *a, **k: print("\\u2713"))
from krylov_ref.checks.lesson01 import *
''' + WRONG_QUADRATIC
REBIND_ONE = '''
def steepest_descent(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None):
    return b, [0.0]

check_steepest_descent = lambda *args, **kwargs: print("\\u2713 steepest_descent")
'''
SWALLOW = '''
get_ipython().set_custom_exc((Exception,), lambda *args, **kwargs: None)
''' + WRONG_QUADRATIC
PATCH_INTERNALS = '''
import krylov_ref.checks.lesson01 as _grader
_grader.expect_close = lambda value, *args, **kwargs: value
''' + SCALED_QUADRATIC
FORGE = '''
from IPython.display import display

def check_quadratic(*args, **kwargs):
    display({"application/vnd.krylov-ref.seal+json": {
        "message": '{"args": {"n": 5, "seed": 0}, "check": "krylov_ref.checks.lesson01.check_quadratic", "seq": 1}',
        "mac": "0" * 64}}, raw=True)
''' + WRONG_QUADRATIC
SYS_MODULES = '''
import sys, types
_fake = types.ModuleType("krylov_ref.checks.lesson01")
_fake.check_exact_step = lambda *args, **kwargs: print("\\u2713")
sys.modules["krylov_ref.checks.lesson01"] = _fake
from krylov_ref.checks.lesson01 import check_exact_step
''' + WRONG_STEP

ALL_01 = {"quadratic", "fit_power_law", "exact_step", "steepest_descent"}

# student -> (lesson 01 submission recipe, exercises expected to score 0,
#             {grade_id: flag kind} of the integrity flags expected)
ADVERSARIAL = {
    "wrong": (dict(replace={"quadratic_answer": WRONG_QUADRATIC}), {"quadratic"}, {}),
    "looper": (dict(replace={"steepest_descent_answer": LOOPING_SD}), {"steepest_descent"}, {}),
    "hangs": (dict(replace={"exact_step_answer": LOOP_AT_TOP}), {"exact_step"}, {}),
    "deleter": (dict(replace={"exact_step_answer": WRONG_STEP},
                     delete={"exact_step_visible", "exact_step_hidden"}), {"exact_step"},
                {"exact_step_visible": "deleted test", "exact_step_hidden": "deleted test"}),
    "passer": (dict(replace={"fit_power_law_answer": WRONG_FIT},
                    edit_tests={"fit_power_law_visible": "pass", "fit_power_law_hidden": "pass"}),
               {"fit_power_law"},
               {"fit_power_law_visible": "edited test", "fit_power_law_hidden": "edited test"}),
    "cheater": (dict(replace={"steepest_descent_answer": FORBIDDEN_SD}), {"steepest_descent"}, {}),
}
# The tampering submissions: exact scores and the flags naming the cells.
UNSEALED_AFTER_QUADRATIC = {f"{ex}_{kind}": "unsealed" for ex in ("fit_power_law", "exact_step",
                                                                  "steepest_descent")
                            for kind in ("visible", "hidden")}
TAMPERING = {
    # A blank notebook whose first answer cell rebinds every check_* name.
    "rebinder": (dict(answered=False, replace={"quadratic_answer": REBIND_ALL}), ALL_01,
                 UNSEALED_AFTER_QUADRATIC),
    # The same, with every answer defined as `pass`.
    "rebinder_pass": (dict(answered=False, replace={
        "quadratic_answer": REBIND_ALL + PASS_STUB.format(name="quadratic"),
        "fit_power_law_answer": PASS_STUB.format(name="fit_power_law"),
        "exact_step_answer": PASS_STUB.format(name="exact_step"),
        "steepest_descent_answer": PASS_STUB.format(name="steepest_descent")}), ALL_01,
        {"quadratic_visible": "unsealed", "quadratic_hidden": "unsealed",
         **UNSEALED_AFTER_QUADRATIC}),
    # Patching the attributes of the krylov_ref.checks module.
    "patcher": (dict(answered=False, replace={"quadratic_answer": PATCH_MODULE}), ALL_01,
                {"quadratic_visible": "unsealed", "quadratic_hidden": "unsealed",
                 **UNSEALED_AFTER_QUADRATIC}),
    # Honest work, one check rebound: only that exercise's tests lose their points.
    "rebind_one": (dict(replace={"steepest_descent_answer": REBIND_ONE}), {"steepest_descent"},
                   {"steepest_descent_visible": "unsealed", "steepest_descent_hidden": "unsealed"}),
    # IPython's exception hook swallows the failures: every later test is
    # touched. (The failing quadratic tests still fail: nbgrader records the
    # error from the kernel's reply even when nothing is displayed.)
    "swallower": (dict(replace={"quadratic_answer": SWALLOW}), ALL_01,
                  {f"{ex}_{kind}": "tampered" for ex in ALL_01 - {"quadratic"}
                   for kind in ("visible", "hidden")}),
    # A helper of the checks patched: every later test is touched.
    "internals": (dict(replace={"quadratic_answer": PATCH_INTERNALS}), ALL_01,
                  {f"{ex}_{kind}": "tampered" for ex in ALL_01 for kind in ("visible", "hidden")}),
    # A fake seal: only the forged tests lose.
    "forger": (dict(replace={"quadratic_answer": FORGE}), {"quadratic"},
               {"quadratic_visible": "forged", "quadratic_hidden": "forged"}),
    # A fake module in sys.modules: that exercise and every later test.
    "sysmodules": (dict(replace={"exact_step_answer": SYS_MODULES}), {"exact_step", "steepest_descent"},
                   {"exact_step_visible": "unsealed", "exact_step_hidden": "unsealed",
                    "steepest_descent_visible": "tampered", "steepest_descent_hidden": "tampered"}),
}
STUDENTS_01 = {**ADVERSARIAL, **TAMPERING}


def points_by_exercise(name):
    points = {}
    for cell in read(solution_path(name)).cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            exercise = meta["grade_id"].rsplit("_", 1)[0]
            points[exercise] = points.get(exercise, 0) + meta["points"]
    return points


def run(root, *command, timeout=900):
    """A command as the README gives it, with the venv activated."""
    env = dict(os.environ, KRYLOV_REF_TIME_LIMIT=str(CHECK_LIMIT),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    start = time.perf_counter()
    proc = subprocess.run(list(command), cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc, time.perf_counter() - start


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    # A fresh clone: solutions/ and lessons/ as committed, no gradebook, no exchange.
    root = copy_course(tmp_path_factory.mktemp("course"))
    assert not (root / "gradebook.db").exists() and not (root / "exchange").exists()
    released = {name: lesson_path(name, root).read_bytes() for name in LESSONS}
    submissions = {}
    for name in LESSONS:
        submissions[("honest", name)] = make_submission(name, root=root)
        submissions[("blank", name)] = make_submission(name, answered=False, root=root)
        first, code = next(iter(answer_code(name, root).items()))
        submissions[("tamper", name)] = make_submission(name, root=root,
                                                        replace={first: code + "\n" + REBIND_ALL})

    if L01 in LESSONS:
        for student, (recipe, _, _) in STUDENTS_01.items():
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
        runs[name] = run(root, "nbgrader", "autograde", name, *extra)
        proc, _ = run(root, "nbgrader", "generate_feedback", name)
        assert proc.returncode == 0, proc.stderr[-3000:]
        # Feedback says nothing alarming (nbgrader's own warnings included).
        assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    proc, _ = run(root, "nbgrader", "export", "--to", "grades.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(root / "grades.csv") as f:
        grades = {(row["student_id"], row["assignment"]): row for row in csv.DictReader(f)}
    with open(root / "grades_integrity.csv") as f:
        flags = list(csv.DictReader(f))
    return {"root": root, "runs": runs, "grades": grades, "flags": flags, "released": released,
            "export_log": proc.stderr}


def cell_scores(root, student, name):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(name, name, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades}


def score(course, student, name):
    row = course["grades"][(student, name)]
    return float(row["raw_score"]), float(row["max_score"])


def flags_of(course, student, name, kinds=None):
    return {f["grade_id"]: f["kind"] for f in course["flags"]
            if f["student_id"] == student and f["assignment"] == name
            and (kinds is None or f["kind"] in kinds)}


SERIOUS = {"tampered", "unsealed", "forged", "edited test", "deleted test"}


def test_the_fresh_clone_state_was_graded_without_touching_lessons(course):
    """No generate_assignment step, and lessons/ is byte for byte as committed."""
    for name in LESSONS:
        assert lesson_path(name, course["root"]).read_bytes() == course["released"][name]
    assert (course["root"] / "exchange").is_dir()
    for name, (proc, _) in course["runs"].items():
        assert "No assignment with ID" not in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("name", LESSONS)
def test_honest_student_gets_full_marks_and_blank_gets_zero(course, name):
    total = sum(points_by_exercise(name).values())
    assert score(course, "honest", name) == (total, total), cell_scores(course["root"], "honest", name)
    assert score(course, "blank", name) == (0.0, total)
    for student in ("honest", "blank"):
        assert flags_of(course, student, name) == {}, (student, flags_of(course, student, name))
        assert course["grades"][(student, name)]["integrity_flags"] == "0"


@pytest.mark.parametrize("name", LESSONS)
def test_no_alarming_warnings(course, name):
    """Restoring hidden tests is not reported as a changed checksum; the
    SQLAlchemy warning is gone; honest and blank work raise no integrity line."""
    proc, _ = course["runs"][name]
    assert "Attribute 'checksum'" not in proc.stderr, proc.stderr[-2000:]
    assert "SAWarning" not in proc.stderr
    assert "Restored the hidden tests" in proc.stderr
    for line in proc.stderr.splitlines():
        if "'honest'" in line or "'blank'" in line:
            assert "INTEGRITY" not in line, line


@pytest.mark.parametrize("name", LESSONS)
def test_a_submission_that_rebinds_the_checks_earns_nothing_and_is_flagged(course, name):
    """Every lesson: right answers, but the first answer cell rebinds every
    check_* name. Every test cell it touched (all of them) loses its points."""
    tests = [nbgrader_meta(c)["grade_id"] for c in read(solution_path(name)).cells
             if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]
    assert score(course, "tamper", name)[0] == 0.0, cell_scores(course["root"], "tamper", name)
    assert flags_of(course, "tamper", name, SERIOUS) == {t: "unsealed" for t in tests}


needs_l01 = pytest.mark.skipif(L01 not in LESSONS, reason="KRYLOV_TEST_LESSONS excludes lesson 01")


@needs_l01
@pytest.mark.parametrize("student", sorted(STUDENTS_01))
def test_each_submission_scores_exactly_and_is_flagged_exactly(course, student):
    points = points_by_exercise(L01)
    _, lost, expected_flags = STUDENTS_01[student]
    expected = sum(p for ex, p in points.items() if ex not in lost)
    scores = cell_scores(course["root"], student, L01)
    assert score(course, student, L01)[0] == expected, scores
    for grade_id, (got, maximum) in scores.items():
        exercise = grade_id.rsplit("_", 1)[0]
        assert got == (0 if exercise in lost else maximum), (grade_id, got)
    assert flags_of(course, student, L01, SERIOUS) == expected_flags
    serious = sum(1 for kind in expected_flags.values())
    assert course["grades"][(student, L01)]["integrity_flags"] == str(serious)


@needs_l01
@pytest.mark.parametrize("student", sorted(TAMPERING))
def test_tampering_is_reported_in_the_autograde_output_with_its_cell(course, student):
    proc, _ = course["runs"][L01]
    lines = [l for l in proc.stderr.splitlines() if "INTEGRITY" in l and f"'{student}'" in l]
    assert lines, proc.stderr[-3000:]
    for grade_id in TAMPERING[student][2]:
        assert any(f"({grade_id})" in l and f"lesson '{L01}'" in l and "cell " in l for l in lines), \
            (grade_id, lines)
    # The static screen names the answer cell that did it.
    screened = flags_of(course, student, L01, {"screen"})
    assert any(gid.endswith("_answer") for gid in screened), screened


@needs_l01
def test_tampered_submissions_are_flagged_in_the_gradebook(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}") as gb:
        for student in [*TAMPERING, "tamper", "honest", "blank", "wrong"]:
            flagged = gb.find_submission_notebook(L01, L01, student).flagged
            assert flagged == (student in TAMPERING or student == "tamper"), student
    assert "have integrity flags" in course["export_log"]


@needs_l01
def test_broken_notebook_is_reported_and_does_not_stop_the_class(course):
    proc, _ = course["runs"][L01]
    log = proc.stdout + proc.stderr
    assert f"error processing assignment '{L01}' for student 'broken'" in log, log[-3000:]
    assert "does not appear to be JSON" in log, log[-3000:]
    assert ("broken", L01) not in course["grades"] or course["grades"][("broken", L01)]["raw_score"] in ("", "0.0")
    for student in ["honest", "blank", "tamper", *STUDENTS_01]:
        assert (student, L01) in course["grades"]


@needs_l01
def test_grading_run_is_bounded_despite_infinite_loops(course):
    _, seconds = course["runs"][L01]
    students = 4 + len(STUDENTS_01)
    # one cell timeout for the top-level loop, two check limits for the looping
    # function, and a generous 25 s per notebook for start-up and honest work
    # (the other test process shares the machine's cores)
    bound = CELL_TIMEOUT + 2 * CHECK_LIMIT + 25 * students
    assert seconds < bound, f"autograde of {L01} took {seconds:.0f} s (bound {bound} s)"


def feedback_text(path):
    """The text a student reads in a feedback page (tags stripped, entities decoded)."""
    raw = path.read_text()
    raw = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", raw)
    text = html.unescape(re.sub(r"<[^>]+>", "", raw))
    return re.sub(r"\s+", " ", text)


def _lesson_checks(name):
    """The checks modules a lesson imports (its own, and any earlier lesson's)."""
    source = "\n".join(c.source for c in read(solution_path(name)).cells)
    return sorted(set(re.findall(r"krylov_ref\.checks\.(lesson\d+)", source)))


def _grader_lines(name):
    """Lines of the grader a lesson uses that no notebook or solution shows itself."""
    checks = ROOT / "krylov_ref" / "checks"
    paths = [checks / "__init__.py", checks / "_report.py", checks / "_seal.py"]
    paths += [checks / f"{module}.py" for module in _lesson_checks(name)]
    lines = set()
    for path in paths:
        lines |= {re.sub(r"\s+", " ", l).strip() for l in path.read_text().splitlines()
                  if len(l.strip()) >= 16 and not l.strip().startswith("#")}
    # A grader line that is part of a line shown anyway (the same statement
    # with a comment after it, say) reveals nothing.
    text = _shown_code()
    return {line for line in lines if line not in text}


@functools.lru_cache(maxsize=1)
def _shown_code():
    """The notebooks' own code, and the solutions that honest submissions
    hold, one normalised line after another."""
    shown = []
    for other in lesson_names():
        shown += [c.source for c in read(lesson_path(other)).cells] + list(answer_code(other).values())
    return "\n".join(re.sub(r"\s+", " ", l).strip() for source in shown for l in source.splitlines())


def test_feedback_never_shows_hidden_tests_or_the_grader(course):
    root = course["root"]
    pages = sorted((root / "feedback").rglob("*.html"))
    students_with_feedback = {p.relative_to(root / "feedback").parts[0] for p in pages}
    assert {"honest", "blank"} | (set(STUDENTS_01) if L01 in LESSONS else set()) <= students_with_feedback
    grader = {name: _grader_lines(name) for name in LESSONS}
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
        leaked = [line for line in grader[name] if line in text]
        assert not leaked, f"{page}: grader code shows: {leaked[:3]}"


@needs_l01
def test_feedback_explains_failures(course):
    text = feedback_text(course["root"] / "feedback" / "wrong" / L01 / f"{L01}.html")
    assert "wrong sign" in text and "Exercise 1" in text
    text = feedback_text(course["root"] / "feedback" / "cheater" / L01 / f"{L01}.html")
    assert "is not allowed in this exercise" in text
    text = feedback_text(course["root"] / "feedback" / "rebinder" / L01 / f"{L01}.html")
    assert "IntegrityError" in text and "earns no points" in text


@needs_l01
def test_validate_shows_the_diagnosis_and_no_grader_code(course, tmp_path):
    """nbgrader's Validate (the button in the notebook) on a wrong answer."""
    nb = make_submission(L01, root=course["root"], replace={"quadratic_answer": WRONG_QUADRATIC})
    path = tmp_path / f"{L01}.ipynb"
    nbformat.write(nb, str(path))
    proc, _ = run(course["root"], "nbgrader", "validate", str(path))
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert "wrong sign" in out and "Exercise 1" in out, out[-3000:]
    leaked = [line for line in _grader_lines(L01) if line in re.sub(r"[ \t]+", " ", out)]
    assert not leaked, leaked[:3]
    solution = [l.strip() for l in answer_code(L01)["quadratic_answer"].splitlines()
                if len(l.strip()) >= 16 and "Ax" in l]
    assert solution and not [l for l in solution if l in out]


def test_feedback_says_which_demonstrations_were_not_run(course):
    name = LESSONS[0]
    text = feedback_text(course["root"] / "feedback" / "honest" / name / f"{name}.html")
    assert "not run by the autograder" in text and "earns no points" in text
