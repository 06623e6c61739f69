"""The notebooks themselves: clean, well-formed lessons; lessons/ in sync
with solutions/; the student version runs except for unanswered exercises.
(nbval executes every solution notebook: see testpaths in pyproject.toml.)"""

from __future__ import annotations

import filecmp
import re

import nbformat
import pytest
from nbclient import NotebookClient

from course import (ROOT, _all_lessons, answer_code, copy_course, lesson_names, lesson_path,
                    nbgrader_meta, read, release, solution_path)
from krylov_ref.grading.verify import expected_calls

LESSONS = lesson_names()  # those under test (KRYLOV_TEST_LESSONS may restrict them)
EXPECTED_LESSONS = {"01_quadratics", "02_krylov_lanczos", "03_cg_from_lanczos",
                    "04_cg_convergence", "05_preconditioning", "06_gmres", "07_newton_cg",
                    "08_ridge_regression", "09_gaussian_processes"}


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
        extra = set(cell.metadata) - {"nbgrader", "deletable", "editable", "tags", "alt", "krylov_ref"}
        assert not extra, f"{path}: cell {cell.id} has editor metadata {sorted(extra)}"
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            # nbconvert's HTML (feedback pages) reads a cell's "alt" for its images.
            assert cell.metadata.get("alt"), f"{path}: figure cell {cell.id} has no alternative text"


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
        for test in (visible, hidden):
            # Only check calls with literal arguments: what the seals can vouch for.
            assert expected_calls(test.source), \
                f"{name}: {nbgrader_meta(test)['grade_id']} must hold only check_*(...) calls"
        # The markdown just before the answer states the contract and gives a hint.
        prose = cells[i - 1].source
        assert cells[i - 1].cell_type == "markdown" and "Exercise" in prose and "Hint" in prose, \
            f"{name}: the cell before {gid} should be the exercise text with a hint"
    setup = next(c for c in cells if c.cell_type == "code")
    assert nbgrader_meta(setup).get("locked") and "krylov_ref.checks" in setup.source, \
        f"{name}: the first code cell imports the checks and is a locked (read-only) cell"
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


# ------------------------------------------------------------- what students see

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CHECK_SOURCES = sorted((ROOT / "krylov_ref" / "checks").glob("*.py"))
MAX_FAILING_LINES = 12


def _significant(lines):
    """Lines long enough that finding one in an output cannot be chance."""
    return {l.strip() for l in lines if len(l.strip()) >= 16 and not l.strip().startswith("#")}


def grader_lines():
    lines = set()
    for path in CHECK_SOURCES:
        lines |= _significant(path.read_text().splitlines())
    return lines


def solution_lines(name):
    lines = set()
    for source in answer_code(name).values():
        released = read(lesson_path(name)).cells
        stub_text = "\n".join(c.source for c in released)
        # Lines the student version also shows (signature, docstring) are not secrets.
        lines |= {l for l in _significant(source.splitlines()) if l not in stub_text}
    return lines


def output_text(output):
    if output.output_type == "stream":
        text = output.text
    elif output.output_type == "error":
        text = "\n".join(output.traceback) + "\n" + output.evalue
    else:
        text = "\n".join(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
    return ANSI.sub("", text)


def run_student_version(name, mode):
    """Execute lessons/<name> as a student would: unanswered, or with every
    answer function returning None."""
    path = lesson_path(name)
    nb = read(path)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("solution") and mode == "returns None":
            cell.source = cell.source.replace("raise NotImplementedError()", "return None")
    NotebookClient(nb, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.mark.parametrize("mode", ["unanswered", "returns None"])
@pytest.mark.parametrize("name", LESSONS)
def test_student_version_shows_diagnoses_only(name, mode):
    """Run All on the student version reaches the end; every failure is a
    short diagnosis in a test cell; no output shows the grader or a solution."""
    nb = run_student_version(name, mode)
    secrets = grader_lines() | solution_lines(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{name}: not every cell ran"
    failing_tests = 0
    for cell in code:
        meta = nbgrader_meta(cell)
        text = "\n".join(output_text(o) for o in cell.outputs)
        leaked = sorted(line for line in secrets if line in text)
        assert not leaked, f"{name} ({mode}), cell {cell.id}: output shows {leaked[:3]}"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if not errors:
            continue
        is_test = meta.get("grade") and not meta.get("solution")
        assert is_test, (f"{name} ({mode}): cell {cell.id} fails ({errors[0].ename}: "
                         f"{errors[0].evalue}); only test cells may fail in a fresh lesson")
        failing_tests += 1
        lines = text.strip("\n").count("\n") + 1
        assert lines <= MAX_FAILING_LINES, (
            f"{name} ({mode}), cell {cell.id}: {lines} lines of output:\n{text}")
        ename = errors[0].ename
        if mode == "unanswered":
            assert ename == "NotAnswered", f"{name}: {cell.id} fails with {ename}: {errors[0].evalue}"
            assert "is not answered yet" in text and "Exercise " in text
        else:
            assert ename in {"WrongAnswer", "CheckCrashed", "NotAnswered"}, (cell.id, ename, text)
            assert text.count("Exercise ") >= 1, text
    answers = sum(1 for c in code if nbgrader_meta(c).get("solution"))
    assert failing_tests == answers, (f"{name} ({mode}): {failing_tests} test cells failed for "
                                      f"{answers} exercises: each visible test should report itself")


@pytest.mark.parametrize("name", LESSONS)
def test_run_all_goes_on_past_test_cells(name):
    """The student version's test cells carry `raises-exception` (JupyterLab's
    Run All continues past them); solutions/ has none of these tags, so nbval
    still fails loudly on a solution that breaks its own test."""
    for cell in read(solution_path(name)).cells:
        assert "raises-exception" not in cell.metadata.get("tags", []), \
            f"solutions/{name}: cell {cell.id} is tagged raises-exception; nbval would ignore it"
    for cell in read(lesson_path(name)).cells:
        meta = nbgrader_meta(cell)
        tagged = "raises-exception" in cell.metadata.get("tags", [])
        is_test = cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")
        assert tagged == bool(is_test), f"lessons/{name}: cell {cell.id} tagged={tagged}"


@pytest.mark.skipif("01_quadratics" not in LESSONS, reason="KRYLOV_TEST_LESSONS excludes lesson 01")
def test_nbval_fails_on_a_broken_solution_and_the_tag_would_hide_it(tmp_path):
    """What the tag check above protects: nbval, run as make test runs it,
    fails on a solution whose answer breaks its own test, and would pass it
    if the test cell carried `raises-exception`."""
    import subprocess
    import sys

    name = "01_quadratics"
    nb = read(solution_path(name))
    answer = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "quadratic_answer")
    assert "Ax - b" in answer.source, "the lesson-01 solution changed; update this test"
    answer.source = answer.source.replace("Ax - b", "Ax + b")   # a wrong gradient
    test_cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "quadratic_visible")
    # The lesson up to the exercise's tests is enough to show it (and a
    # quarter of the time of the whole lesson, twice).
    hidden = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == "quadratic_hidden")
    nb.cells = nb.cells[:hidden + 1]

    def nbval(notebook, folder):
        folder.mkdir()
        nbformat.write(notebook, str(folder / f"{name}.ipynb"))
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
             "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=120", f"{name}.ipynb"],
            cwd=folder, capture_output=True, text=True, timeout=600)

    # nbval names code cells by their index among code cells.
    code = [c for c in nb.cells if c.cell_type == "code"]
    visible = next(i for i, c in enumerate(code) if c is test_cell)
    failed = lambda out: {int(i) for i in re.findall(r"FAILED \S+::Cell (\d+)", out)}

    broken = nbval(nb, tmp_path / "broken")
    assert broken.returncode == 1, broken.stdout[-2000:]
    assert visible in failed(broken.stdout), broken.stdout[-2000:]
    test_cell.metadata.setdefault("tags", []).append("raises-exception")
    tagged = nbval(nb, tmp_path / "tagged")
    assert visible not in failed(tagged.stdout), tagged.stdout[-2000:]
    assert failed(tagged.stdout) == failed(broken.stdout) - {visible}


