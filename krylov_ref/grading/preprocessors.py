"""nbgrader preprocessors of the course (``nbgrader_config.py`` installs them).

* :class:`TagTestCells` (``generate_assignment``): tags every test cell of the
  student version ``raises-exception``, so that Run All in JupyterLab goes on
  past an unanswered exercise. Only the release is tagged: nbval ignores
  failures of tagged cells, and ``solutions/`` must fail loudly.
* :class:`RestoreCells` (``autograde``, sanitizing): nbgrader's
  ``OverwriteCells``, without the alarming "checksum has changed" warning for
  the expected case (hidden tests put back into a cell the student left
  alone), and recording the cases that are not expected (a test cell edited
  or deleted) for the integrity report.
* :class:`SealedExecute` (``autograde``): runs the notebook with the grader
  armed (a first cell, removed afterwards, gives the kernel a fresh key),
  each kernel in fresh IPython and matplotlib folders, then verifies the
  seals (:mod:`krylov_ref.grading.verify`), screens the student's cells
  (:mod:`krylov_ref.grading.screen`), zeroes what was tampered with, and
  writes the integrity report and the gradebook's "flagged" mark.
* :class:`RedactHiddenTracebacks` (``generate_feedback``): a cell with hidden
  tests shows only "passed" or the exception's one-line message, never the
  code or the arguments of a hidden test.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool, Integer, List, Unicode

from .dataflow import demonstrations_to_skip
from .sandbox import (OPT_OUT, Sandbox, SandboxedKernelManager, SandboxUnavailable, describe_exit,
                      prepare_matplotlib_cache)
from .screen import screen_notebook
from .verify import Flag, verify_notebook

__all__ = ["TagTestCells", "RestoreCells", "SealedExecute", "RedactHiddenTracebacks",
           "FeedbackClearHiddenTests", "LinkMisconceptions", "feedback_anchor",
           "ARM_MARKER", "report_path"]

ARM_MARKER = "krylov_ref_arm"
SKIPPED_NOTE = ("(not run by the autograder: this demonstration earns no points and no graded "
                "cell depends on it; run the lesson in JupyterLab to see it)\n")
RAISES = "raises-exception"
_METADATA_KEY = "krylov_ref"


def _is_test_cell(cell):
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


class TagTestCells(NbGraderPreprocessor):
    """Tag the student version's test cells ``raises-exception``."""

    def preprocess_cell(self, cell, resources, cell_index):
        if _is_test_cell(cell):
            tags = list(cell.metadata.get("tags", []))
            if RAISES not in tags:
                cell.metadata["tags"] = tags + [RAISES]
        return cell, resources


def _released_source(source):
    """What ``generate_assignment`` leaves of a test cell's source."""
    cell = NotebookNode(cell_type="code", source=source, metadata={})
    ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell)
    return cell.source


def _notes(nb):
    return nb.metadata.setdefault(_METADATA_KEY, {}).setdefault("sanitize_flags", [])


class RestoreCells(OverwriteCells):
    """``OverwriteCells`` that stays quiet about hidden tests being restored."""

    def preprocess(self, nb, resources):
        self._expected = set()
        self._nb = nb
        nb, resources = super().preprocess(nb, resources)
        if self._expected:
            self.log.info("Restored the hidden tests of %d test cell(s)", len(self._expected))
        return nb, resources

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        self._current = None
        if grade_id is not None and utils.is_locked(cell):
            try:
                source = self.gradebook.find_source_cell(grade_id, self.notebook_id,
                                                         self.assignment_id)
            except Exception:  # unknown cell: OverwriteCells says so itself
                source = None
            if source is not None:
                self._current = (grade_id, cell_index, cell.source == _released_source(source.source))
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new):
        if attr == "checksum" and self._current and self._current[0] == name:
            _, index, expected = self._current
            if expected:
                self._expected.add(name)  # the release stripped hidden tests: nothing to say
                return
            _notes(self._nb).append(Flag(
                "edited test", index + 1, name,
                "a locked cell was edited; it was restored from the gradebook before grading").as_dict())
            self.log.warning("Cell %s was edited by the student; restored from the gradebook", name)
            return
        super().report_change(name, attr, old, new)

    def add_missing_grade_cells(self, nb, resources):
        present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
        nb, resources = super().add_missing_grade_cells(nb, resources)
        for index, cell in enumerate(nb.cells):
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid and gid not in present:
                _notes(nb).append(Flag("deleted test", index + 1, gid,
                                       "the cell was deleted; nbgrader put it back").as_dict())
        return nb, resources


