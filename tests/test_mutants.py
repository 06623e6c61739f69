"""The mutation run itself must be able to fail (``scripts/mutants.py``,
run by ``make test`` after pytest).

A mutant harness that killed everything, or that let its equivalents list
hide real survivors, would make every kill rate it prints meaningless.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import mutants  # noqa: E402
from course import lesson_names  # noqa: E402

L01 = "01_quadratics"
pytestmark = pytest.mark.skipif(L01 not in lesson_names(), reason="KRYLOV_TEST_LESSONS excludes lesson 01")


def exercise(name):
    return next(e for e in mutants.exercises(L01) if e[0] == name)


@pytest.fixture(autouse=True)
def worker_state(monkeypatch):
    # What a mutant worker sets up: the checks' own time limit below the
    # harness's, and no figures drawn.
    monkeypatch.setenv("KRYLOV_REF_TIME_LIMIT", str(mutants.TIME_LIMIT - 1))
    monkeypatch.setenv("MPLBACKEND", "Agg")


def test_the_solution_survives_and_a_wrong_gradient_is_killed():
    base, answer, prepare, tests = exercise("quadratic")
    assert "Ax - b" in answer, "the lesson-01 solution changed; update this test"
    assert mutants._run((prepare, answer, tests)) is False
    wrong = answer.replace("Ax - b", "Ax + b")
    assert mutants._run((prepare, wrong, tests)) is True


def test_an_infinite_loop_is_killed_within_the_time_limit(monkeypatch):
    # As in a worker: the checks' limit one second below the harness's.
    monkeypatch.setattr(mutants, "TIME_LIMIT", 2)
    monkeypatch.setenv("KRYLOV_REF_TIME_LIMIT", "1")
    base, answer, prepare, tests = exercise("exact_step")
    hanging = "def exact_step(A, r, p):\n    while True:\n        pass\n"
    start = time.perf_counter()
    assert mutants._run((prepare, hanging, tests)) is True
    assert time.perf_counter() - start < 10


def test_a_mutant_that_outlives_the_harness_limit_is_killed(monkeypatch):
    # A loop outside any check (at the top level of the answer cell) meets
    # only the harness's own alarm.
    monkeypatch.setattr(mutants, "TIME_LIMIT", 1)
    base, answer, prepare, tests = exercise("exact_step")
    start = time.perf_counter()
    assert mutants._run((prepare, "while True:\n    pass\n", tests)) is True
    assert time.perf_counter() - start < 10


def test_every_generated_mutant_differs_from_the_solution():
    base, answer, prepare, tests = exercise("steepest_descent")
    found = list(mutants.mutants_of(answer))
    assert len(found) > 10
    assert all(source != answer for _, _, source in found)
    assert len({mutant_id for mutant_id, _, _ in found}) == len(found)


def test_an_unlisted_survivor_fails_the_run(tmp_path, monkeypatch, capsys):
    # Lesson 01 has one reviewed equivalent mutant; without the list it is an
    # unexplained survivor and the run must exit non-zero, naming it.
    listed = [e for e in json.loads(mutants.EQUIVALENT.read_text()) if e["lesson"] == L01]
    assert listed, "lesson 01 has no reviewed equivalent mutant any more; pick another lesson"
    empty = tmp_path / "equivalent.json"
    empty.write_text("[]")
    monkeypatch.setattr(mutants, "EQUIVALENT", empty)
    assert mutants.main(["--lesson", L01, "--workers", "2"]) == 1
    out = capsys.readouterr().out
    for entry in listed:
        assert f"SURVIVED: {L01} {entry['exercise']} {entry['id']}" in out


def test_an_unknown_lesson_is_refused(monkeypatch):
    monkeypatch.setenv("KRYLOV_TEST_LESSONS", "99_nothing")
    with pytest.raises(SystemExit):
        mutants.main([])
