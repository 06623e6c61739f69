"""Named misconceptions: what students get wrong, exercise by exercise.

Each lesson's checks module (``krylov_ref.checks.lessonNN``) declares
``MISCONCEPTIONS``, a dict from a stable code to ``(description, section)``:

* the code is ``NN.exercise.name``, e.g. ``05.pcg.beta_from_r``;
* the description is one line, for the instructor's report;
* the section is the heading (without the ``#``) of the lesson section that
  explains the point, which the report and the feedback link to.

A failing check names the misconception in its message (see
:func:`krylov_ref.checks.mistake`), and when the notebook is autograded
the codes are sealed and recorded in the cell's metadata
(:mod:`krylov_ref.grading.verify`). The test tree keeps, for every code, a
concrete wrong variant of the solution (``tests/misconceptions/lessonNN.py``,
a list ``VARIANTS`` of :class:`Variant`), which ``make misconceptions``
(``scripts/misconceptions.py``) grades.

Failures that name no misconception are recorded under a generic code
(:data:`GENERIC`).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

__all__ = ["Variant", "GENERIC", "catalogue", "section_anchor", "describe"]

# Codes for failures that are not a named misconception, with their description.
GENERIC = {
    "not_answered": "not answered (the stub still raises NotImplementedError)",
    "not_allowed": "called a library function the exercise does not allow",
    "time_limit": "did not return within the time limit",
    "error_in_student_code": "the function raised an exception",
    "unexpected_output": "returned something the contract does not describe",
    "cell_timeout": "the test cell ran past the cell time limit",
    "kernel_stopped": "the kernel was stopped before or during the test",
    "integrity": "the test did not run the course's checks unmodified",
    "unrecognised": "a wrong answer that no catalogued misconception describes",
}


@dataclass(frozen=True)
class Variant:
    """A concrete wrong answer, the misconception it stands for, and where it must fail.

    Exactly one of ``patch`` (pairs ``(old, new)``, each ``old`` found exactly
    once in the solution's answer cell) and ``source`` (a whole answer cell).

    Parameters
    ----------
    code : str
        The misconception, ``NN.exercise.name``.
    patch : tuple of (str, str)
        Replacements that turn the solution into the wrong variant.
    source : str
        The whole wrong answer cell, instead of ``patch``.
    test : {"visible", "hidden"}
        The first test the variant must fail.
    why_hidden : str
        Why the visible test cannot see this mistake (required for "hidden").
    also : tuple of str
        Codes of mistakes this one cannot be told apart from: the message
        names them together.
    generic : str
        Why the message cannot name this mistake, if it cannot.
    """

    code: str
    patch: tuple = ()
    source: str = ""
    test: str = "visible"
    why_hidden: str = ""
    also: tuple = ()
    generic: str = ""

    @property
    def exercise(self):
        return self.code.split(".")[1]

    def answer(self, solution):
        """The wrong answer cell, from the solution's."""
        if self.source:
            return self.source
        text = solution
        for old, new in self.patch:
            count = text.count(old)
            if count != 1:
                raise ValueError(f"{self.code}: the patch's {old!r} occurs {count} times in the "
                                 "solution (it must occur exactly once)")
            text = text.replace(old, new)
        if text == solution:
            raise ValueError(f"{self.code}: the variant is the solution")
        return text


def catalogue(lesson):
    """code -> (description, section) for lesson ``lesson`` (``"05"`` or ``"05_preconditioning"``)."""
    number = str(lesson).split("_", 1)[0]
    module = importlib.import_module(f"krylov_ref.checks.lesson{number}")
    return dict(getattr(module, "MISCONCEPTIONS", {}))


def describe(code, lesson=None):
    """(description, section) of any code, generic ones included."""
    if code in GENERIC:
        return GENERIC[code], ""
    number = lesson or code.split(".", 1)[0]
    return catalogue(number).get(code, ("(not in the catalogue)", ""))


def section_anchor(heading):
    """The anchor of a heading in the lesson pages (``#2.2 Preconditioned CG``
    -> ``22-preconditioned-cg``): lower case, punctuation dropped, spaces to
    hyphens, as the course's web book and GitHub write it.

    >>> section_anchor("2.2 Preconditioned CG (PCG)")
    '22-preconditioned-cg-pcg'
    """
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return re.sub(r" ", "-", text)