@functools.lru_cache(maxsize=16)
def _read_release(path, mtime_ns):
    """The release's cells (read once per version of the file)."""
    import nbformat

    return tuple(nbformat.read(path, as_version=4).cells)


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def _student_cells(nb, released):
    """Indices of the cells holding the student's code: answers, and cells
    that are not as released."""
    sources = {c.source for c in released if c.cell_type == "code"}
    found = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") or (not meta and cell.source not in sources):
            found.add(index)
    return found


# What an error in the student's code says when the sandbox or a limit stopped it.
_BLOCKED_ERRORS = (
    ("MemoryError", None, "ran out of memory (the limit is c.Sandbox.memory_mb)"),
    ("OSError", "File too large", "wrote a file larger than c.Sandbox.file_size_mb"),
    ("OSError", "No space left on device", "filled its scratch folder (c.Sandbox.scratch_mb)"),
    ("BlockingIOError", "Resource temporarily unavailable",
     "could not start more processes (c.Sandbox.processes)"),
    ("OSError", "Read-only file system", "tried to write where it may only read"),
    ("PermissionError", "Permission denied", "was refused access to a file"),
    ("OSError", "Network is unreachable", "tried to use the network"),
    ("ConnectionRefusedError", None, "tried to connect to a listener"),
)


def _sandbox_flags(nb, released, events):
    """Flags (kind "sandbox") for what the sandbox stopped, from the kernel's
    audit records of the student's code, the errors its cells ended with, and
    the grader's own watch over the sandbox's processes."""
    from ..checks._audit import MIME_AUDIT, cell_hash
    from .dataflow import _transform

    student = _student_cells(nb, released)
    transform = _transform()
    mine = set()
    for index in student:
        try:
            mine.add(cell_hash(transform(nb.cells[index].source)))
        except Exception:  # noqa: BLE001 - IPython could not read it: it cannot have run either
            continue
    flags = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        said, kept = [], []
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if output.get("output_type") == "display_data" else {}
            if MIME_AUDIT in data:
                for event in (data[MIME_AUDIT] or {}).get("events", []):
                    if isinstance(event, dict) and set(event.get("cells", [])) & mine:
                        said.append(str(event.get("what", ""))[:200])
                continue
            kept.append(output)
            if output.get("output_type") == "error" and index in student | _test_cells(nb):
                text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
                for ename, fragment, meaning in _BLOCKED_ERRORS:
                    if output.get("ename") == ename and (fragment is None or fragment in text):
                        said.append(f"{meaning} ({text[:160]})")
                        break
        cell["outputs"] = kept
        if said:
            flags.append(Flag("sandbox", index + 1, _grade_id(cell),
                              "; ".join(dict.fromkeys(said))))
    for event in dict.fromkeys(events):
        flags.append(Flag("sandbox", 0, "", event))
    return flags


def _test_cells(nb):
    return {i for i, c in enumerate(nb.cells) if c.cell_type == "code" and _is_test_cell(c)}


def _not_run(cell, why):
    """An error output for a cell that could not run: a test cell then scores 0."""
    return NotebookNode(output_type="error", ename="KernelDied", evalue=why,
                        traceback=[f"KernelDied: {why}"])


def report_path(report_dir, assignment, student):
    return os.path.join(report_dir, assignment, f"{student}.json")


