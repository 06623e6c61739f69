"""The notebooks themselves: clean, well-formed lessons; lessons/ in sync
with solutions/; the student version runs except for unanswered exercises.
(nbval executes every solution notebook: see testpaths in pyproject.toml.)"""

from __future__ import annotations

import filecmp
import re

import nbformat
import pytest
from nbclient import NotebookClient

from course import (ROOT, _all_lessons, copy_course, lesson_names, lesson_path, nbgrader_meta,
                    read, release, solution_path)

LESSONS = lesson_names()  # those under test (KRYLOV_TEST_LESSONS may restrict them)
EXPECTED_LESSONS = {"01_quadratics", "02_krylov_lanczos", "03_cg_from_lanczos",
                    "04_cg_convergence"}


def test_lessons_are_found():
    found = set(_all_lessons())
    assert EXPECTED_LESSONS <= found, f"missing lessons: {sorted(EXPECTED_LESSONS - found)}"


def all_notebooks():
    return sorted(str(p.relative_to(ROOT)) for p in
                  list((ROOT / "solutions").rglob("*.ipynb")) + list((ROOT / "lessons").rglob("*.ipynb"))
                  if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", all_notebooks())
def test_committed_without_outputs_and_clean_metadata(path):
    nb = read(ROOT / path)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path}: cells {dirty} have outputs or execution counts; clear them"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, \
        f"{path}: unexpected notebook metadata {sorted(nb.metadata)}"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        extra = set(cell.metadata) - {"nbgrader", "deletable", "editable", "tags"}
        assert not extra, f"{path}: cell {cell.id} has editor metadata {sorted(extra)}"


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_structure(name):
    """Each exercise: answer cell, then its visible test, then its hidden
    test, each test with points; at least 3 exercises; a figure; a summary."""
    nb = read(solution_path(name))
    cells = nb.cells
    answers = [i for i, c in enumerate(cells) if nbgrader_meta(c).get("solution")]
    assert len(answers) >= 3, f"{name}: {len(answers)} exercises, need at least 3"
    for i in answers:
        gid = nbgrader_meta(cells[i])["grade_id"]
        base = gid.removesuffix("_answer")
        visible, hidden = cells[i + 1], cells[i + 2]
        vm, hm = nbgrader_meta(visible), nbgrader_meta(hidden)
        assert vm.get("grade") and vm.get("points", 0) > 0, \
            f"{name}: {gid} must be followed by a visible test cell with points"
        assert hm.get("grade") and hm.get("points", 0) > 0, \
            f"{name}: {gid} must be followed by visible and hidden test cells with points"
        assert "BEGIN HIDDEN TESTS" not in visible.source and "BEGIN HIDDEN TESTS" in hidden.source, \
            f"{name}: {base}: the second test cell must hold the hidden tests"
        assert "### BEGIN SOLUTION" in cells[i].source
        # The markdown just before the answer states the contract and gives a hint.
        prose = cells[i - 1].source
        assert cells[i - 1].cell_type == "markdown" and "Exercise" in prose and "Hint" in prose, \
            f"{name}: the cell before {gid} should be the exercise text with a hint"
    text = "\n".join(c.source for c in cells)
    assert "plt." in text or "plot_" in text, f"{name}: no figure"
    assert re.search(r"^## Summary", text, re.M), f"{name}: no closing summary"


@pytest.mark.parametrize("name", LESSONS)
def test_randomness_is_seeded(name):
    text = "\n".join(c.source for c in read(solution_path(name)).cells if c.cell_type == "code")
    legacy = re.findall(r"np\.random\.(?!default_rng)\w+", text)
    assert not legacy, f"{name}: use np.random.default_rng(seed), not {sorted(set(legacy))}"


def test_release_is_in_sync(tmp_path):
    """Regenerate the student versions in a copy and compare byte for byte."""
    course = copy_course(tmp_path / "course")
    for d in (course / "lessons").iterdir():
        if d.is_dir():
            for f in d.iterdir():
                f.unlink()
    release(course)
    for name in LESSONS:
        fresh, committed = lesson_path(name, course), lesson_path(name)
        assert committed.exists(), f"lessons/{name} is missing: run `make release`"
        assert filecmp.cmp(fresh, committed, shallow=False), (
            f"lessons/{name} differs from what nbgrader generates from solutions/{name}: "
            "run `make release` and commit the result (never edit lessons/ by hand)")
    extra = {d.name for d in (ROOT / "lessons").iterdir() if d.is_dir()} - set(_all_lessons())
    assert not extra, f"lessons/ has folders with no source in solutions/: {extra}"


@pytest.mark.parametrize("name", LESSONS)
def test_student_version_runs(name):
    """Execute the released notebook as a student first opens it: the only
    errors allowed are the unanswered exercises' NotImplementedError."""
    path = lesson_path(name)
    nb = read(path)
    NotebookClient(nb, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [(c.id, o.ename, o.evalue) for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    wrong = [e for e in errors if e[1] != "NotImplementedError"]
    assert not wrong, f"{name}: cells fail for reasons other than an unanswered exercise: {wrong}"
    answered = [c.id for c in nb.cells if nbgrader_meta(c).get("solution")]
    assert errors, f"{name}: no exercise stub raised NotImplementedError ({answered})"
