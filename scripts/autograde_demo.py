"""Autograde a small sample class in a temporary copy of the course
(``make autograde-demo``): what an instructor's grading run looks like.

For every lesson, three students submit: ``honest`` (the solutions),
``blank`` (the untouched release) and ``sloppy`` (the solutions with the
first exercise replaced by a function that returns nothing useful). The
script runs ``nbgrader autograde``, ``generate_feedback`` and ``export``,
prints the grade table and says where the feedback pages are. The copy is
kept so that the gradebook and feedback can be inspected.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from coursekit import copy_course, make_submission, nbgrader_meta, read, solution_path
from release import lesson_names, release


def first_answer(name):
    for cell in read(solution_path(name)).cells:
        if nbgrader_meta(cell).get("solution"):
            return nbgrader_meta(cell)["grade_id"], cell.source.split("(")[0].split()[-1]
    raise ValueError(f"{name} has no answer cell")


def main():
    root = copy_course(Path(tempfile.mkdtemp(prefix="krylov-autograde-demo-")) / "course")
    release(root)
    names = lesson_names(root)
    for name in names:
        grade_id, func = first_answer(name)
        sloppy = f"def {func}(*args, **kwargs):\n    return None\n"
        for student, nb in [("honest", make_submission(name, root=root)),
                            ("blank", make_submission(name, answered=False, root=root)),
                            ("sloppy", make_submission(name, root=root, replace={grade_id: sloppy}))]:
            path = root / "submitted" / student / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
    for name in names:
        for step in (["autograde", name, "--force"], ["generate_feedback", name, "--force"]):
            print(f"$ nbgrader {' '.join(step)}", flush=True)
            subprocess.run([sys.executable, "-m", "nbgrader", *step], cwd=root, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", "grades.csv"],
                   cwd=root, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"\n{'student':10s} {'lesson':24s} {'score':>12s}")
    with open(root / "grades.csv") as f:
        for row in sorted(csv.DictReader(f), key=lambda r: (r["assignment"], r["student_id"])):
            print(f"{row['student_id']:10s} {row['assignment']:24s} "
                  f"{float(row['raw_score']):5.1f} / {float(row['max_score']):4.1f}")
    print(f"\ngradebook: {root / 'gradebook.db'}\nfeedback:  {root / 'feedback'}")


if __name__ == "__main__":
    main()
