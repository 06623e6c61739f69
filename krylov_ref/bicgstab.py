"""BiCGSTAB (lesson 06): van der Vorst's stabilised bi-conjugate gradients
for non-symmetric matrices, with short recurrences and no transpose.

Symbols as in the lesson: ``r`` the residual, ``r_hat`` the fixed shadow
residual, ``p`` the search direction, ``v = A M p``, ``t = A M s``; ``rho``,
``alpha``, ``beta`` the BiCG coefficients and ``omega`` the stabilising
minimal-residual step.

How iterations are counted: one BiCGSTAB step does two products with ``A``,
a BiCG half-step along ``M p`` and a minimal-residual half-step along
``M s``. Here each half-step counts as one iteration, so that, as for every
solver of the package, ``maxiter`` bounds the products with ``A`` and
``residual_norms`` gets one entry per product: the norm of ``s`` after the
first half, of ``r`` after the second. ``x`` is updated in both halves, so
each entry is the residual of an actual iterate. SciPy's ``bicgstab``
counts whole steps: our ``iterations`` is about twice SciPy's count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._operators import prepare_system
from .cg import DIVERGENCE_FACTOR, _divergence, _stopping_tolerance, _true_residual_confirms
from .result import SolverResult

__all__ = ["bicgstab", "BiCGSTABResult"]

# Relative size below which an inner product counts as zero: the two vectors
# are orthogonal to working precision and the recurrence cannot go on.
BREAKDOWN_TOL = np.finfo(float).eps


@dataclass(frozen=True, repr=False)
class BiCGSTABResult(SolverResult):
    """:class:`SolverResult` with the BiCGSTAB coefficients.

    ``iterations`` counts half-steps (products with A); see the module notes.

    Attributes
    ----------
    alphas : ndarray
        BiCG step lengths ``alpha_k``, one per whole step started.
    omegas : ndarray
        Minimal-residual step lengths ``omega_k``, one per whole step
        completed.
    restarts : int
        How often the shadow residual was reset to ``r`` because
        ``r_hat^T r`` vanished.
    """

    alphas: np.ndarray = field(default_factory=lambda: np.empty(0))
    omegas: np.ndarray = field(default_factory=lambda: np.empty(0))
    restarts: int = 0


def _orthogonal(uw, u_norm, w_norm):
    # u^T w is zero to working precision, given ||u|| and ||w||.
    return abs(uw) <= BREAKDOWN_TOL * u_norm * w_norm


def _annihilated(Bu_norm, u_norm, scale):
    # ||B u|| is zero to working precision against ||B|| ||u||, with ``scale``
    # the largest ||B u|| / ||u|| seen (a lower bound on ||B||); B is A M or M.
    return Bu_norm <= BREAKDOWN_TOL * scale * u_norm


def bicgstab(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None):
    """Stabilised bi-conjugate gradients, right-preconditioned.

    The algorithm box of lesson 06 (``x = x0 + M y``)::

        r = b - A x;  r_hat = r;  p = r
        repeat:
            rho = r_hat^T r
            p = r + beta (p - omega v),   beta = (rho / rho_old) (alpha / omega)
            v = A M p;   alpha = rho / r_hat^T v
            x += alpha M p;   s = r - alpha v          (half-step 1: BiCG)
            t = A M s;   omega = t^T s / t^T t
            x += omega M s;   r = s - omega t          (half-step 2: minimal residual)

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Square (possibly non-symmetric) matrix, or ``v -> A v``.
    b : ndarray, shape (n,)
        Right-hand side.
    x0 : ndarray, optional
        Starting guess (zeros by default).
    rtol, atol : float
        Stop when ``||b - A x||_2 <= max(rtol ||b||_2, atol)``, tested after
        each half-step and confirmed with the true residual. Either may be
        ``inf``: then ``x0`` is returned at once, converged.
    maxiter : int, optional
        Maximum number of products with A (half-steps, two per BiCGSTAB
        step); ``10 n`` by default.
    M : ndarray, sparse matrix, LinearOperator or callable, optional
        The operator ``v -> M^{-1} v`` of a preconditioner ``M`` that
        approximates ``A``, applied on the right.
    callback : callable, optional
        Called as ``callback(x)`` after every half-step.

    Returns
    -------
    BiCGSTABResult
        ``status`` is ``"converged"``, ``"maxiter reached"`` or
        ``"breakdown ..."`` naming the inner product that vanished, the
        product ``A M p``, ``A M s`` or ``M p`` that is zero to working
        precision (``A M`` or ``M`` singular: a huge step would send ``x``
        to infinity), or the divergence of the residual. When
        ``r_hat^T r`` vanishes the method does not stop but restarts with
        ``r_hat = r`` (counted in ``restarts``).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import bicgstab
    >>> A = np.array([[4.0, 1.0, 0.0], [-1.0, 3.0, 1.0], [0.0, -1.0, 2.0]])
    >>> res = bicgstab(A, np.ones(3), rtol=1e-10)
    >>> res.converged, np.allclose(A @ res.x, 1.0), res.matvecs == res.iterations + 1
    (True, True, True)
    """
    A, b, x, M, maxiter = prepare_system(A, b, x0, M, rtol, atol, maxiter)
    tol = _stopping_tolerance(b, rtol, atol)
    if not np.any(b):
        # b = 0 has the exact solution x = 0, whatever x0 was.
        return BiCGSTABResult(x=np.zeros_like(b), converged=True, status="converged",
                              iterations=0, residual_norms=np.zeros(1), matvecs=0)
    precondition = M if M is not None else (lambda v: v)
    r = b - A(x) if x0 is not None else b.copy()
    r_hat = r.copy()                                  # the shadow residual, fixed
    norms, alphas, omegas = [np.linalg.norm(r)], [], []
    diverging = DIVERGENCE_FACTOR * norms[0]
    r_hat_norm = norms[0]
    work = np.empty_like(b)                           # for alpha v and the like: no temporaries
    status, converged = "maxiter reached", bool(norms[0] <= tol)
    p = v = None
    rho_old = alpha = omega = 1.0
    restarts = 0
    scale = 0.0                                       # max ||A M u|| / ||M u|| seen
    m_scale = 0.0                                     # max ||M p|| / ||p|| seen
    # Whether A M p vanished needs ||M p||, a pass over a vector of its own.
    # Without M an upper bound on ||p|| usually settles it (see below).
    p_bound = v_norm = 0.0

    def finished():
        # After a half-step: stop if the residual is small and truly so;
        # otherwise continue from the true residual (the updated one drifted).
        nonlocal r
        if norms[-1] > tol:
            return False
        ok, r_true = _true_residual_confirms(A, b, x, tol)
        if not ok:
            r = r_true
            norms[-1] = np.linalg.norm(r)
        return bool(ok)

    while not converged and len(norms) - 1 < maxiter:
        rho = r_hat @ r                               # rho = r_hat^T r
        if _orthogonal(rho, r_hat_norm, norms[-1]):
            # The shadow residual is orthogonal to r, so beta would be
            # meaningless: start BiCG afresh from here with r_hat = r.
            r_hat, r_hat_norm = r.copy(), norms[-1]
            rho = r_hat @ r
            p = None
            restarts += 1
        if p is None:
            p = r.copy()                              # p = r
            p_bound = norms[-1]
        else:
            beta = (rho / rho_old) * (alpha / omega)
            p -= np.multiply(omega, v, out=work)      # p = r + beta (p - omega v)
            p *= beta
            p += r
            # ||p|| <= ||r|| + |beta| (||p_old|| + |omega| ||v||), for free.
            p_bound = norms[-1] + abs(beta) * (p_bound + abs(omega) * v_norm)
        p_hat = precondition(p)
        if M is not None:
            # A singular M lets the part of p in its null space grow
            # unchecked (v never sees it) until p overflows: stop once M p
            # is rounding noise against ||M|| ||p||.
            p_bound, p_hat_norm = np.linalg.norm(p), np.linalg.norm(p_hat)
            if p_bound > 0:
                m_scale = max(m_scale, p_hat_norm / p_bound)
            if _annihilated(p_hat_norm, p_bound, m_scale):
                status = (f"breakdown: M p = 0 to working precision at step {len(norms) - 1}; "
                          "the preconditioner M is singular")
                break
        v = A(p_hat)                                  # v = A M p
        rv = r_hat @ v
        v_norm = np.linalg.norm(v)
        if M is None and _annihilated(v_norm, p_bound, scale):
            # The bound on ||p|| = ||M p|| could not rule the breakdown out:
            # pay one pass for the true norm (rarely needed in a healthy run).
            p_bound = np.linalg.norm(p)
        p_hat_norm = p_bound if M is None else p_hat_norm
        if p_hat_norm > 0:
            scale = max(scale, v_norm / p_hat_norm)
        if _annihilated(v_norm, p_hat_norm, scale):
            # alpha M p would be a huge step that leaves r unchanged: M p is
            # a null vector of A M, and x would run off to infinity.
            status = (f"breakdown: A M p = 0 to working precision at step {len(norms) - 1}; "
                      "A M is singular")
            break
        if _orthogonal(rv, r_hat_norm, v_norm):
            status = (f"breakdown: r_hat^T A M p = {rv:.3g} at step {len(norms) - 1}; "
                      "alpha is undefined")
            break
        alpha = rho / rv                              # alpha = rho / r_hat^T v
        alphas.append(alpha)
        x += np.multiply(alpha, p_hat, out=work)      # x += alpha M p
        r -= np.multiply(alpha, v, out=work)          # s = r - alpha v
        norms.append(np.linalg.norm(r))
        if callback is not None:
            callback(x)
        converged = finished()
        if norms[-1] > diverging:
            status = _divergence(norms)
            break
        if converged or len(norms) - 1 == maxiter:
            break
        s_hat = precondition(r)
        t = A(s_hat)                                  # t = A M s
        tt = t @ t
        # Without M, s_hat is s = r, whose norm is known: no extra pass.
        s_hat_norm = norms[-1] if M is None else np.linalg.norm(s_hat)
        if s_hat_norm > 0:
            scale = max(scale, np.sqrt(tt) / s_hat_norm)
        if _annihilated(np.sqrt(tt), s_hat_norm, scale):
            status = (f"breakdown: A M s = 0 to working precision at step {len(norms) - 1} "
                      "with s != 0; A M is singular")
            break
        ts = t @ r
        omega = ts / tt                               # omega = t^T s / t^T t
        if _orthogonal(ts, np.sqrt(tt), norms[-1]):
            status = (f"breakdown: omega = t^T s / t^T t = {omega:.3g} at step "
                      f"{len(norms) - 1}; the minimal-residual step stagnates")
            break
        omegas.append(omega)
        x += np.multiply(omega, s_hat, out=work)      # x += omega M s
        r -= np.multiply(omega, t, out=work)          # r = s - omega t
        norms.append(np.linalg.norm(r))
        if callback is not None:
            callback(x)
        converged = finished()
        if norms[-1] > diverging:
            status = _divergence(norms)
            break
        rho_old = rho
    if converged:
        status = "converged"
    return BiCGSTABResult(
        x=x, converged=converged, status=status, iterations=len(norms) - 1,
        residual_norms=np.array(norms), matvecs=A.count,
        alphas=np.array(alphas), omegas=np.array(omegas), restarts=restarts,
    )
