"""Helpers for the notebook tests (see scripts/coursekit.py), and the
choice of lessons under test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from coursekit import (answer_code, copy_course, hidden_sources, lesson_path,  # noqa: E402,F401
                       make_submission, nbgrader_meta, read, solution_path)
from release import ROOT, nbgrader_api, release  # noqa: E402,F401
from release import lesson_names as _all_lessons  # noqa: E402


def lesson_names(root=ROOT):
    """The lessons under test: all of them, or those named (comma-separated)
    in KRYLOV_TEST_LESSONS, which lets an author test one lesson quickly."""
    names = _all_lessons(root)
    chosen = os.environ.get("KRYLOV_TEST_LESSONS")
    if chosen:
        wanted = {n.strip() for n in chosen.split(",") if n.strip()}
        unknown = wanted - set(names)
        if unknown:
            raise ValueError(f"KRYLOV_TEST_LESSONS names unknown lessons: {sorted(unknown)}")
        names = [n for n in names if n in wanted]
    return names