class SealedExecute(Execute):
    """nbgrader's ``Execute`` with the grader armed, then the seals verified.

    The kernel runs in the :class:`~krylov_ref.grading.sandbox.Sandbox`
    unless ``c.Sandbox.enabled = False``; demonstrations the lesson marks as
    skippable are not run when nothing that runs depends on them.
    """

    report_dir = Unicode(
        "", help="Folder for the integrity reports (<assignment>/<student>.json); '' for none."
    ).tag(config=True)
    release_directory = Unicode(
        "", help="Release folder, whose unchanged cells the screen does not read."
    ).tag(config=True)
    figures = Bool(
        False, help="Draw matplotlib figures while grading, so that feedback shows them. "
        "Off, a figure appears as its text form ('<Figure size ... with 1 Axes>'): no "
        "grade depends on a figure, and drawing them is about a third of the time a "
        "lesson takes to run."
    ).tag(config=True)
    iopub_timeout = Integer(
        30, help="Seconds to wait for a cell's last outputs after its reply (nbclient's "
        "default, 4, is too short on a machine busy grading in parallel)."
    ).tag(config=True)
    recover_seconds = Integer(
        10, help="After a cell is interrupted at the cell timeout, seconds the kernel has to "
        "answer again; if it does not, it is stopped and the later cells are not run."
    ).tag(config=True)
    submission_timeout = Integer(
        900, help="Seconds one submission's grading may take in all; then its kernel is "
        "stopped and the remaining cells are not run (their tests earn nothing)."
    ).tag(config=True)
    skip_demonstrations = Bool(
        True, help="Do not run the demonstrations a lesson marks as skippable when grading "
        "(cell metadata krylov_ref.grading = 'skip', read from the release, never from the "
        "submission), unless a cell that runs depends on one of them. They earn no points."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        student, assignment = info.get("student", "?"), info.get("assignment", "?")
        notebook = info.get("notebook", assignment)
        sanitize_flags = nb.metadata.pop(_METADATA_KEY, {}).get("sanitize_flags", [])
        released = self._released(assignment, notebook)
        screened = screen_notebook(nb, {c.source for c in released})
        self._skip, self._skip_reason = (self._plan_skips(nb, released) if self.skip_demonstrations
                                         else (set(), "skipping is off"))

        sandbox = Sandbox(parent=self)
        if sandbox.enabled:
            try:
                sandbox.ensure_available()
            except SandboxUnavailable as exc:
                # Not one student's problem: stop the whole run, saying why
                # once, and take back nbgrader's copy of this submission, so
                # that the next run (sandbox installed) grades it.
                self.log.error("%s", exc)
                output = resources.get("metadata", {}).get("path")
                if output and os.path.isdir(output) and info.get("student") in Path(output).parts:
                    shutil.rmtree(output)
                raise SystemExit(2) from exc
            self.kernel_manager_class = SandboxedKernelManager
        elif not SealedExecute._warned_unsandboxed:
            SealedExecute._warned_unsandboxed = True
            self.log.warning("Grading WITHOUT the sandbox (%s): a submission's code runs with "
                             "every right of the grading user.", OPT_OUT)
        workdir = tempfile.mkdtemp(prefix="krylov-grade-")
        os.chmod(workdir, 0o700)
        key = secrets.token_bytes(32)
        key_file = os.path.join(workdir, "key")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        self._key_file = key_file
        self._workdir = workdir
        self._sandboxed = sandbox.enabled
        mpl = os.path.join(workdir, "matplotlib")
        prepare_matplotlib_cache(mpl)
        if sandbox.enabled:
            # The folder is read-only inside the sandbox; the kernel, which
            # may run as an unprivileged uid of its own, reads the key (and
            # only it may) and the font list.
            os.chmod(workdir, 0o755)
            if os.geteuid() == 0:
                os.chown(key_file, sandbox.uid(), sandbox.uid())
            os.chmod(key_file, 0o400)
        self._kernel_env = dict(os.environ, IPYTHONDIR=os.path.join(workdir, "ipython"),
                                MPLCONFIGDIR=mpl)
        # Set before arming, so that the snapshot already has it.
        no_figures = ("" if self.figures else
                      "get_ipython().run_line_magic('config', 'InlineBackend.figure_formats = set()')\n")
        arm = NotebookNode(cell_type="code", execution_count=None, outputs=[], id=ARM_MARKER,
                           metadata={ARM_MARKER: True},
                           source=(no_figures + "import krylov_ref.checks._seal\n"
                                   f"krylov_ref.checks._seal.arm({key_file!r})"))
        nb.cells.insert(0, arm)
        self._dead = None
        self._started = time.monotonic()
        self._sandbox_events = []
        try:
            nb, resources = super().preprocess(nb, resources)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        first = nb.cells.pop(0)
        if not first.get("metadata", {}).get(ARM_MARKER):
            raise RuntimeError("the grader's first cell went missing")
        errors = [o for o in first.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            raise RuntimeError(f"arming the grader failed for {student}: "
                               f"{errors[0].get('ename')}: {errors[0].get('evalue')}")

        sandbox = _sandbox_flags(nb, released, self._sandbox_events)
        flags = [Flag(**f) for f in sanitize_flags] + verify_notebook(nb, key)
        flags += [Flag("screen", number, gid, "; ".join(reasons)) for number, gid, reasons in screened]
        flags += sandbox
        if self._dead:
            cell, reason = self._dead
            flags.append(Flag("sandbox", cell, _grade_id(nb.cells[cell - 1]),
                              f"the kernel stopped here ({reason}); the cells after it were not run "
                              "and their tests earn nothing"))
        # What each failing test cell diagnosed (sealed codes, recorded in its
        # metadata by verify_notebook), for the class report.
        diagnoses = {_grade_id(c): c["metadata"]["krylov_ref"]["diagnoses"] for c in nb.cells
                     if c.get("metadata", {}).get("krylov_ref", {}).get("diagnoses")}
        self._report(student, assignment, notebook, flags, resources, diagnoses)
        return nb, resources

    _explained = False
    _warned_unsandboxed = False

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._dead is None and time.monotonic() - self._started > self.submission_timeout:
            self._stop_kernel(index, f"the submission's grading took more than "
                                     f"{self.submission_timeout} s (c.SealedExecute.submission_timeout)")
        if self._dead is not None:
            cell.outputs = [_not_run(cell, "the kernel was stopped in an earlier cell")]
            return cell, resources
        if (index - 1) in self._skip:
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=SKIPPED_NOTE)]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except CellTimeoutError as exc:
            # The reply came but the cell's last outputs did not (a kernel
            # starved by a classmate's load, or one that broke its own output
            # channel): the cell fails, the submission is still graded.
            cell.outputs.append(NotebookNode(
                output_type="error", ename="CellTimeoutError", evalue=str(exc).split("\n")[0],
                traceback=[f"CellTimeoutError: {str(exc).splitlines()[0]}"]))
        except DeadKernelError:
            # index counts the grader's first cell: it is the 1-based number
            # of this cell once that cell is removed.
            self._dead = (index, self._death_reason())
            cell.outputs.append(_not_run(cell, f"the kernel died while this cell ran "
                                               f"({self._dead[1]})"))
        timed_out = any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
                        for o in cell.outputs)
        if timed_out and self._dead is None and not self._responds(self.recover_seconds):
            # Interrupted at the cell timeout and still busy: every later cell
            # would wait out the timeout in turn. Stop here.
            self._stop_kernel(index, "it did not answer after this cell ran past the time limit "
                                     "and was interrupted")
        if index == 0 and os.path.exists(self._key_file):
            # The first cell (the grader's) has read the key: nothing after it may.
            os.unlink(self._key_file)
        return cell, resources

    def _responds(self, seconds):
        """True if the kernel answers a kernel_info request within ``seconds``."""
        import queue

        async def ask():
            msg_id = self.kc.kernel_info()
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg = await self.kc.get_shell_msg(timeout=left)
                except queue.Empty:
                    return False
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    return True
            return False

        try:
            return run_sync(ask)()
        except Exception:  # noqa: BLE001 - a kernel that cannot be asked does not answer
            return False

    def _stop_kernel(self, index, reason):
        self._dead = (index, reason)
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception as exc:  # noqa: BLE001 - already gone is as good as stopped
            self.log.info("Stopping the kernel: %s", exc)

    def _death_reason(self):
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        return describe_exit(code, Sandbox(parent=self) if self._sandboxed else None)

    def _plan_skips(self, nb, released):
        """Indices (among the submission's cells) of the demonstrations not to run."""
        marked = {c.get("id"): c.source for c in released
                  if c.cell_type == "code" and c.get("metadata", {}).get(_METADATA_KEY, {})
                  .get("grading") == "skip"}
        code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        students = _student_cells(nb, released)
        candidates, student = set(), set()
        for position, (index, cell) in enumerate(code):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if marked.get(cell.get("id")) == cell.source and not meta:
                candidates.add(position)
            elif index in students:
                student.add(position)
        skip, reason = demonstrations_to_skip([c.source for _, c in code], candidates, student)
        return {code[p][0] for p in skip}, reason

    async def async_start_new_kernel(self, **kwargs):
        if not SealedExecute._explained and not self._sandboxed:
            SealedExecute._explained = True
            self.log.info("Each notebook runs in a new kernel on 127.0.0.1; ipykernel's warning "
                          "'Kernel is running over TCP without encryption' is expected.")
        kwargs.setdefault("env", getattr(self, "_kernel_env", None) or dict(os.environ))
        if self._sandboxed:
            self.km.sandbox_dir = self._workdir
            self.km.sandbox_events = self._sandbox_events
        return await super().async_start_new_kernel(**kwargs)

    # nbconvert runs the synchronous wrapper, which nbclient binds to its own
    # coroutine: bind it to the one above.
    start_new_kernel = run_sync(async_start_new_kernel)

    def _released(self, assignment, notebook):
        path = os.path.join(self.release_directory, assignment, f"{notebook}.ipynb")
        if not self.release_directory or not os.path.exists(path):
            return []
        return [c.copy() for c in _read_release(path, os.stat(path).st_mtime_ns)]

    def _report(self, student, assignment, notebook, flags, resources, diagnoses=None):
        for flag in flags:
            level = self.log.info if flag.kind == "screen" else self.log.warning
            where = f", cell {flag.cell}" if flag.cell else ""
            level("%s %s: student %r, lesson %r%s%s: %s%s",
                  "SANDBOX" if flag.kind == "sandbox" else "INTEGRITY", flag.kind, student,
                  assignment, where, f" ({flag.grade_id})" if flag.grade_id else "",
                  flag.detail, " [no points for this test]" if flag.zeroed else "")
        if self.report_dir:
            path = report_path(self.report_dir, assignment, student)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"student": student, "assignment": assignment, "notebook": notebook,
                           "flags": [fl.as_dict() for fl in flags],
                           "diagnoses": diagnoses or {}}, f, indent=1)
            os.replace(tmp, path)
        serious = [fl for fl in flags if fl.kind != "screen"] or flags
        if serious:
            self._mark_flagged(resources, student, assignment, notebook)

    def _mark_flagged(self, resources, student, assignment, notebook):
        from nbgrader.api import Gradebook

        db_url = resources.get("nbgrader", {}).get("db_url")
        if not db_url:
            return
        with Gradebook(db_url) as gb:
            submission = gb.find_submission_notebook(notebook, assignment, student)
            submission.flagged = True
            gb.db.commit()


