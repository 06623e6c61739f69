"""krylov_ref: reference implementations for the course
"Krylov methods, from Lanczos to Newton-CG".

The solvers share one contract (see the README and DESIGN):
``solver(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None)``
returning a result with ``x``, ``converged``, ``status``, ``iterations`` and
``residual_norms``.

Submodules hold the lesson-specific pieces: ``problems`` (test problems),
``checks`` (grading oracles, in the notebooks), ``grading`` (the
instructor's side: nbgrader preprocessors, integrity verification, export),
``plotting``, ``ritz`` (lesson 02), ``conjugacy`` (lesson 03),
``convergence`` (lesson 04), ``precond`` (lesson 05), ``givens`` (lesson 06),
``models`` and ``newton`` (lesson 07), ``ridge`` and ``regression``
(lesson 08) and ``gp`` (lesson 09).
"""

from . import precond
from .bicgstab import bicgstab
from .cg import cg, steepest_descent
from .gmres import fgmres, gmres
from .gp import gp_nll, rbf_kernel, slq_logdet
from .krylov import arnoldi, krylov_matrix, lanczos, tridiagonal
from .minres import minres
from .models import LogisticRegression, MLPParams, TwoLayerMLP, logistic_data
from .newton import NewtonResult, hvp_fd, newton_cg
from .result import CGResult, SolverResult
from .ridge import cgls, ridge_cg

__all__ = [
    # Krylov solvers and processes
    "cg", "steepest_descent", "gmres", "fgmres", "minres", "bicgstab",
    "arnoldi", "krylov_matrix", "lanczos", "tridiagonal",
    "SolverResult", "CGResult", "precond",
    # optimisation, regression, Gaussian processes
    "newton_cg", "NewtonResult", "hvp_fd", "LogisticRegression", "TwoLayerMLP",
    "MLPParams", "logistic_data", "ridge_cg", "cgls", "slq_logdet", "gp_nll", "rbf_kernel",
]

__version__ = "0.1.0"
