"""``nbgrader export`` with the integrity flags beside the grades.

``nbgrader_config.py`` makes this the export plugin, so the instructor's
usual ``nbgrader export --to grades.csv`` writes nbgrader's columns plus
``integrity_flags`` (how many serious flags: tampering, unsealed or edited
tests), ``review_flags`` (the static screen's) and ``sandbox_flags`` (what
the sandbox stopped: attempts to reach outside the notebook, limits hit),
and, beside the CSV, an
``<name>_integrity.csv`` with one row per flag: student, lesson, cell,
kind, whether the test lost its points, and why.
"""

from __future__ import annotations

import csv
import glob
import json
import os

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

__all__ = ["FlaggedCsvExport", "read_reports", "REVIEW_KINDS", "is_serious"]

# Flags for the instructor to look at, which say nothing against the grade.
REVIEW_KINDS = {"screen", "sandbox"}


def is_serious(flag):
    """A flag about the grader's integrity (tampering, unsealed or edited tests)."""
    return flag["kind"] not in REVIEW_KINDS

GRADE_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                 "email", "raw_score", "late_submission_penalty", "score", "max_score"]
FLAG_COLUMNS = ["student_id", "assignment", "cell", "grade_id", "kind", "points_removed", "detail"]


def read_reports(report_dir):
    """(student, assignment) -> list of flag dicts, from the integrity reports."""
    reports = {}
    for path in sorted(glob.glob(os.path.join(report_dir, "*", "*.json"))):
        with open(path) as f:
            report = json.load(f)
        reports[(report["student"], report["assignment"])] = report["flags"]
    return reports


class FlaggedCsvExport(ExportPlugin):
    """nbgrader's CSV export, plus integrity flags."""

    report_dir = Unicode("", help="Where SealedExecute wrote the integrity reports.").tag(config=True)

    def export(self, gradebook):
        dest = self.to or "grades.csv"
        reports = read_reports(self.report_dir) if self.report_dir else {}
        wanted_students = {str(s) for s in self.student}
        wanted_assignments = {str(a) for a in self.assignment}
        rows, flag_rows = [], []
        for assignment in gradebook.assignments:
            if wanted_assignments and assignment.name not in wanted_assignments:
                continue
            for student in gradebook.students:
                if wanted_students and student.id not in wanted_students:
                    continue
                row = dict(assignment=assignment.name, duedate=assignment.duedate,
                           student_id=student.id, last_name=student.last_name,
                           first_name=student.first_name, email=student.email,
                           max_score=assignment.max_score)
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                else:
                    penalty = submission.late_submission_penalty
                    row.update(timestamp=submission.timestamp, raw_score=submission.score,
                               late_submission_penalty=penalty,
                               score=max(0.0, submission.score - penalty))
                flags = reports.get((student.id, assignment.name), [])
                row["integrity_flags"] = sum(is_serious(f) for f in flags)
                row["review_flags"] = sum(f["kind"] == "screen" for f in flags)
                row["sandbox_flags"] = sum(f["kind"] == "sandbox" for f in flags)
                rows.append({k: ("" if v is None else v) for k, v in row.items()})
                for flag in flags:
                    flag_rows.append(dict(student_id=student.id, assignment=assignment.name,
                                          cell=flag["cell"], grade_id=flag["grade_id"],
                                          kind=flag["kind"], points_removed=flag["zeroed"],
                                          detail=flag["detail"]))
        self.log.info("Exporting grades to %s", dest)
        with open(dest, "w", newline="") as f:
            writer = csv.DictWriter(f, GRADE_COLUMNS + ["integrity_flags", "review_flags",
                                                     "sandbox_flags"])
            writer.writeheader()
            writer.writerows(rows)
        flags_dest = os.path.splitext(dest)[0] + "_integrity.csv"
        with open(flags_dest, "w", newline="") as f:
            writer = csv.DictWriter(f, FLAG_COLUMNS)
            writer.writeheader()
            writer.writerows(flag_rows)
        serious = sum(r["integrity_flags"] > 0 for r in rows)
        if serious:
            self.log.warning("%d submission(s) have integrity flags: see %s", serious, flags_dest)
        else:
            self.log.info("No integrity flags; the review list is in %s", flags_dest)