class _FeedbackPreprocessor(NbGraderPreprocessor):
    # nbconvert's HTML exporter configures display_data_priority for every
    # NbConvertBase; nbgrader's preprocessors declare it unconfigurable, so
    # traitlets warns "Config option `display_data_priority` not recognized"
    # once per notebook (nbgrader fixed it for GetGrades alone, #683).
    display_data_priority = List(NbGraderPreprocessor.display_data_priority.default_value).tag(config=True)


class FeedbackClearHiddenTests(_FeedbackPreprocessor, ClearHiddenTests):
    """nbgrader's ``ClearHiddenTests``, quiet in ``generate_feedback``."""


class RedactHiddenTracebacks(_FeedbackPreprocessor):
    """In feedback, a cell with hidden tests shows its verdict, not its code or arguments."""

    notice = Unicode("(the details of hidden tests are not shown)").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source:
            outputs = []
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    summary = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                    output["traceback"] = [summary, self.notice]
                    outputs.append(output)
                elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                    outputs.append(NotebookNode(
                        output_type="stream", name="stderr",
                        text="(this test wrote to stderr, which nbgrader scores as a failure)\n"))
            if not outputs:
                outputs.append(NotebookNode(output_type="stream", name="stdout",
                                            text="\u2713 hidden tests passed\n"))
            cell["outputs"] = outputs
        return cell, resources


