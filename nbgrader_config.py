"""nbgrader settings for the course. Paths are relative to this file, so a
copy of the course elsewhere (the tests make one) is self-contained.

Loading this file also prepares the course folder (see
krylov_ref/grading/course.py): the exchange exists and the gradebook knows
every lesson of solutions/, so every nbgrader command works on a fresh clone.
"""

import os
import warnings

# Preprocessors are named by their import path, not passed as classes: the
# Formgrader's "Current configuration" panel then shows their names.
NB = "nbgrader.preprocessors."
OURS = "krylov_ref.grading.preprocessors."

from krylov_ref.grading.course import ensure_course

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
here = os.path.dirname(os.path.abspath(__file__))
# The gradebook: gradebook.db (sqlite) here, or a database server named by
# KRYLOV_GRADEBOOK_URL, e.g. postgresql+psycopg://grader@dbhost/krylov for a
# large class (docs/instructor.md).
db_url = os.environ.get("KRYLOV_GRADEBOOK_URL") or "sqlite:///" + os.path.join(here, "gradebook.db")
exchange = os.path.join(here, "exchange")

c.CourseDirectory.root = here
c.CourseDirectory.course_id = "krylov"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.db_url = db_url
c.Exchange.root = exchange

# The student version: nbgrader's steps, then the test cells tagged so that
# Run All in JupyterLab goes on past an unanswered exercise.
c.GenerateAssignment.preprocessors = [NB + name for name in (
    "IncludeHeaderFooter", "InstantiateTests", "LockCells", "ClearSolutions", "ClearOutput",
    "CheckCellMetadata", "ComputeChecksums", "SaveCells", "ClearHiddenTests", "ClearMarkScheme",
    "ComputeChecksums", "CheckCellMetadata")] + [OURS + "TagTestCells"]

# Autograding: test cells restored quietly where that is expected, then the
# notebook run with the grader armed and its seals verified.
c.Autograde.sanitize_preprocessors = [
    NB + "ClearOutput", NB + "DeduplicateIds", NB + "OverwriteKernelspec", OURS + "RestoreCells",
    NB + "CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    OURS + "SealedExecute", NB + "IgnorePattern", "nbconvert.preprocessors.ClearMetadataPreprocessor",
    NB + "LimitOutput", NB + "SaveAutoGrades", NB + "AssignLatePenalties", NB + "CheckCellMetadata",
]
c.SealedExecute.report_dir = os.path.join(here, "integrity")
c.SealedExecute.release_directory = os.path.join(here, "lessons")
# Seconds per cell: a student's infinite loop costs that cell, not the run.
# krylov_ref.checks also stops a student's function after
# KRYLOV_REF_TIME_LIMIT seconds (30 by default) with a clear message.
c.SealedExecute.timeout = 60
c.Execute.timeout = 60
# The kernel's state is thrown away once the last cell has run: killing it
# saves the half second a graceful shutdown waits, per submission.
c.SealedExecute.shutdown_kernel = "immediate"
# A deleted test cell is put back (and run) instead of silently earning nothing
# or needing a manual grade.
c.OverwriteCells.add_missing_cells = True

# Feedback must not reveal hidden tests, not even in a failing traceback.
# Under a failing test, the misconception its check named and a link to the
# lesson section (in the same page) that explains it.
c.GenerateFeedback.preprocessors = [
    NB + "GetGrades", OURS + "RedactHiddenTracebacks", OURS + "FeedbackClearHiddenTests",
    OURS + "LinkMisconceptions", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# nbgrader export --to grades.csv: the grades plus integrity flags, and the
# flags themselves in grades_integrity.csv.
c.ExportApp.plugin_class = "krylov_ref.grading.export.FlaggedCsvExport"
c.FlaggedCsvExport.report_dir = os.path.join(here, "integrity")

# nbgrader's first grading of a student makes SQLAlchemy warn "Object of type
# <SubmittedAssignment> not in session" (nbgrader's own session handling; the
# submission is saved all the same). Harmless, and not ours to fix.
warnings.filterwarnings("ignore", message=r"Object of type <Submitted(Assignment|Notebook)> not in session")

ensure_course(here, c, db_url, exchange)
