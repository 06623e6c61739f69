"""Steepest descent (lesson 01) and the conjugate gradient method (lesson 03).

Both read like the algorithm boxes of the lessons and use their symbols:
``r`` residual, ``p`` search direction, ``alpha`` step length, ``beta``
direction update, ``z = M r`` the preconditioned residual.
"""

from __future__ import annotations

import numpy as np

from ._operators import prepare_system
from .result import CGResult, SolverResult

__all__ = ["steepest_descent", "cg"]

# A curvature p^T A p below this fraction of the largest seen so far (both
# per unit length of p) is zero to working precision: A is singular on p.
# Rounding errors in computing it are of this order.
ZERO_CURVATURE = np.finfo(float).eps

# The recurrences' rounding errors grow like eps * max_k ||r_k||. A residual
# this many times its initial norm leaves them larger than ||r_0||: no later
# iterate can be trusted to improve on x_0, so the run is stopped as diverged
# instead of being left to overflow.
DIVERGENCE_FACTOR = 1.0 / np.finfo(float).eps


def _stopping_tolerance(b, rtol, atol):
    # SciPy >= 1.12 semantics: absolute floor, relative to ||b||, unpreconditioned.
    # rtol may be inf; with b = 0 the relative part is 0, not inf * 0 = NaN.
    norm_b = np.linalg.norm(b)
    return max(rtol * norm_b if norm_b > 0 else 0.0, atol)


def _true_residual_confirms(A, b, x, tol):
    # The updated residual drifts from b - A x in floating point (lesson 04):
    # before claiming success, pay one product and check the real thing.
    r_true = b - A(x)
    return bool(np.linalg.norm(r_true) <= tol), r_true


def _divergence(norms):
    """The status of a run stopped because ``norms[-1] > DIVERGENCE_FACTOR * norms[0]``."""
    return (f"breakdown: divergence, ||r|| grew to {norms[-1] / norms[0]:.1e} times "
            f"||r_0|| at step {len(norms) - 1}; rounding errors now exceed ||r_0||")


def steepest_descent(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, callback=None):
    """Steepest descent with exact line search for SPD ``A``.

    Minimises ``f(x) = 1/2 x^T A x - b^T x`` by stepping along the residual
    ``r = b - A x = -grad f(x)`` with the exact step ``alpha = r^T r / r^T A r``
    (lesson 01).

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Symmetric positive definite matrix, or ``v -> A v``.
    b : ndarray, shape (n,)
        Right-hand side.
    x0 : ndarray, optional
        Starting guess (zeros by default).
    rtol, atol : float
        Stop when ``||b - A x||_2 <= max(rtol ||b||_2, atol)``. Either may
        be ``inf``: then ``x0`` is returned at once, converged.
    maxiter : int, optional
        Maximum number of iterations (products with A); ``10 n`` by default.
    callback : callable, optional
        Called as ``callback(x)`` after every iteration.

    Returns
    -------
    SolverResult
        ``status`` is ``"converged"``, ``"maxiter reached"``, ``"negative
        curvature ..."`` when ``r^T A r <= 0``, or ``"breakdown ..."`` when
        ``r^T A r`` is zero to working precision (``A`` singular) or the
        residual diverged (``A`` indefinite). ``x`` is then the last iterate;
        it and ``residual_norms`` are always finite.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import steepest_descent
    >>> A = np.array([[3.0, 1.0], [1.0, 2.0]])
    >>> res = steepest_descent(A, np.array([1.0, 0.0]), rtol=1e-10, maxiter=100)
    >>> res.converged, np.allclose(A @ res.x, [1.0, 0.0])
    (True, True)
    """
    A, b, x, _, maxiter = prepare_system(A, b, x0, None, rtol, atol, maxiter)
    tol = _stopping_tolerance(b, rtol, atol)
    r = b - A(x) if x0 is not None else b.copy()
    norms = [np.linalg.norm(r)]
    status = "maxiter reached"
    converged = False
    largest_curvature = 0.0                     # max of r^T A r / r^T r so far
    diverging = DIVERGENCE_FACTOR * norms[0]
    for k in range(maxiter + 1):
        if norms[-1] <= tol:
            converged, r = _true_residual_confirms(A, b, x, tol) if k else (True, r)
            if converged:
                status = "converged"
                break
            norms[-1] = np.linalg.norm(r)
        if k == maxiter:
            break
        q = A(r)
        rr = r @ r
        rq = r @ q
        if rq <= 0:
            status = f"negative curvature: r^T A r = {rq:.3g} at step {k}; A is not positive definite"
            break
        largest_curvature = max(largest_curvature, rq / rr)
        if rq <= ZERO_CURVATURE * largest_curvature * rr:
            # alpha = rr / rq would be huge: a step to infinity along r.
            status = (f"breakdown: r^T A r = {rq:.3g} is zero to working precision at step {k}; "
                      "A is singular (b is not in its range) or not positive definite")
            break
        alpha = rr / rq
        x += alpha * r
        r -= alpha * q
        norms.append(np.linalg.norm(r))
        if callback is not None:
            callback(x)
        if norms[-1] > diverging:
            status = _divergence(norms)
            break
    return SolverResult(
        x=x, converged=converged, status=status, iterations=len(norms) - 1,
        residual_norms=np.array(norms), matvecs=A.count,
    )