def feedback_anchor(heading):
    """The id nbconvert gives a markdown heading in an HTML page (feedback pages)."""
    import re

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    found = re.search(r'id="([^"]*)"', markdown2html_mistune("## " + heading))
    return found.group(1) if found else ""


class LinkMisconceptions(_FeedbackPreprocessor):
    """In feedback, under each failing test cell, the misconceptions its checks
    named, each with a link to the lesson section (in the same page) that
    explains it. Read from the cell's recorded diagnoses; nothing of a hidden
    test is shown."""

    def preprocess(self, nb, resources):
        from .misconceptions import describe

        self._describe = describe
        self._lesson = resources.get("nbgrader", {}).get("assignment")
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        entries = cell.get("metadata", {}).get("krylov_ref", {}).get("diagnoses", [])
        codes = list(dict.fromkeys(c for e in entries for c in e.get("codes", []) if "." in c))
        if cell.cell_type != "code" or not codes:
            return cell, resources
        import html as _html

        lines_html, lines_text = [], []
        for code in codes:
            try:
                description, section = self._describe(code, self._lesson)
            except ImportError:  # a lesson without a checks module: say the code only
                description, section = "", ""
            where = ""
            if section:
                anchor = feedback_anchor(section)
                where = (f' &mdash; read <a href="#{_html.escape(anchor)}">'
                         f"{_html.escape(section)}</a> again")
            lines_html.append(f"<li><code>{_html.escape(code)}</code>: {_html.escape(description)}"
                              f"{where}</li>")
            lines_text.append(f"{code}: {description}" + (f" (see {section})" if section else ""))
        cell.setdefault("outputs", []).append(NotebookNode(
            output_type="display_data", metadata={},
            data={"text/html": '<div class="krylov-misconceptions"><p>The mistake this test '
                               "names:</p><ul>" + "".join(lines_html) + "</ul></div>",
                  "text/plain": "The mistake this test names:\n" + "\n".join(lines_text)}))
        return cell, resources
