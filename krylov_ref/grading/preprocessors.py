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

import json
import os
import secrets
import shutil
import tempfile

from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool, List, Unicode

from .screen import screen_notebook
from .verify import Flag, verify_notebook

__all__ = ["TagTestCells", "RestoreCells", "SealedExecute", "RedactHiddenTracebacks",
           "FeedbackClearHiddenTests",
           "ARM_MARKER", "report_path"]

ARM_MARKER = "krylov_ref_arm"
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


def report_path(report_dir, assignment, student):
    return os.path.join(report_dir, assignment, f"{student}.json")


class SealedExecute(Execute):
    """nbgrader's ``Execute`` with the grader armed, then the seals verified."""

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

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        student, assignment = info.get("student", "?"), info.get("assignment", "?")
        notebook = info.get("notebook", assignment)
        sanitize_flags = nb.metadata.pop(_METADATA_KEY, {}).get("sanitize_flags", [])
        screened = screen_notebook(nb, self._release_sources(assignment, notebook))

        workdir = tempfile.mkdtemp(prefix="krylov-grade-")
        os.chmod(workdir, 0o700)
        key = secrets.token_bytes(32)
        key_file = os.path.join(workdir, "key")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        self._kernel_env = dict(os.environ, IPYTHONDIR=os.path.join(workdir, "ipython"),
                                MPLCONFIGDIR=os.path.join(workdir, "matplotlib"))
        # Set before arming, so that the snapshot already has it.
        no_figures = ("" if self.figures else
                      "get_ipython().run_line_magic('config', 'InlineBackend.figure_formats = set()')\n")
        arm = NotebookNode(cell_type="code", execution_count=None, outputs=[], id=ARM_MARKER,
                           metadata={ARM_MARKER: True},
                           source=(no_figures + "import krylov_ref.checks._seal\n"
                                   f"krylov_ref.checks._seal.arm({key_file!r})"))
        nb.cells.insert(0, arm)
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

        flags = [Flag(**f) for f in sanitize_flags] + verify_notebook(nb, key)
        flags += [Flag("screen", number, gid, "; ".join(reasons)) for number, gid, reasons in screened]
        self._report(student, assignment, notebook, flags, resources)
        return nb, resources

    _explained = False

    async def async_start_new_kernel(self, **kwargs):
        if not SealedExecute._explained:
            SealedExecute._explained = True
            self.log.info("Each notebook runs in a new kernel on 127.0.0.1; ipykernel's warning "
                          "'Kernel is running over TCP without encryption' is expected.")
        kwargs.setdefault("env", getattr(self, "_kernel_env", None) or dict(os.environ))
        return await super().async_start_new_kernel(**kwargs)

    def _release_sources(self, assignment, notebook):
        path = os.path.join(self.release_directory, assignment, f"{notebook}.ipynb")
        if not self.release_directory or not os.path.exists(path):
            return ()
        with open(path) as f:
            released = json.load(f)
        return {"".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in released.get("cells", [])}

    def _report(self, student, assignment, notebook, flags, resources):
        for flag in flags:
            level = self.log.warning if flag.kind != "screen" else self.log.info
            level("INTEGRITY %s: student %r, lesson %r, cell %d%s: %s%s", flag.kind, student,
                  assignment, flag.cell, f" ({flag.grade_id})" if flag.grade_id else "",
                  flag.detail, " [no points for this test]" if flag.zeroed else "")
        if self.report_dir:
            path = report_path(self.report_dir, assignment, student)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"student": student, "assignment": assignment, "notebook": notebook,
                           "flags": [fl.as_dict() for fl in flags]}, f, indent=1)
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