@pytest.mark.parametrize("name", LESSONS)
def test_algorithm_boxes_render_one_line_per_step(name):
    """A blockquote with indented (&nbsp;) steps is an algorithm box: Markdown
    joins its lines into one paragraph unless each ends with <br>."""
    for cell in read(solution_path(name)).cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        start = 0
        while start < len(lines):
            if not lines[start].startswith(">"):
                start += 1
                continue
            end = start
            while end < len(lines) and lines[end].startswith(">"):
                end += 1
            box = lines[start:end]
            if any("&nbsp;" in line for line in box):
                run_on = [line for line in box[:-1] if not line.rstrip().endswith("<br>")]
                assert not run_on, f"{name}, cell {cell.id}: box line without <br>: {run_on[0][:80]}"
            start = end


# ------------------------------------------------------------- what grading runs

def _code_cells(name):
    return [c for c in read(solution_path(name)).cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", LESSONS)
def test_every_demonstration_says_whether_grading_runs_it(name):
    """Each ungraded code cell carries the instructor's choice, krylov_ref.grading
    = "skip" or "run"; and on the solution, no cell that runs depends on a
    skipped one (else skipping would save nothing, or change what runs)."""
    from krylov_ref.grading.dataflow import demonstrations_to_skip

    code = _code_cells(name)
    for cell in code:
        if nbgrader_meta(cell):
            assert "krylov_ref" not in cell.metadata, f"{name}: graded cell {cell.id} marked"
            continue
        choice = cell.metadata.get("krylov_ref", {}).get("grading")
        assert choice in {"skip", "run"}, f"{name}: cell {cell.id} does not say whether grading runs it"
    marked = {i for i, c in enumerate(code) if c.metadata.get("krylov_ref", {}).get("grading") == "skip"}
    answers = {i for i, c in enumerate(code) if nbgrader_meta(c).get("solution")}
    skip, reason = demonstrations_to_skip([c.source for c in code], marked, answers)
    assert not reason, f"{name}: {reason}"
    assert skip == marked, (f"{name}: cells {sorted(code[i].id for i in marked - skip)} are marked "
                            "skip but a graded cell depends on them")


@pytest.mark.parametrize("name", LESSONS)
def test_no_demonstration_rebinds_a_name_the_exercises_or_tests_use(name):
    """A demonstration that assigns or imports an exercise's function name (or
    a check's, or anything a test cell reads) breaks the exercise's test when
    it is run again after Run All."""
    from krylov_ref.grading.dataflow import cell_names

    code = _code_cells(name)
    protected = set()
    for cell in code:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            protected |= cell_names(cell.source).bound
        elif meta.get("grade"):
            protected |= cell_names(cell.source).read
    for cell in code:
        if nbgrader_meta(cell):
            continue
        rebound = cell_names(cell.source).bound & protected
        assert not rebound, f"{name}: demonstration {cell.id} rebinds {sorted(rebound)}"


def test_the_rebinding_check_can_fail():
    from krylov_ref.grading.dataflow import cell_names

    assert {"gmres", "A"} <= cell_names("from scipy.sparse.linalg import gmres\nA, b = 1, 2").bound
