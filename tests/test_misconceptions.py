"""Named misconceptions, from the check's message to the instructor's report.

* The catalogue's harness (scripts/misconceptions.py) can fail: a variant
  that passes, or whose message names the wrong code, is a problem.
* Every lesson declares its misconceptions and keeps a catalogue.
* The codes reach the gradebook sealed: a genuine diagnosis is recorded in
  the cell's metadata and the integrity report, a forged one is ignored and
  flagged, a failure nothing diagnosed is "unrecognised".
* The class report, built from the gradebook (sqlite and PostgreSQL) and the
  integrity reports, right for a class of 300 too (its build time is printed,
  not asserted: a timed test fails on a busy machine).
* A synthetic class graded with ``make autograde``: 60 submissions for each
  of two lessons, honest, blank and wrong by catalogued misconceptions in
  known numbers; the report's shares and scores, and its CSV files, are
  exactly the known ones; it renders in Chromium with the network blocked.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course import ROOT, answer_code, copy_course, lesson_names, make_submission, nbgrader_meta, read, solution_path

sys.path.insert(0, str(ROOT / "scripts"))
import misconceptions as harness  # noqa: E402

from krylov_ref.checks._seal import MIME_DIAGNOSIS  # noqa: E402
from krylov_ref.grading.misconceptions import Variant, catalogue, section_anchor  # noqa: E402
from krylov_ref.grading.verify import verify_notebook  # noqa: E402

LESSONS = lesson_names()
BIN = os.path.dirname(sys.executable)
# nbgrader's own session handling when submissions are added through its API.
pytestmark = pytest.mark.filterwarnings("ignore:Object of type <Submitted")


# ---------------------------------------------------------------- the harness can fail

def test_the_harness_refuses_a_variant_that_passes_or_is_misnamed():
    codes = {"01.quadratic.gradient_sign": ("d", "s")}
    variant = Variant("01.quadratic.gradient_sign", patch=(("a", "b"),))
    passed = harness.judge("01_quadratics", variant, ("", "", (), ""), codes)
    assert any("loses no points" in p for p in passed.problems)
    generic = harness.judge("01_quadratics", variant, ("visible", "WrongAnswer", (), "off by 2"), codes)
    assert any("names no misconception" in p for p in generic.problems)
    other = harness.judge("01_quadratics", variant,
                          ("visible", "WrongAnswer", ("01.quadratic.value_no_half",), "x"), codes)
    assert any("names" in p for p in other.problems)
    late = harness.judge("01_quadratics", variant,
                         ("hidden", "WrongAnswer", ("01.quadratic.gradient_sign",), "x"), codes)
    assert any("the catalogue says visible" in p for p in late.problems)
    good = harness.judge("01_quadratics", variant,
                         ("visible", "WrongAnswer", ("01.quadratic.gradient_sign",), "x"), codes)
    assert good.problems == [] and good.named == "exactly"
    undeclared = harness.judge("01_quadratics", Variant("01.quadratic.nonsense", source="x"),
                               ("visible", "WrongAnswer", ("01.quadratic.nonsense",), "x"), codes)
    assert any("not declared" in p for p in undeclared.problems)


def test_a_patch_must_apply_exactly_once():
    with pytest.raises(ValueError, match="occurs 0 times"):
        Variant("01.x.y", patch=(("absent", "b"),)).answer("def f(): return 1")
    with pytest.raises(ValueError, match="is the solution"):
        Variant("01.x.y", patch=(("1", "1"),)).answer("def f(): return 1")


def test_a_real_variant_runs_against_the_exercise_tests():
    """The solution patched into the wrong sign of lesson 01's gradient fails
    the visible test and names its code."""
    jobs = dict((v.code, task) for v, task in harness.jobs_of("01_quadratics"))
    verdicts = harness._run(jobs["01.quadratic.gradient_sign"])
    failed_in, kind, named, message = harness.first_failure(verdicts)
    assert failed_in == "visible" and "01.quadratic.gradient_sign" in named, message


@pytest.mark.parametrize("name", LESSONS)
def test_every_lesson_declares_its_misconceptions_and_keeps_a_catalogue(name):
    number = name.split("_")[0]
    assert (ROOT / "tests" / "misconceptions" / f"lesson{number}.py").exists()
    declared = catalogue(number)
    assert declared, f"krylov_ref.checks.lesson{number} declares no MISCONCEPTIONS"
    for code, (description, section) in declared.items():
        assert code.startswith(f"{number}.") and description and section, code


def test_the_section_anchor():
    assert section_anchor("2.2 Preconditioned CG") == "22-preconditioned-cg"


# ---------------------------------------------------------------- sealed diagnoses

KEY = b"k" * 32


def _diagnosis(codes, seq, key=KEY, check="krylov_ref.checks.lesson01.check_quadratic"):
    message = json.dumps({"check": check, "codes": codes, "seq": seq}, sort_keys=True)
    mac = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    return new_output("display_data", data={MIME_DIAGNOSIS: {"message": message, "mac": mac}})


def _test_cell(outputs, grade_id="quadratic_visible"):
    cell = new_code_cell("check_quadratic(quadratic)", metadata={"nbgrader": {
        "grade": True, "grade_id": grade_id, "locked": True, "points": 1, "solution": False}})
    cell.outputs = outputs
    return cell


def _error(evalue="Exercise 1, `quadratic`: the gradient has the wrong sign. [01.quadratic.gradient_sign]"):
    return new_output("error", ename="WrongAnswer", evalue=evalue, traceback=[evalue])


def test_a_genuine_diagnosis_is_recorded_in_the_cell_and_removed_from_its_outputs():
    cell = _test_cell([_diagnosis(["01.quadratic.gradient_sign"], 1), _error()])
    nb = new_notebook(cells=[cell])
    flags = verify_notebook(nb, KEY)
    assert flags == []
    entries = nb.cells[0].metadata["krylov_ref"]["diagnoses"]
    assert entries[0]["codes"] == ["01.quadratic.gradient_sign"] and "wrong sign" in entries[0]["message"]
    assert all(MIME_DIAGNOSIS not in o.get("data", {}) for o in nb.cells[0].outputs)


def test_a_forged_diagnosis_is_ignored_and_flagged():
    forged = _diagnosis(["01.quadratic.gradient_no_b"], 1, key=b"x" * 32)
    nb = new_notebook(cells=[_test_cell([forged, _error()])])
    flags = verify_notebook(nb, KEY)
    assert [f.kind for f in flags] == ["forged"]
    assert nb.cells[0].metadata["krylov_ref"]["diagnoses"][0]["codes"] == ["unrecognised"]


def test_a_diagnosis_cannot_stand_in_for_a_seal():
    """Replayed as a seal, a (genuine) diagnosis does not vouch for a passing test."""
    from krylov_ref.checks._seal import MIME_SEAL

    genuine = _diagnosis(["01.quadratic.gradient_sign"], 1)
    as_seal = new_output("display_data", data={MIME_SEAL: genuine["data"][MIME_DIAGNOSIS]})
    nb = new_notebook(cells=[_test_cell([as_seal])])
    flags = verify_notebook(nb, KEY)
    assert flags and flags[0].zeroed
    assert nb.cells[0].metadata["krylov_ref"]["diagnoses"][0]["codes"] == ["integrity"]


def test_a_failure_nothing_diagnosed_is_unrecognised_and_a_pass_records_nothing():
    from krylov_ref.checks._seal import MIME_SEAL, canonical_args, seal_message

    message = seal_message("krylov_ref.checks.lesson01.check_quadratic",
                           canonical_args({"n": 5, "seed": 0}), 1)
    seal = new_output("display_data", data={MIME_SEAL: {
        "message": message, "mac": hmac.new(KEY, message.encode(), hashlib.sha256).hexdigest()}})
    nb = new_notebook(cells=[_test_cell([_error("something")]), _test_cell([seal], "q_hidden")])
    flags = verify_notebook(nb, KEY)
    assert flags == []
    assert nb.cells[0].metadata["krylov_ref"]["diagnoses"][0]["codes"] == ["unrecognised"]
    assert "krylov_ref" not in nb.cells[1].metadata


# ---------------------------------------------------------------- the report, from a gradebook

def fake_class(db_url, root, lesson, n, seed=0):
    """A gradebook with ``n`` graded submissions of ``lesson`` and their
    integrity reports, without running anything: scores and codes drawn at
    random. Returns {student: {grade_id: (score, codes)}}."""
    import numpy as np
    from nbgrader.api import Grade, Gradebook, SubmittedAssignment, SubmittedNotebook

    rng = np.random.default_rng(seed)
    cells = [c for c in read(solution_path(lesson, root)).cells
             if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]
    codes = sorted(catalogue(lesson)) + ["not_answered"]
    truth = {}
    (root / "integrity" / lesson).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        student = f"s{i:03d}"
        truth[student], diagnoses = {}, {}
        for cell in cells:
            meta = nbgrader_meta(cell)
            ok = rng.random() < 0.6
            chosen = [] if ok else [str(rng.choice(codes))]
            truth[student][meta["grade_id"]] = (float(meta["points"]) if ok else 0.0, chosen)
            if chosen:
                diagnoses[meta["grade_id"]] = [{"check": "", "codes": chosen, "message": "m"}]
        (root / "integrity" / lesson / f"{student}.json").write_text(json.dumps(
            {"student": student, "assignment": lesson, "flags": [], "diagnoses": diagnoses}))
    with Gradebook(db_url) as gb:
        for student in truth:
            gb.update_or_create_student(student)
            gb.add_submission(lesson, student)       # nbgrader's structure: one commit each
        # The scores, in one pass and one commit (as the autograder's are).
        grades = (gb.db.query(Grade).join(SubmittedNotebook).join(SubmittedAssignment)
                  .filter(SubmittedAssignment.student_id.in_(list(truth))))
        for grade in grades:
            if grade.assignment.name == lesson:
                grade.auto_score = truth[grade.student.id][grade.name][0]
        gb.db.commit()
    return truth


def expected_shares(truth):
    shares = defaultdict(set)
    for student, cells in truth.items():
        for grade_id, (_, codes) in cells.items():
            for code in codes:
                shares[(grade_id.rsplit("_", 1)[0], code)].add(student)
    return {key: len(who) / len(truth) for key, who in shares.items()}


def check_report(root, lesson, db_url, truth, with_lesson=True):
    from krylov_ref.grading.report import write_report

    start = time.perf_counter()
    path = write_report(root, lesson, db_url, with_lesson=with_lesson)
    seconds = time.perf_counter() - start
    with open(path.parent / f"{lesson}_misconceptions.csv") as f:
        got = {(row["exercise"], row["code"]): float(row["share"]) for row in csv.DictReader(f)}
    assert got == pytest.approx(expected_shares(truth), abs=0, rel=1e-12)
    with open(path.parent / f"{lesson}_scores.csv") as f:
        scores = {row["student"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores == {s: sum(v for v, _ in cells.values()) for s, cells in truth.items()}
    page = path.read_text()
    assert "data:image/png;base64," in page and "<script" not in page and "http" not in page.split(
        "</style>")[0]
    return seconds


@pytest.fixture(scope="module")
def sqlite_course(tmp_path_factory):
    """A course whose sqlite gradebook knows every lesson (synced once)."""
    root = copy_course(tmp_path_factory.mktemp("sqlite"))
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "list"], cwd=root,
                   env=dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"]),
                   capture_output=True, check=True, timeout=600)
    return root


@pytest.mark.parametrize("name", LESSONS)
def test_the_report_of_every_lesson_from_sqlite(sqlite_course, name):
    db_url = f"sqlite:///{sqlite_course / 'gradebook.db'}"
    truth = fake_class(db_url, sqlite_course, name, 12, seed=int(name[:2]))
    check_report(sqlite_course, name, db_url, truth)


def test_the_report_of_every_lesson_from_postgresql_and_of_300_submissions(tmp_path, postgres):
    root = copy_course(tmp_path / "course")
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], KRYLOV_GRADEBOOK_URL=postgres)
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "list"], cwd=root, env=env,
                   capture_output=True, check=True, timeout=600)
    # (The lesson pages the links point into do not depend on the gradebook:
    # the sqlite test renders them.)
    for name in LESSONS:
        check_report(root, name, postgres, fake_class(postgres, root, name, 4, seed=1),
                     with_lesson=False)
    big = LESSONS[0]
    shutil.rmtree(root / "integrity" / big)
    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gb:
        for student in [s.id for s in gb.students]:
            gb.remove_submission(big, student)
    start = time.perf_counter()
    truth = fake_class(postgres, root, big, 300, seed=2)
    print(f"300 submissions entered in {time.perf_counter() - start:.2f} s")
    from krylov_ref.grading.report import lesson_page

    (root / "reports").mkdir(exist_ok=True)
    assert lesson_page(root, big, root / "reports")   # rendered once, as a first report would
    seconds = check_report(root, big, postgres, truth)
    print(f"report of 300 submissions built in {seconds:.2f} s")


# ---------------------------------------------------------------- a synthetic class, graded

CLASS_LESSONS = [n for n in ("01_quadratics", "03_cg_from_lanczos") if n in LESSONS]
CLASS_SIZE = 60


def plan_class(lesson, root):
    """student -> (submission, {grade_id: (score, codes)} it must get)."""
    points = {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
              for c in read(solution_path(lesson, root)).cells
              if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}
    jobs = harness.jobs_of(lesson)
    plan = {}
    for i in range(8):
        plan[f"honest{i}"] = (make_submission(lesson, root=root), {g: (p, []) for g, p in points.items()})
    for i in range(4):
        plan[f"blank{i}"] = (make_submission(lesson, root=root, answered=False),
                             {g: (0.0, ["not_answered"]) for g in points})
    # 48 more: 12 catalogued variants taken in turn from each exercise, 4 students each.
    # (Not the variants of a function another answer calls, lesson 03's cg:
    # their cost to the later exercise is not what the variant's own tests say.)
    answers = answer_code(lesson, root)
    called = {e for e in (a.rsplit("_", 1)[0] for a in answers)
              if any(f"{e}(" in src and not src.lstrip().startswith(f"def {e}(")
                     for src in answers.values())}
    by_exercise = defaultdict(list)
    for job in jobs:
        if job[0].exercise not in called:
            by_exercise[job[0].exercise].append(job)
    turns = [group[i] for i in range(max(map(len, by_exercise.values())))
             for group in by_exercise.values() if i < len(group)]
    for k, (variant, task) in enumerate(turns[:12]):
        verdicts = harness._run(task)
        expect = {g: (p, []) for g, p in points.items()}
        for which, verdict in verdicts:
            grade_id = f"{variant.exercise}_{which}"
            if verdict is not None:
                expect[grade_id] = (0.0, list(verdict[2]))
        answer_cell = f"{variant.exercise}_answer"
        wrong = task[1]
        for j in range(4):
            plan[f"v{k:02d}_{j}"] = (make_submission(lesson, root=root, replace={answer_cell: wrong}),
                                     expect)
    assert len(plan) == CLASS_SIZE
    return plan


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    if not CLASS_LESSONS:
        pytest.skip("KRYLOV_TEST_LESSONS leaves out lessons 01 and 03, the synthetic class's")
    root = copy_course(tmp_path_factory.mktemp("class"))
    truths = {}
    for lesson in CLASS_LESSONS:
        plan = plan_class(lesson, root)
        truths[lesson] = {student: expect for student, (_, expect) in plan.items()}
        for student, (nb, _) in plan.items():
            path = root / "submitted" / student / lesson / f"{lesson}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, str(path))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], KRYLOV_REF_TIME_LIMIT="10")
    for lesson in CLASS_LESSONS:
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "autograde.py"), lesson,
                               "--root", str(root), "--workers", "2"], cwd=root, env=env,
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return root, truths


@pytest.mark.parametrize("lesson", CLASS_LESSONS)
def test_the_class_report_has_exactly_the_known_shares_and_scores(graded_class, lesson):
    root, truths = graded_class
    truth = truths[lesson]
    report = root / "reports" / f"{lesson}.html"
    assert report.exists(), "make autograde writes the report at its end"
    with open(root / "reports" / f"{lesson}_misconceptions.csv") as f:
        got = {(row["exercise"], row["code"]): float(row["share"]) for row in csv.DictReader(f)}
    assert got == expected_shares(truth)
    with open(root / "reports" / f"{lesson}_scores.csv") as f:
        scores = {row["student"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores == {s: sum(v for v, _ in cells.values()) for s, cells in truth.items()}
    with open(root / "reports" / f"{lesson}_cells.csv") as f:
        cells = {row["test_cell"]: float(row["pass_rate"]) for row in csv.DictReader(f)}
    for grade_id, rate in cells.items():
        want = sum(cells_[grade_id][1] == [] for cells_ in truth.values()) / len(truth)
        assert rate == pytest.approx(want, abs=1e-12), grade_id
    page = report.read_text()
    for (exercise, code), share in expected_shares(truth).items():
        assert f'data-code="{code}"' in page
    # Every link to a lesson section lands on a heading of the lesson's page.
    import re

    # (Compared as a browser does: attribute values with their entities decoded.)
    links = {(target, html.unescape(anchor))
             for target, anchor in re.findall(r'href="([^"#]*_lesson\.html)#([^"]*)"', page)}
    assert links, "the report links its misconceptions to the lesson"
    for target, anchor in links:
        ids = {html.unescape(i) for i in re.findall(r'id="([^"]*)"', (report.parent / target).read_text())}
        assert anchor in ids, anchor


def test_feedback_names_the_misconception_and_links_its_section(graded_class):
    root, truths = graded_class
    lesson = CLASS_LESSONS[0]
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(["nbgrader", "generate_feedback", lesson, "--student", "v00_0"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (root / "feedback" / "v00_0" / lesson / f"{lesson}.html").read_text()
    code = next(c for cells in [truths[lesson]["v00_0"]] for _, codes in cells.values()
                for c in codes)
    description, section = catalogue(lesson)[code]
    from krylov_ref.grading.preprocessors import feedback_anchor

    assert code in page and f'href="#{feedback_anchor(section)}"' in page
    assert f'id="{feedback_anchor(section)}"' in page


def test_the_report_renders_offline_in_chromium(graded_class):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    root, truths = graded_class
    lesson = CLASS_LESSONS[0]
    report = root / "reports" / f"{lesson}.html"
    errors, requests = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def route(r):
            requests.append(r.request.url)
            return r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()

        page.route("**/*", route)
        page.goto(report.as_uri())
        loaded = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        tables = page.evaluate("document.querySelectorAll('table.misconceptions').length")
        cells = page.evaluate("document.querySelectorAll('#cells-table tr').length")
        alts = page.evaluate("Array.from(document.images).map(i => i.alt)")
        page.screenshot(path=str(root / "reports" / "screenshot.png"), full_page=True)
        browser.close()
    assert loaded and all(loaded)
    assert all(alts)
    exercises = {e for (e, _) in expected_shares(truths[lesson])}
    assert tables == len(exercises)
    assert cells == 1 + len({g for cells_ in truths[lesson].values() for g in cells_})
    assert not errors, errors
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
