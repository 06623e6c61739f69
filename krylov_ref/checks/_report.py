"""What a student reads when a check fails: a few lines naming the exercise
and the mistake, never a line of the grader.

IPython shows an exception that has a ``_render_traceback_()`` method by
calling it instead of printing the whole traceback (ipykernel sends those
lines as the cell's error output, which is also what nbgrader's Validate
dialog and feedback pages show). Every failure a check can raise is a
:class:`WrongAnswer`, whose rendering is its message plus, when the mistake
is an exception in the student's own code, the student's frames only.

Set ``KRYLOV_REF_DEBUG=1`` to see the full traceback instead (for authors of
checks; it shows the grader's code).
"""

from __future__ import annotations

import linecache
import os
import sys
import textwrap
import traceback

__all__ = [
    "WrongAnswer", "NotAllowedError", "TimeLimitExceeded", "NotAnswered", "StudentCodeError",
    "CheckCrashed", "student_frames", "format_frames", "codes_of", "GENERIC_CODES",
]

_WIDTH = 100
_RED, _BOLD, _RESET = "\x1b[0;31m", "\x1b[1m", "\x1b[0m"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Library code: the interpreter's own files and everything installed.
_LIBRARY_DIRS = tuple(sorted({os.path.abspath(p) for p in (sys.prefix, sys.base_prefix,
                                                           sys.exec_prefix)}))


def _debugging():
    return os.environ.get("KRYLOV_REF_DEBUG", "") not in ("", "0")


class WrongAnswer(AssertionError):
    """A check found a mistake; the message says which and how to look for it.

    ``str(exc)`` is the whole diagnosis (what nbgrader records as the error
    value); :meth:`_render_traceback_` is what a notebook shows.
    """

    #: Lines shown under the message (the student's own frames), if any.
    detail_lines: tuple = ()
    #: The misconceptions the message names (codes such as ``05.pcg.beta_from_r``).
    codes: tuple = ()

    def _render_traceback_(self):
        if _debugging():
            # IPython falls back to its full traceback when this raises.
            raise NotImplementedError("KRYLOV_REF_DEBUG is set: show the full traceback")
        label = f"{_RED}{type(self).__name__}{_RESET}: "
        lines = []
        for k, paragraph in enumerate(str(self).split("\n")):
            wrapped = textwrap.wrap(paragraph, _WIDTH, subsequent_indent="  ") or [""]
            lines.extend(wrapped if k else [label + wrapped[0], *wrapped[1:]])
        return lines + list(self.detail_lines)


class NotAllowedError(WrongAnswer):
    """The exercise called a library function that does the work for it."""


class TimeLimitExceeded(WrongAnswer):
    """The student's function did not return in time."""


class NotAnswered(WrongAnswer):
    """The exercise still raises ``NotImplementedError``."""


class StudentCodeError(WrongAnswer):
    """An exception in the student's own code (their frames are shown)."""


class CheckCrashed(WrongAnswer):
    """The check could not use what the student's function returned."""


# The code a failure is recorded under when it names no misconception.
GENERIC_CODES = {"NotAnswered": "not_answered", "NotAllowedError": "not_allowed",
                 "TimeLimitExceeded": "time_limit", "StudentCodeError": "error_in_student_code",
                 "CheckCrashed": "unexpected_output"}


def codes_of(exc):
    """The misconception codes an exception carries, through the chain of
    exceptions it was raised from (a check's report re-raises the original)."""
    codes, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        codes.extend(c for c in getattr(exc, "codes", ()) if c not in codes)
        exc = exc.__cause__ or exc.__context__
    return tuple(codes)


def _is_library_file(filename):
    path = os.path.abspath(filename)
    if path.startswith(_PACKAGE_DIR + os.sep):
        return True
    return any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS)


def student_frames(tb):
    """The frames of ``tb`` that run the student's code, innermost last.

    A frame is the student's when its file is neither part of ``krylov_ref``
    nor of the Python installation (interpreter, standard library,
    site-packages): notebook cells, and any module of their own.
    """
    frames = []
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if filename.startswith("<frozen") or _is_library_file(filename):
            continue
        frames.append((filename, lineno, frame.f_code.co_name))
    return frames


def _cell_label(filename):
    """``Cell In[7]`` for a notebook cell, else the file's name."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: no cells to name
        return os.path.basename(filename)
    shell = get_ipython()
    mapping = getattr(getattr(shell, "compile", None), "_filename_map", {}) or {}
    if filename in mapping:
        return f"Cell In[{mapping[filename]}]"
    return os.path.basename(filename)


def format_frames(frames, limit=3):
    """Two lines per frame (where, and the line of code), the last ``limit`` frames."""
    lines = []
    for filename, lineno, name in frames[-limit:]:
        lines.append(f"  {_cell_label(filename)}, line {lineno}, in {name}")
        code = linecache.getline(filename, lineno).strip()
        if code:
            lines.append(f"    {_BOLD}{code}{_RESET}")
    return lines


def where(frames):
    """``Cell In[7], line 3`` for the innermost student frame, or ''."""
    if not frames:
        return ""
    filename, lineno, _ = frames[-1]
    return f"{_cell_label(filename)}, line {lineno}"
