"""MINRES (lesson 06): Lanczos plus Givens rotations, for symmetric matrices
that may be indefinite.

MINRES minimises ``||b - A x||`` over the Krylov subspace, as GMRES does, but
the Lanczos matrix ``T`` is tridiagonal, so short recurrences suffice: three
direction vectors ``w`` instead of GMRES's growing basis. Symbols as in the
lesson (Paige and Saunders 1975): ``alpha, beta`` the Lanczos coefficients,
``cs, sn`` the rotations, ``gamma, delta, epsilon`` the entries of the
triangular factor, ``phi`` the step along ``w`` and ``phibar`` the rotated
right-hand side whose size is the residual norm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._operators import prepare_system
from .cg import _stopping_tolerance
from .krylov import BREAKDOWN_TOL
from .result import SolverResult

__all__ = ["minres", "MINRESResult"]


@dataclass(frozen=True, repr=False)
class MINRESResult(SolverResult):
    """:class:`SolverResult` with the Lanczos coefficients of MINRES.

    Attributes
    ----------
    alphas : ndarray
        Diagonal of the Lanczos matrix ``T`` (one per iteration).
    betas : ndarray
        ``betas[:-1]`` is the off-diagonal of ``T``; ``betas[-1]`` couples to
        the next Lanczos vector, as in :func:`krylov_ref.lanczos`. With a
        preconditioner ``T`` belongs to the preconditioned operator.
        Both cover the last run only (MINRES restarts, rarely, when the
        true residual disagrees with the recurrence).
    """

    alphas: np.ndarray = field(default_factory=lambda: np.empty(0))
    betas: np.ndarray = field(default_factory=lambda: np.empty(0))


def minres(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None):
    """Minimum residual method for symmetric, possibly indefinite ``A``.

    The algorithm box of lesson 06. Preconditioned Lanczos with ``s = beta q``
    kept unnormalised and ``z = M s``::

        s_1 = b - A x;  z_1 = M s_1;  beta_1 = sqrt(s_1^T z_1);  phibar = beta_1
        repeat:
            v = z_k / beta_k;   p = A v - (beta_k / beta_{k-1}) s_{k-1}
            alpha_k = v^T p;    s_{k+1} = p - (alpha_k / beta_k) s_k
            z_{k+1} = M s_{k+1};   beta_{k+1} = sqrt(s_{k+1}^T z_{k+1})
            old rotation:  delta = cs dbar + sn alpha_k;  gbar = sn dbar - cs alpha_k
                           epsilon' = sn beta_{k+1};      dbar = -cs beta_{k+1}
            new rotation:  gamma = hypot(gbar, beta_{k+1});  cs = gbar / gamma;  sn = beta_{k+1} / gamma
            phi = cs phibar;   phibar = sn phibar
            w_k = (v - epsilon w_{k-2} - delta w_{k-1}) / gamma;   x += phi w_k

    Without ``M``, ``||b - A x_k|| = |phibar|``. With ``M`` that is the
    ``M``-norm of the residual; the 2-norm used by the stopping test comes
    from one extra vector recurrence (see ``_residual_direction``).

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Symmetric matrix (definite or not), or ``v -> A v``. Symmetry is not
        checked; a non-symmetric ``A`` makes MINRES stall.
    b : ndarray, shape (n,)
        Right-hand side.
    x0 : ndarray, optional
        Starting guess (zeros by default).
    rtol, atol : float
        Stop when ``||b - A x||_2 <= max(rtol ||b||_2, atol)`` (confirmed
        with the true residual by one extra product). Either may be ``inf``:
        then ``x0`` is returned at once, converged.
    maxiter : int, optional
        Maximum number of iterations (products with A); ``10 n`` by default.
    M : ndarray, sparse matrix, LinearOperator or callable, optional
        The operator ``v -> M^{-1} v`` of a symmetric positive definite
        preconditioner ``M`` (MINRES needs a definite preconditioner even for
        indefinite ``A``; ``M`` approximates ``|A|``).
    callback : callable, optional
        Called as ``callback(x)`` after every iteration.

    Returns
    -------
    MINRESResult
        ``status`` is ``"converged"``, ``"maxiter reached"`` or
        ``"breakdown ..."`` (``M`` not positive definite or singular, or
        ``A`` singular on the Krylov subspace).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import minres
    >>> A = np.diag([-2.0, -1.0, 1.0, 3.0])
    >>> res = minres(A, np.ones(4), rtol=1e-12)
    >>> res.converged, res.iterations, np.allclose(res.x, [-1/2, -1, 1, 1/3])
    (True, 4, True)
    """
    A, b, x, M, maxiter = prepare_system(A, b, x0, M, rtol, atol, maxiter)
    tol = _stopping_tolerance(b, rtol, atol)
    if not np.any(b):
        # b = 0 has the exact solution x = 0, whatever x0 was.
        return MINRESResult(x=np.zeros_like(b), converged=True, status="converged",
                            iterations=0, residual_norms=np.zeros(1), matvecs=0)
    precondition = M if M is not None else (lambda v: v)
    r = b - A(x) if x0 is not None else b.copy()
    norms = [np.linalg.norm(r)]
    converged = bool(norms[0] <= tol)
    status = "maxiter reached"
    alphas, betas = [], []
    iterations = 0
    m_scale = 0.0                                           # max s^T M s / s^T s seen
    # Each pass of this loop is one MINRES run from the residual r. A second
    # run happens only when the recurrence claims convergence that the true
    # residual denies, or the Lanczos process stops on an invariant subspace.
    while not converged and iterations < maxiter and status == "maxiter reached":
        s_old, s = np.zeros_like(r), r
        z = precondition(s)                                 # z_1 = M s_1
        sz = s @ z
        definite, m_scale = _definite(M, s, sz, m_scale)
        if not (sz > 0 and definite):
            status = (f"breakdown: r^T M r = {sz:.3g} at step {iterations}; "
                      "the preconditioner M is not positive definite")
            break
        beta_old, beta = 0.0, np.sqrt(sz)                   # beta_1
        cs, sn, dbar, epsilon = -1.0, 0.0, 0.0, 0.0         # no rotation yet
        phibar = beta
        t_norm = 0.0                                        # largest column of T so far
        w_older, w_old = np.zeros_like(r), np.zeros_like(r)
        v, work = np.empty_like(r), np.empty_like(r)        # reused: no temporaries
        # r = phibar * direction; without M, ||direction|| = 1 throughout.
        direction = s / beta if M is not None else None
        alphas, betas = [], []
        while iterations < maxiter:
            np.divide(z, beta, out=v)                       # v_k = z_k / beta_k
            p = A(v)
            if beta_old > 0:
                p -= np.multiply(beta / beta_old, s_old, out=work)  # - beta_k q_{k-1}
            alpha = v @ p                                   # alpha_k = v_k^T A v_k
            p -= np.multiply(alpha / beta, s, out=work)     # - alpha_k q_k
            s_old, s = s, p                                 # s_{k+1} = beta_{k+1} q_{k+1}
            z = precondition(s)                             # z_{k+1} = M s_{k+1}
            sz = s @ z
            definite, m_scale = _definite(M, s, sz, m_scale)
            if sz < 0 or not definite:
                status = (f"breakdown: r^T M r = {sz:.3g} at step {iterations + 1}; "
                          "the preconditioner M is not positive definite")
                break
            beta_old, beta = beta, np.sqrt(sz)              # beta_{k+1}
            alphas.append(alpha)
            betas.append(beta)
            # Previous rotation on the new column (0, ..., beta_k, alpha_k, beta_{k+1}) of T.
            epsilon_old = epsilon
            delta = cs * dbar + sn * alpha
            gbar = sn * dbar - cs * alpha
            epsilon = sn * beta
            dbar = -cs * beta
            # New rotation, zeroing beta_{k+1}.
            gamma = np.hypot(gbar, beta)
            t_norm = max(t_norm, np.sqrt(alpha**2 + beta_old**2 + beta**2))
            if gamma <= BREAKDOWN_TOL * t_norm:
                # T is singular and the Krylov space invariant: no step is
                # possible (b is not in the range of A). Keep the last x.
                status = (f"breakdown: gamma = {gamma:.3g} at step {iterations + 1}; "
                          "A is singular on the Krylov subspace")
                break
            cs, sn = gbar / gamma, beta / gamma
            phi, phibar = cs * phibar, sn * phibar          # rotated beta_1 e_1
            # w_k = (v_k - epsilon_k w_{k-2} - delta_k w_{k-1}) / gamma_k, in the
            # storage of w_{k-2}, which is not needed any more.
            w = w_older
            w *= -epsilon_old
            w -= np.multiply(delta, w_old, out=work)
            w += v
            w /= gamma
            w_older, w_old = w_old, w
            x += np.multiply(phi, w, out=work)              # x_k = x_{k-1} + phi_k w_k
            iterations += 1
            if direction is None:
                norms.append(abs(phibar))                   # ||r_k|| = |phibar_{k+1}|
            else:
                direction = _residual_direction(direction, cs, sn, s, beta)
                norms.append(abs(phibar) * np.linalg.norm(direction))
            if callback is not None:
                callback(x)
            # beta_{k+1} ~ 0: the Krylov space is invariant and holds the solution.
            invariant = beta <= BREAKDOWN_TOL * t_norm
            if norms[-1] <= tol or invariant:
                break
        if status != "maxiter reached":
            break
        # The recurrence stopped (or ran out): ask the true residual.
        r = b - A(x)
        norms[-1] = np.linalg.norm(r)
        converged = bool(norms[-1] <= tol)
    if converged:
        status = "converged"
    return MINRESResult(
        x=x, converged=converged, status=status, iterations=iterations,
        residual_norms=np.array(norms), matvecs=A.count,
        alphas=np.array(alphas), betas=np.array(betas),
    )


def _definite(M, s, sz, m_scale):
    """Whether ``s^T M s = sz`` is safely positive for ``s != 0``, and the
    updated largest Rayleigh quotient ``m_scale`` of ``M``.

    Without ``M``, ``sz = s^T s``: nothing to check. With a singular ``M``,
    ``s^T M s`` can be zero to working precision for ``s != 0``: then
    ``beta = sqrt(s^T M s)`` is rounding noise, the next Lanczos vector
    ``z / beta`` is garbage and the residual direction grows without bound.
    """
    if M is None:
        return True, m_scale
    ss = s @ s
    if ss == 0:          # s = 0: an invariant subspace, not a fault of M
        return True, m_scale
    m_scale = max(m_scale, sz / ss)
    return bool(sz > BREAKDOWN_TOL * m_scale * ss), m_scale


def _residual_direction(direction, cs, sn, s, beta):
    """Update ``d_k = sn_k d_{k-1} - cs_k u_{k+1}``, ``u_{k+1} = s_{k+1} / beta_{k+1}``.

    The residual is ``r_k = phibar_{k+1} d_k``: the rotations turn
    ``beta_1 e_1 - T y`` into ``phibar e_{k+1}``, and ``d_k`` is the last
    rotated basis vector, ``U_{k+1} Q_k^T e_{k+1}``. Without a preconditioner
    the ``u`` are orthonormal and ``||d_k|| = 1``; with one they are
    orthonormal only in the ``M`` inner product, so ``||d_k||`` must be
    computed to report the 2-norm.
    """
    direction *= sn
    if beta > 0:
        direction -= (cs / beta) * s
    return direction
