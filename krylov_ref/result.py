"""What every solver returns: a frozen result that says why it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SolverResult:
    """Outcome of an iterative solve.

    Attributes
    ----------
    x : ndarray
        The last iterate (for GMRES after a breakdown, the best one reached).
        Always finite: a solver stops with a breakdown rather than overflow.
    converged : bool
        True when ``||b - A x|| <= max(rtol ||b||, atol)`` was reached.
    status : str
        Why the solver stopped: ``"converged"``, ``"maxiter reached"``,
        ``"negative curvature ..."``, ``"breakdown ..."`` (an inner product
        or a pivot zero to working precision, a singular ``A`` or ``M``, a
        diverging residual; the rest of the text says which).
    iterations : int
        Number of iterations (one product with A each).
    residual_norms : ndarray
        ``||r_k||_2`` for k = 0..iterations, the initial residual first;
        always finite.
    matvecs : int
        Products with A, including the initial residual and checks of the
        true residual.
    """

    x: np.ndarray
    converged: bool
    status: str
    iterations: int
    residual_norms: np.ndarray
    matvecs: int

    def __repr__(self):
        return (
            f"{type(self).__name__}(status={self.status!r}, iterations={self.iterations}, "
            f"final residual={self.residual_norms[-1]:.3e})"
        )


@dataclass(frozen=True, repr=False)
class CGResult(SolverResult):
    """:class:`SolverResult` with CG's step lengths.

    Attributes
    ----------
    alphas : ndarray
        Step lengths ``alpha_k`` (one per iteration).
    betas : ndarray
        Direction updates ``beta_k`` (one per iteration).
    """

    alphas: np.ndarray = field(default_factory=lambda: np.empty(0))
    betas: np.ndarray = field(default_factory=lambda: np.empty(0))
