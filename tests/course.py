"""Helpers for the notebook tests (see scripts/coursekit.py), and the
choice of lessons under test."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from coursekit import (answer_code, copy_course, hidden_sources, lesson_path,  # noqa: E402,F401
                       make_submission, nbgrader_meta, read, solution_path)
from release import ROOT, chosen_lessons, nbgrader_api, release  # noqa: E402,F401
from release import lesson_names as _all_lessons  # noqa: E402,F401  (every lesson)


def lesson_names(root=ROOT):
    """The lessons under test: all of them, or those named (comma-separated)
    in KRYLOV_TEST_LESSONS, which lets an author test one lesson quickly."""
    return chosen_lessons(root=root)
