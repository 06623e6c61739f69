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


def _stopping_tolerance(b, rtol, atol):
    # SciPy >= 1.12 semantics: absolute floor, relative to ||b||, unpreconditioned.
    return max(rtol * np.linalg.norm(b), atol)


def _true_residual_confirms(A, b, x, tol):
    # The updated residual drifts from b - A x in floating point (lesson 04):
    # before claiming success, pay one product and check the real thing.
    r_true = b - A(x)
    return bool(np.linalg.norm(r_true) <= tol), r_true


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
        Stop when ``||b - A x||_2 <= max(rtol ||b||_2, atol)``.
    maxiter : int, optional
        Maximum number of iterations (products with A); ``10 n`` by default.
    callback : callable, optional
        Called as ``callback(x)`` after every iteration.

    Returns
    -------
    SolverResult

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
        alpha = rr / rq
        x += alpha * r
        r -= alpha * q
        norms.append(np.linalg.norm(r))
        if callback is not None:
            callback(x)
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
        unpreconditioned residual; confirmed by one extra product).
    maxiter : int, optional
        Maximum number of iterations (products with A); ``10 n`` by default.
    M : ndarray, sparse matrix, LinearOperator or callable, optional
        Symmetric positive definite approximation of ``A^{-1}``.
    callback : callable, optional
        Called as ``callback(x)`` after every iteration.

    Returns
    -------
    CGResult
        With ``alphas`` and ``betas``. When ``p^T A p <= 0`` the solve stops,
        ``converged`` is False and ``status`` names the negative curvature.

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
    # alpha p and alpha A p are formed here rather than in fresh temporaries:
    # at n = 10^6 each vector is 8 MB, and the vector updates, not the
    # arithmetic, are what an iteration spends outside the product with A.
    work = np.empty_like(b)
    norms, alphas, betas = [np.linalg.norm(r)], [], []
    status, converged = "maxiter reached", False
    for k in range(maxiter + 1):
        if norms[-1] <= tol:
            converged, r_true = _true_residual_confirms(A, b, x, tol) if k else (True, r)
            if converged:
                status = "converged"
                break
            # The updated residual lied: continue from the true one.
            r = r_true
            z = M(r) if M is not None else r
            rz = r @ z
            norms[-1] = np.linalg.norm(r)
        if k == maxiter:
            break
        if M is not None and rz <= 0:
            status = (f"breakdown: r^T M r = {rz:.3g} at step {k}; "
                      "the preconditioner M is not positive definite")
            break
        q = A(p)
        pq = p @ q
        if pq <= 0:
            status = (f"negative curvature: p^T A p = {pq:.3g} at step {k}; "
                      "A is not positive definite")
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
        # Without M, z is r and r^T z is ||r||^2 already: no second pass over r.
        norms.append(np.sqrt(rz) if M is None else np.linalg.norm(r))
        alphas.append(alpha)
        betas.append(beta)
        if callback is not None:
            callback(x)
    return CGResult(
        x=x, converged=converged, status=status, iterations=len(alphas),
        residual_norms=np.array(norms), matvecs=A.count,
        alphas=np.array(alphas), betas=np.array(betas),
    )
