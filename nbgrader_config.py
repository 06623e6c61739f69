"""nbgrader settings for the course. Paths are relative to this file, so a
copy of the course elsewhere (the tests make one) is self-contained."""

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

from krylov_ref.feedback import RedactHiddenTracebacks

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)
here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = here
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")
# The default exchange under /usr/local is not writable in most set-ups.
c.Exchange.root = os.path.join(here, "exchange")

# Seconds per cell: a student's infinite loop costs that cell, not the run.
# krylov_ref.checks also stops a student's function after
# KRYLOV_REF_TIME_LIMIT seconds (30 by default) with a clear message.
c.ExecutePreprocessor.timeout = 60
# A deleted test cell is put back (and run) instead of silently earning nothing
# or needing a manual grade.
c.OverwriteCells.add_missing_cells = True

# Feedback must not reveal hidden tests, not even in a failing traceback.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    RedactHiddenTracebacks,
    ClearHiddenTests,
    CSSHTMLHeaderPreprocessor,
]
