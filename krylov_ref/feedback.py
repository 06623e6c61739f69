"""An nbgrader preprocessor that keeps hidden tests out of student feedback.

nbgrader's ``ClearHiddenTests`` removes the hidden blocks from the cell
sources, but the traceback of a *failing* hidden test still quotes the lines
around the failure (nbgrader issues 917 and 1363). For every cell that holds
hidden tests we replace the traceback of an error by its last line -- the
exception's name and message, which our checks write for students -- and
then clear the hidden blocks. ``nbgrader_config.py`` adds it to
``GenerateFeedback.preprocessors``. Only instructors' tools import this
module; it needs nbgrader.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
NOTICE = "(details of the hidden test are not shown)"


class RedactHiddenTracebacks(NbGraderPreprocessor):
    """Shorten error outputs of cells that contain hidden tests to one line."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and BEGIN_HIDDEN in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    summary = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                    output["traceback"] = [summary, NOTICE]
        return cell, resources
