"""Grading a whole class: `make autograde` in parallel gives exactly nbgrader's
serial scores, survives a crashed or stuck worker, re-grades only what
changed, and runs the same against a real PostgreSQL gradebook; and the
JupyterHub flow through nbgrader's exchange (release, fetch, submit, collect,
autograde, feedback) works end to end, each student receiving only their
own feedback."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from course import ROOT, copy_course, lesson_names, make_submission

L01 = "01_quadratics"
BIN = os.path.dirname(sys.executable)
pytestmark = pytest.mark.skipif(L01 not in lesson_names(), reason="needs lesson 01")

sys.path.insert(0, str(ROOT / "scripts"))
import autograde as class_grading  # noqa: E402

WRONG = "def quadratic(A, b, x):\n    return 0.5 * x @ A @ x - b @ x, b - A @ x\n"
TAMPER = "for _n in [n for n in globals() if n.startswith('check_')]:\n    globals()[_n] = print\n"
SLEEPER = "import time\ntime.sleep(600)\n\ndef exact_step(A, r, p):\n    return (r @ p) / (p @ (A @ p))\n"
CLASS = {
    "ada": {},
    "ben": dict(replace={"quadratic_answer": WRONG}),
    "cy": dict(answered=False),
    "dee": dict(replace={"fit_power_law_answer": TAMPER}),
    "eve": {},
}


def env(**extra):
    return dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], KRYLOV_REF_TIME_LIMIT="5",
                **extra)


def place(root, students, lesson=L01):
    for student, recipe in students.items():
        path = root / "submitted" / student / lesson / f"{lesson}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(make_submission(lesson, root=root, **recipe), str(path))


def cell_scores(db_url, students, lesson=L01):
    from nbgrader.api import Gradebook

    with Gradebook(db_url, "krylov") as gb:
        return {s: sorted((g.name, g.score) for g in gb.find_submission_notebook(lesson, lesson, s).grades)
                for s in students}


def run_parallel(root, *args, **extra_env):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "autograde.py"), L01, "--root",
                           str(root), *args], cwd=root, env=env(**extra_env), capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("serial"))
    place(root, CLASS)
    start = time.perf_counter()
    proc = subprocess.run(["nbgrader", "autograde", L01], cwd=root, env=env(), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"root": root, "seconds": time.perf_counter() - start,
            "scores": cell_scores(f"sqlite:///{root / 'gradebook.db'}", CLASS)}


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("parallel"))
    place(root, CLASS)
    start = time.perf_counter()
    proc = run_parallel(root, "--workers", "2")
    return {"root": root, "proc": proc, "seconds": time.perf_counter() - start}


def test_parallel_scores_are_nbgraders_serial_scores(serial, parallel):
    assert parallel["proc"].returncode == 0, parallel["proc"].stderr[-3000:]
    got = cell_scores(f"sqlite:///{parallel['root'] / 'gradebook.db'}", CLASS)
    assert got == serial["scores"]
    totals = {s: sum(score for _, score in cells) for s, cells in got.items()}
    assert totals == {"ada": 10, "ben": 8, "cy": 0, "dee": 2, "eve": 10}


def test_progress_summary_and_export(parallel):
    out, err = parallel["proc"].stdout, parallel["proc"].stderr
    assert f"{len(CLASS)}/{len(CLASS)} students" in err and "ETA" in err
    table = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line.strip()}
    assert table["ada"][1:4] == ["10", "/", "10"] and table["ada"][4] == "graded"
    assert int(table["dee"][6]) > 0, out  # the tampering student's integrity flags
    with open(parallel["root"] / "grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == L01}
    assert float(rows["ben"]["raw_score"]) == 8.0 and int(rows["dee"]["integrity_flags"]) > 0


def test_a_rerun_grades_only_what_changed(parallel):
    root = parallel["root"]
    proc = run_parallel(root, "--workers", "2")
    assert proc.returncode == 0 and f"{len(CLASS)} submissions, 0 to grade" in proc.stderr
    place(root, {"ben": {}})  # ben submits again, fixed
    proc = run_parallel(root, "--workers", "2")
    assert "1 to grade" in proc.stderr, proc.stderr
    got = cell_scores(f"sqlite:///{root / 'gradebook.db'}", ["ben"])
    assert sum(score for _, score in got["ben"]) == 10


def test_a_stuck_or_crashed_worker_costs_one_student_only(tmp_path):
    root = copy_course(tmp_path / "course")
    place(root, {"ada": {}, "stuck": dict(replace={"exact_step_answer": SLEEPER}),
                 "victim": {}, "eve": {}})
    sys.path.insert(0, str(ROOT / "scripts"))
    from release import course_config

    course_config(root)
    killed = []

    def on_assign(student, pid):
        if student == "victim" and not killed:
            killed.append(pid)
            threading.Timer(1.0, lambda: os.kill(pid, 9)).start()

    old = os.environ.get("PATH")
    os.environ["PATH"] = BIN + os.pathsep + old
    try:
        results = class_grading.grade(root, L01, ["ada", "stuck", "victim", "eve"], workers=2,
                                      timeout=45, progress=lambda *a: None, on_assign=on_assign)
    finally:
        os.environ["PATH"] = old
    status = {s: r[0] for s, r in results.items()}
    assert status == {"ada": "graded", "stuck": "timeout", "victim": "crashed", "eve": "graded"}
    got = cell_scores(f"sqlite:///{root / 'gradebook.db'}", ["ada", "eve"])
    assert all(sum(s for _, s in cells) == 10 for cells in got.values())


def test_the_class_on_a_postgresql_gradebook_scores_as_on_sqlite(serial, postgres, tmp_path):
    root = copy_course(tmp_path / "course")
    place(root, CLASS)
    start = time.perf_counter()
    proc = run_parallel(root, "--workers", "2", KRYLOV_GRADEBOOK_URL=postgres)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (root / "gradebook.db").exists()
    assert cell_scores(postgres, CLASS) == serial["scores"]
    print(f"PostgreSQL class run: {len(CLASS)} submissions in {seconds:.1f} s")


# ---------------------------------------------------------------- the exchange (JupyterHub)

def nbgrader(cwd, *args, user=None):
    # On a JupyterHub each student is an account of their own, with a home:
    # nbgrader takes the name from the account and keeps its record of what
    # was submitted (its cache) in the home. On one machine, --student and a
    # data folder per student stand in for them.
    who, extra = [], {}
    if user:
        who = [f"--student={user}"]
        extra = {"JUPYTER_DATA_DIR": str(Path(cwd) / ".local-share-jupyter")}
    proc = subprocess.run(["nbgrader", *args, *who], cwd=cwd, env=env(**extra), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, (args, proc.stderr[-3000:])
    return proc


def test_the_exchange_flow_release_fetch_submit_collect_grade_feedback(tmp_path):
    course = copy_course(tmp_path / "course")
    exchange = course / "exchange"
    student_flags = ["--course", "krylov", f"--Exchange.root={exchange}"]
    nbgrader(course, "release_assignment", L01)
    homes = {}
    for student, recipe in {"alice": {}, "bob": dict(replace={"quadratic_answer": WRONG})}.items():
        home = tmp_path / student
        home.mkdir()
        homes[student] = home
        nbgrader(home, "fetch_assignment", L01, *student_flags, user=student)
        fetched = home / L01 / f"{L01}.ipynb"
        assert fetched.exists()
        # The student answers in the fetched copy (here: the recipe's answers).
        answered = make_submission(L01, root=course, **recipe)
        nbformat.write(answered, str(fetched))
        nbgrader(home, "submit", L01, *student_flags, user=student)
    nbgrader(course, "collect", L01)
    assert {p.name for p in (course / "submitted").iterdir()} == {"alice", "bob"}
    nbgrader(course, "autograde", L01)
    nbgrader(course, "generate_feedback", L01)
    nbgrader(course, "release_feedback", L01)
    scores = {s: sum(v for _, v in c) for s, c in
              cell_scores(f"sqlite:///{course / 'gradebook.db'}", ["alice", "bob"]).items()}
    assert scores == {"alice": 10, "bob": 8}
    for student, home in homes.items():
        nbgrader(home, "fetch_feedback", L01, *student_flags, user=student)
        pages = list((home / L01 / "feedback").rglob("*.html"))
        assert len(pages) == 1, pages
        text = pages[0].read_text()
        # The page is this student's: their score, and (bob) their mistake.
        assert f"Score: {scores[student]:.1f} / 10.0" in text, text[:3000]
        assert ("wrong sign" in text) == (student == "bob")
        other = "bob" if student == "alice" else "alice"
        assert not list(home.rglob(f"*{other}*"))  # nothing of the other student's arrived
