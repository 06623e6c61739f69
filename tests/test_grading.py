"""The instructor's side of grading, piece by piece: seal verification, the
static screen, feedback redaction, the course folder on a fresh clone, the
release that never overwrites work, and the student's working copy. (The
whole pipeline runs in test_autograde.py.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course import ROOT, _all_lessons, answer_code, copy_course, lesson_names, lesson_path, read
from krylov_ref.checks._seal import MIME_SEAL, MIME_TAMPER, canonical_args, seal_message
from krylov_ref.grading.course import ReleaseRefused, ensure_course
from krylov_ref.grading.preprocessors import RedactHiddenTracebacks
from krylov_ref.grading.screen import screen_source
from krylov_ref.grading.verify import expected_calls, verify_notebook

sys.path.insert(0, str(ROOT / "scripts"))
from release import course_config, release  # noqa: E402
from workspace import update_workspace  # noqa: E402

KEY = b"k" * 32
CHECK = "krylov_ref.checks.lesson01.check_quadratic"


def seal(check, args, seq, key=KEY):
    message = seal_message(check, canonical_args(args), seq)
    mac = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    return new_output("display_data", data={MIME_SEAL: {"message": message, "mac": mac}})


def test_cell(source, outputs, grade_id="quadratic_visible"):
    cell = new_code_cell(source, outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "grade_id": grade_id, "points": 1, "schema_version": 3}
    return cell


test_cell.__test__ = False  # a helper, not a test


# ---------------------------------------------------------------- verification

def test_expected_calls_reads_check_calls_and_refuses_anything_else():
    calls = expected_calls("# comment\ncheck_quadratic(quadratic, n=13, seed=71)\n"
                           "check_cg(cg, n=144, cond=None, seed=3)")
    assert [c.name for c in calls] == ["check_quadratic", "check_cg"]
    assert calls[1].literal_kwargs["cond"] is None
    assert expected_calls("check_x(f)\nassert f(1) == 2") is None
    assert expected_calls("check_x(f, n=len(a))") is None


def verdict(outputs, source="check_quadratic(quadratic)"):
    nb = new_notebook(cells=[test_cell(source, outputs)])
    flags = verify_notebook(nb, KEY)
    return nb.cells[0].outputs, flags


def test_a_genuine_seal_is_accepted_and_removed():
    stdout = new_output("stream", name="stdout", text="\u2713 quadratic\n")
    outputs, flags = verdict([stdout, seal(CHECK, {"n": 5, "seed": 0}, 1)])
    assert flags == [] and outputs == [stdout]


@pytest.mark.parametrize("outputs, kind, reason", [
    ([], "unsealed", "0 seal"),
    ([seal(CHECK, {"n": 5, "seed": 0}, 1, key=b"x" * 32)], "forged", "not genuine"),
    ([seal(CHECK, {"n": 2, "seed": 0}, 1)], "unsealed", "not as this cell calls it"),
    ([seal("krylov_ref.checks.lesson01.check_exact_step", {"n": 5, "seed": 0}, 1)], "unsealed",
     "not as this cell calls it"),
    ([seal(CHECK, {"n": 5, "seed": 0}, 1), new_output("execute_result", data={"text/plain": "1.0"},
                                                      execution_count=3)],
     "unsealed", "produced a value"),
    ([new_output("display_data", data={MIME_TAMPER: {"check": CHECK, "changes": ["numpy.allclose was replaced"],
                                                     "first_seen_after_cell": None}})],
     "tampered", "numpy.allclose was replaced"),
])
def test_a_test_cell_without_its_seal_loses_its_points(outputs, kind, reason):
    out, flags = verdict(outputs)
    assert len(flags) == 1 and flags[0].kind == kind and flags[0].zeroed, flags
    assert reason in flags[0].detail
    assert out[0].output_type == "error" and out[0].ename == "IntegrityError"


def test_a_failing_test_keeps_its_error_and_is_not_flagged():
    error = new_output("error", ename="WrongAnswer", evalue="Exercise 1: wrong", traceback=["x"])
    out, flags = verdict([error])
    assert flags == [] and out == [error]


def test_a_seal_replayed_from_an_earlier_cell_is_refused():
    first = seal(CHECK, {"n": 5, "seed": 0}, 1)
    nb = new_notebook(cells=[test_cell("check_quadratic(quadratic)", [first]),
                             test_cell("check_quadratic(quadratic)", [first], "again")])
    flags = verify_notebook(nb, KEY)
    assert [(f.grade_id, f.zeroed) for f in flags] == [("again", True)]
    assert "replayed" in flags[0].detail


# ---------------------------------------------------------------- static screen

@pytest.mark.parametrize("source, reason", [
    ("for k in list(globals()):\n    globals()[k] = 1", "globals()"),
    ("import krylov_ref.checks.lesson01 as g\ng.check_quadratic = print", "the grader"),
    ("import sys\nsys.modules['x'] = None", "imports sys"),
    ("%xmode Minimal", "get_ipython"),
    ("np.allclose = lambda *a, **k: True", "changes an attribute of the module np"),
    ("check_quadratic = print", "assigns to check_quadratic"),
    ("f.__closure__[0].cell_contents = 1", ".__closure__"),
    ("import gc\ngc.get_objects()", "garbage collector"),
    ("exec('x = 1')", "exec()"),
    ("getattr(obj, '__glob' + 'als__')", "getattr()"),
])
def test_the_screen_flags_what_rewires_the_grader(source, reason):
    assert any(reason in r for r in screen_source(source)), screen_source(source)


@pytest.mark.parametrize("name", lesson_names())
def test_the_screen_passes_every_solution(name):
    for grade_id, source in answer_code(name).items():
        assert screen_source(source) == [], (grade_id, screen_source(source))


# ---------------------------------------------------------------- feedback

def test_feedback_preprocessor_redacts_hidden_test_cells():
    error = new_output("error", ename="WrongAnswer", evalue="alpha is upside down",
                       traceback=["check_exact_step(exact_step, n=17, seed=404)", "..."])
    hidden = new_code_cell("### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS", outputs=[error])
    passed = new_code_cell("### BEGIN HIDDEN TESTS\nsecret(n=99)\n### END HIDDEN TESTS",
                           outputs=[new_output("stream", name="stdout", text="\u2713 ok on n=99\n")])
    visible = new_code_cell("check_exact_step(exact_step)",
                            outputs=[new_output("error", ename="E", evalue="v", traceback=["visible line"])])
    nb = new_notebook(cells=[visible, hidden, passed])
    nb, _ = RedactHiddenTracebacks().preprocess(nb, {})
    assert nb.cells[1].outputs[0].traceback[0] == "WrongAnswer: alpha is upside down"
    assert not any("seed=404" in line for line in nb.cells[1].outputs[0].traceback)
    assert [o.text for o in nb.cells[2].outputs] == ["\u2713 hidden tests passed\n"]
    assert nb.cells[0].outputs[0].traceback == ["visible line"]


# ---------------------------------------------------------------- the course folder

@pytest.fixture
def fresh_clone(tmp_path):
    return copy_course(tmp_path / "course")


def test_a_fresh_clone_gets_its_gradebook_and_exchange_without_touching_lessons(fresh_clone):
    from nbgrader.api import Gradebook

    before = {p: p.read_bytes() for p in (fresh_clone / "lessons").rglob("*") if p.is_file()}
    config = course_config(fresh_clone)  # loading the configuration prepares the folder
    assert (fresh_clone / "exchange").is_dir()
    with Gradebook(f"sqlite:///{fresh_clone / 'gradebook.db'}", "krylov") as gb:
        assert sorted(a.name for a in gb.assignments) == _all_lessons()
        nb = gb.find_notebook(_all_lessons()[0], _all_lessons()[0])
        assert any(c.name.endswith("_hidden") for c in nb.grade_cells)
    after = {p: p.read_bytes() for p in (fresh_clone / "lessons").rglob("*") if p.is_file()}
    assert after == before
    # Up to date now: nothing more to do.
    assert ensure_course(fresh_clone, config, config.CourseDirectory.db_url,
                         fresh_clone / "exchange") == []


def test_release_refuses_to_overwrite_a_lesson_someone_worked_in(fresh_clone):
    name = lesson_names()[0]
    target = lesson_path(name, fresh_clone)
    assert release(fresh_clone) == []  # in sync: nothing written
    nb = read(target)
    nb.cells[0].source += "\n\nmy notes"
    nbformat.write(nb, str(target))
    with pytest.raises(ReleaseRefused, match=f"lessons/{name}/{name}.ipynb.*FORCE=1"):
        release(fresh_clone)
    assert "my notes" in target.read_text()
    assert release(fresh_clone, force=True) == [name]
    assert target.read_bytes() == lesson_path(name).read_bytes()


def test_release_rewrites_a_lesson_whose_source_changed(fresh_clone):
    name = lesson_names()[0]
    source = fresh_clone / "solutions" / name / f"{name}.ipynb"
    nb = read(source)
    nb.cells[0].source += "\n\nA new sentence."
    nbformat.write(nb, str(source))
    assert release(fresh_clone) == [name]
    assert "A new sentence." in lesson_path(name, fresh_clone).read_text()


def test_the_release_manifest_matches_the_lessons():
    manifest = json.loads((ROOT / "lessons" / ".release-manifest.json").read_text())
    for name in _all_lessons():
        digest = hashlib.sha256(lesson_path(name).read_bytes()).hexdigest()
        assert manifest.get(name) == digest, f"lessons/{name}: run `make release`"


# ---------------------------------------------------------------- the student's copy

def test_the_working_copy_is_filled_once_and_never_overwritten(fresh_clone):
    names = sorted(d.name for d in (fresh_clone / "lessons").iterdir() if d.is_dir())
    done = update_workspace(fresh_clone, today="2026-12-01", log=lambda *_: None)
    assert done["copied"] == names
    mine = fresh_clone / "my-work" / names[0] / f"{names[0]}.ipynb"
    mine.write_text(mine.read_text().replace("raise NotImplementedError()", "return 42", 1))
    work = mine.read_bytes()
    assert update_workspace(fresh_clone, log=lambda *_: None)["kept"] == names
    assert mine.read_bytes() == work
    # The course updates a lesson, and adds a new one.
    released = lesson_path(names[0], fresh_clone)
    released.write_text(released.read_text().replace("Goals", "Aims", 1))
    new = fresh_clone / "lessons" / "99_new"
    new.mkdir()
    (new / "99_new.ipynb").write_text(released.read_text())
    messages = []
    done = update_workspace(fresh_clone, today="2026-12-02", log=messages.append)
    assert done["copied"] == ["99_new"] and done["updated"] == [names[0]]
    assert mine.read_bytes() == work
    fresh = mine.parent / f"{names[0]} (updated 2026-12-02).ipynb"
    assert "Aims" in fresh.read_text()
    assert any("is kept" in m for m in messages)


def test_the_working_copy_is_git_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "my-work/" in ignored
    for generated in ("gradebook.db", "exchange/", "integrity/", "submitted/", "autograded/",
                      "feedback/"):
        assert generated in ignored


# ---------------------------------------------------------------- skipping demonstrations

def _marked(source):
    return new_code_cell(source, metadata={"krylov_ref": {"grading": "skip"}})


def _answer(source):
    return new_code_cell(source, metadata={"nbgrader": {"grade": False, "grade_id": "f_answer",
                                                         "locked": False, "solution": True}})


def _test(source):
    return new_code_cell(source, metadata={"nbgrader": {"grade": True, "grade_id": "f_visible",
                                                         "locked": True, "points": 1,
                                                         "solution": False}})


def _plan(cells, released=None):
    from krylov_ref.grading.preprocessors import SealedExecute

    for i, cell in enumerate(cells):
        cell.id = f"c{i}"
    nb = new_notebook(cells=cells)
    release_cells = released if released is not None else [c.copy() for c in cells]
    return SealedExecute()._plan_skips(nb, release_cells)


def test_marked_demonstrations_are_skipped_unless_something_that_runs_reads_them():
    cells = [_marked("A = make(3)"), _marked("B = make(4)\nplot(B)"),
             _answer("def f(x):\n    return 2 * x"), _test("check_f(f)")]
    assert _plan(cells) == ({0, 1}, "")
    # The answer reads A at the top level: A's cell runs, B's is still skipped.
    cells[2] = _answer("def f(x):\n    return 2 * x\n\nsize = A.shape")
    assert _plan(cells) == ({1}, "")


def test_a_function_that_reads_a_demonstrations_data_turns_skipping_off():
    cells = [_marked("A = make(3)"), _answer("def f(x):\n    return A @ x"), _test("check_f(f)")]
    skip, reason = _plan(cells)
    assert skip == set() and "`A`" in reason


@pytest.mark.parametrize("dynamic", ["globals()['A']", "exec('A')", "get_ipython()", "import sys\nsys.modules"])
def test_dynamic_student_code_turns_skipping_off(dynamic):
    cells = [_marked("A = make(3)"), _answer(f"def f(x):\n    return 2 * x\n{dynamic}"),
             _test("check_f(f)")]
    skip, reason = _plan(cells)
    assert skip == set() and reason


def test_the_mark_comes_from_the_release_not_from_the_submission():
    """A cell the student marked, or a demonstration the student edited, runs."""
    release = [_marked("A = make(3)"), new_code_cell("print(1)"), _answer("def f(x):\n    return x")]
    for i, cell in enumerate(release):
        cell.id = f"c{i}"
    submission = [_marked("A = make(3)"), _marked("print(1)"), _answer("def f(x):\n    return x")]
    assert _plan(submission, release)[0] == {0}
    submission[0] = _marked("A = make(4)   # edited by the student")
    assert _plan(submission, release)[0] == set()


def test_the_lessons_a_command_works_on(monkeypatch):
    """--lesson, else KRYLOV_TEST_LESSONS, else every lesson; in course order;
    an unknown name is refused (make mutants, make misconceptions, the tests)."""
    from release import chosen_lessons

    everything = _all_lessons()
    first, last = everything[0], everything[-1]
    monkeypatch.delenv("KRYLOV_TEST_LESSONS", raising=False)
    assert chosen_lessons() == everything
    assert chosen_lessons([last, first]) == [first, last]
    monkeypatch.setenv("KRYLOV_TEST_LESSONS", f" {last} ,")
    assert chosen_lessons() == [last]
    assert chosen_lessons([first]) == [first]          # --lesson wins over the variable
    with pytest.raises(ValueError, match="unknown lessons: \\['99_nope'\\]"):
        chosen_lessons([first, "99_nope"])
    monkeypatch.setenv("KRYLOV_TEST_LESSONS", "99_nope")
    with pytest.raises(ValueError, match="99_nope"):
        chosen_lessons()


def test_the_graders_font_cache_leaves_nothing_behind(tmp_path):
    """Each grading process builds matplotlib's font list once, in a
    temporary folder, and removes it when it ends."""
    import os
    import subprocess

    code = "from krylov_ref.grading.sandbox import _font_cache; print(_font_cache())"
    folder = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, TMPDIR=str(tmp_path)),
                            capture_output=True, text=True, timeout=300, check=True).stdout.strip()
    assert folder.startswith(str(tmp_path)), folder
    assert not os.path.exists(folder), f"{folder} outlived the grading process"
