"""krylov_ref: reference implementations for the course
"Krylov methods, from Lanczos to Newton-CG".

The solvers share one contract (see the README):
``solver(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None)``
returning a result with ``x``, ``converged``, ``status``, ``iterations`` and
``residual_norms``.
"""

from .cg import cg, steepest_descent
from .krylov import arnoldi, krylov_matrix, lanczos, tridiagonal
from .result import CGResult, SolverResult

__all__ = [
    "cg", "steepest_descent", "arnoldi", "krylov_matrix", "lanczos",
    "tridiagonal", "SolverResult", "CGResult",
]

__version__ = "0.1.0"