def cg(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None):
    """Conjugate gradients, preconditioned when ``M`` is given.

    The algorithm box of lessons 03 and 05::

        r = b - A x;  z = M r;  p = z
        repeat:
            alpha = r^T z / p^T A p
            x += alpha p;   r -= alpha A p
            z = M r;   beta = r_new^T z_new / r^T z
            p = z + beta p

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Symmetric positive definite matrix, or ``v -> A v``.
    b : ndarray, shape (n,)
        Right-hand side.
    x0 : ndarray, optional
        Starting guess (zeros by default).
    rtol, atol : float
        Stop when ``||b - A x||_2 <= max(rtol ||b||_2, atol)`` (the true,
        unpreconditioned residual; confirmed by one extra product, and when
        the true residual denies it CG restarts from that residual). Either
        may be ``inf``: then ``x0`` is returned at once, converged.
    maxiter : int, optional
        Maximum number of iterations (products with A); ``10 n`` by default.
    M : ndarray, sparse matrix, LinearOperator or callable, optional
        The operator ``v -> M^{-1} v`` of a symmetric positive definite
        preconditioner ``M`` that approximates ``A`` (SciPy's convention for
        ``M=``; lesson 05).
    callback : callable, optional
        Called as ``callback(x)`` after every iteration.

    Returns
    -------
    CGResult
        With ``alphas`` and ``betas``. When ``p^T A p <= 0`` the solve stops,
        ``converged`` is False and ``status`` names the negative curvature.
        ``status`` starts with ``"breakdown"`` when ``M`` is not positive
        definite, when ``p^T A p`` is zero to working precision (``A`` is
        singular on the Krylov subspace: ``b`` is not in the range of a
        singular ``A``), or when the residual diverged. ``x`` is then the
        last iterate; it and ``residual_norms`` are always finite.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import cg
    >>> A = np.diag([1.0, 2.0, 3.0])
    >>> res = cg(A, np.ones(3), rtol=1e-12)
    >>> res.converged, res.iterations, np.allclose(res.x, [1, 1/2, 1/3])
    (True, 3, True)
    """
    A, b, x, M, maxiter = prepare_system(A, b, x0, M, rtol, atol, maxiter)
    tol = _stopping_tolerance(b, rtol, atol)
    if not np.any(b):
        # b = 0 has the exact solution x = 0, whatever x0 was.
        return CGResult(x=np.zeros_like(b), converged=True, status="converged",
                        iterations=0, residual_norms=np.zeros(1), matvecs=0)
    r = b - A(x) if x0 is not None else b.copy()
    z = M(r) if M is not None else r
    rz = r @ z
    p = z.copy()
    # ||p||^2 in the inner product of the preconditioner M (the 2-norm
    # without one), by its recurrence: p_k = z_k + beta p_{k-1} with
    # r_k^T p_{k-1} = 0 and z_k = M^{-1} r_k gives
    # p_k^T M p_k = r_k^T z_k + beta^2 p_{k-1}^T M p_{k-1}. It
    # measures p^T A p per unit length without another pass over p.
    pp = rz
    largest_curvature = 0.0                         # max of p^T A p / pp so far
    # alpha p and alpha A p are formed here rather than in fresh temporaries:
    # at n = 10^6 each vector is 8 MB, and the vector updates, not the
    # arithmetic, are what an iteration spends outside the product with A.
    work = np.empty_like(b)
    norms, alphas, betas = [np.linalg.norm(r)], [], []
    diverging = DIVERGENCE_FACTOR * norms[0]
    status, converged = "maxiter reached", False
    for k in range(maxiter + 1):
        if norms[-1] <= tol:
            converged, r_true = _true_residual_confirms(A, b, x, tol) if k else (True, r)
            if converged:
                status = "converged"
                break
            # The updated residual lied: restart from the true one. p was
            # scaled for the updated residual, which can be far smaller, so
            # it is replaced too (alpha would otherwise be enormous).
            r = r_true
            z = M(r) if M is not None else r
            rz = r @ z
            p = z.copy()
            pp = rz
            norms[-1] = np.linalg.norm(r)
        if k == maxiter:
            break
        if M is not None and rz == 0 and norms[-1] > 0:
            # A positive definite M gives r^T M r > 0 for r != 0: exactly 0
            # means it underflowed, far below any attainable accuracy.
            status = (f"breakdown: r^T M r underflowed to 0 at step {k} (||r|| = "
                      f"{norms[-1]:.3g}); the iteration cannot go on")
            break
        if M is not None and rz < 0:
            status = (f"breakdown: r^T M r = {rz:.3g} at step {k}; "
                      "the preconditioner M is not positive definite")
            break
        q = A(p)
        pq = p @ q
        if pq <= 0:
            status = (f"negative curvature: p^T A p = {pq:.3g} at step {k}; "
                      "A is not positive definite")
            break
        largest_curvature = max(largest_curvature, pq / pp)
        if pq <= ZERO_CURVATURE * largest_curvature * pp:
            # T_k is singular: alpha = r^T z / p^T A p would step to infinity.
            status = (f"breakdown: p^T A p = {pq:.3g} is zero to working precision at step {k}; "
                      "A is singular on the Krylov subspace (b is not in its range)")
            break
        alpha = rz / pq
        x += np.multiply(alpha, p, out=work)        # x += alpha p
        r -= np.multiply(alpha, q, out=work)        # r -= alpha A p
        z = M(r) if M is not None else r
        rz_new = r @ z
        beta = rz_new / rz
        p *= beta                                   # p = z + beta p, in place
        p += z
        rz = rz_new
        pp = rz + beta**2 * pp
        # Without M, z is r and r^T z is ||r||^2 already: no second pass over r.
        norms.append(np.sqrt(rz) if M is None else np.linalg.norm(r))
        alphas.append(alpha)
        betas.append(beta)
        if callback is not None:
            callback(x)
        if norms[-1] > diverging:
            status = _divergence(norms)
            break
    return CGResult(
        x=x, converged=converged, status=status, iterations=len(alphas),
        residual_norms=np.array(norms), matvecs=A.count,
        alphas=np.array(alphas), betas=np.array(betas),
    )
