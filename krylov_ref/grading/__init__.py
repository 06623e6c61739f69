"""The instructor's side of grading: nbgrader preprocessors, the integrity
verification of autograded notebooks, the static screen, the grade export
with integrity flags, and the course folder's set-up.

Only instructors' tools import this package; it needs nbgrader. The
student's side (the checks that run in the notebook) is
:mod:`krylov_ref.checks`.
"""
