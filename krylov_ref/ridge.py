"""Ridge regression and damped least squares by conjugate gradients (lesson 08).

Two ways to run CG on the normal equations ``(X^T X + lam I) beta = X^T y``
without ever forming ``X^T X``:

* :func:`ridge_cg` hands the product ``v -> X^T (X v) + lam v`` to
  :func:`krylov_ref.cg`;
* :func:`cgls` is the same iteration rearranged so that it updates the
  least-squares residual ``r = y - X beta`` and only ever multiplies by ``X``
  and ``X^T``. Forming ``X^T X`` squares the condition number,
  ``kappa(X^T X) = kappa(X)^2``; CGLS does not round through ``X^T X`` and so
  keeps more accuracy on ill-conditioned ``X``.

Both count their work in pairs: one product with ``X`` and one with ``X^T``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from ._operators import Operator, as_vector, check_tolerances
from .cg import cg
from .result import CGResult

__all__ = ["ridge_cg", "cgls"]


def _as_data_matrix(X):
    """``X`` as a finite real 2-D float array, or a CSR array when sparse."""
    if sp.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D matrix (samples x features), got shape {X.shape}")
        if np.iscomplexobj(X.data):
            raise ValueError("X must be real; complex matrices are not supported")
        X = sp.csr_array(X, dtype=float)
        data = X.data
    else:
        X = np.asarray(X)
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"X must be numeric, got dtype {X.dtype}")
        if np.iscomplexobj(X):
            raise ValueError("X must be real; complex matrices are not supported")
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D matrix (samples x features), got shape {X.shape}")
        X = X.astype(float, copy=False)
        data = X
    if not np.all(np.isfinite(data)):
        raise ValueError("X contains NaN or inf")
    return X


def _nonnegative(value, name):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not np.isfinite(value) or value < 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _prepare(X, y, x0, rtol, atol, maxiter):
    check_tolerances(rtol, atol, maxiter)
    X = _as_data_matrix(X)
    m, n = X.shape
    y_arr = np.asarray(y)
    if y_arr.ndim == 0:
        raise ValueError(f"y must be a vector, got a scalar {y!r}")
    if y_arr.shape[0] != m:
        raise ValueError(
            f"X has {m} rows (samples) but y has length {y_arr.shape[0]}: they must match"
        )
    y = as_vector(y, m, "y")
    beta = np.zeros(n) if x0 is None else as_vector(x0, n, "x0")
    if maxiter is None:
        maxiter = 10 * n
    return X, y, beta, maxiter


def ridge_cg(X, y, lam, *, x0=None, rtol=1e-5, atol=0.0, maxiter=None, callback=None):
    """Ridge regression by CG on the normal equations, without forming ``X^T X``.

    Solves ``(X^T X + lam I) beta = X^T y``, the minimiser of
    ``||X beta - y||^2 + lam ||beta||^2``, with :func:`krylov_ref.cg` and the
    product ``v -> X^T (X v) + lam v`` (two products with ``X`` per
    iteration, never the ``n x n`` matrix ``X^T X``).

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (m, n)
        Data matrix, one sample per row.
    y : ndarray, shape (m,)
        Targets.
    lam : float
        Regularisation parameter ``lam >= 0``. With ``lam = 0`` and
        rank-deficient ``X``, CG from ``x0 = 0`` still converges, to the
        minimum-norm least-squares solution.
    x0 : ndarray, shape (n,), optional
        Starting guess (zeros by default), e.g. the solution for a nearby
        ``lam`` along a regularisation path (a warm start).
    rtol, atol : float
        Stop when the residual *of the normal equations* is small:
        ``||X^T y - (X^T X + lam I) beta||_2 <= max(rtol ||X^T y||_2, atol)``.
        This is not the least-squares residual ``||y - X beta||``, which does
        not go to zero. Either may be ``inf`` (stop at once, converged).
    maxiter : int, optional
        Maximum number of CG iterations; ``10 n`` by default.
    callback : callable, optional
        Called as ``callback(beta)`` after every iteration.

    Returns
    -------
    CGResult
        ``residual_norms`` are normal-equations residuals; ``matvecs`` counts
        products with ``X^T X + lam I``, i.e. pairs of products with ``X``
        and ``X^T``.

    Raises
    ------
    ValueError
        If ``X`` is not a finite real matrix, ``y`` does not have one entry
        per row of ``X``, or ``lam`` is negative.

    See Also
    --------
    cgls : the same iterates computed without rounding through ``X^T X``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.ridge import ridge_cg
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> res = ridge_cg(X, y, lam=0.5, rtol=1e-12)
    >>> exact = np.linalg.solve(X.T @ X + 0.5 * np.eye(2), X.T @ y)
    >>> bool(res.converged), np.allclose(res.x, exact)
    (True, True)
    """
    lam = _nonnegative(lam, "lam")
    X, y, beta, maxiter = _prepare(X, y, x0, rtol, atol, maxiter)

    def normal_matvec(v):
        # (X^T X + lam I) v as two thin products: O(nnz(X)) work, no n x n matrix.
        return X.T @ (X @ v) + lam * v

    A = Operator(normal_matvec, X.shape[1], name="X^T X + lam I")
    return cg(A, X.T @ y, beta if x0 is not None else None, rtol=rtol, atol=atol,
              maxiter=maxiter, callback=callback)


def cgls(X, y, damp=0.0, *, x0=None, rtol=1e-5, atol=0.0, maxiter=None, callback=None):
    """CGLS: damped least squares by CG on the normal equations, in the
    numerically better least-squares form.

    Minimises ``||X beta - y||^2 + damp^2 ||beta||^2``. In exact arithmetic
    the iterates are those of CG on ``(X^T X + damp^2 I) beta = X^T y``
    (:func:`ridge_cg` with ``lam = damp^2``), but the residual
    ``r = y - X beta`` is updated instead of the normal-equations residual
    ``s = X^T r - damp^2 beta`` (Hestenes-Stiefel, Bjorck)::

        r = y - X beta;  s = X^T r - damp^2 beta;  p = s;  gamma = s^T s
        repeat:
            q = X p
            alpha = gamma / (q^T q + damp^2 p^T p)
            beta += alpha p;   r -= alpha q
            s = X^T r - damp^2 beta
            gamma_new = s^T s;   p = s + (gamma_new / gamma) p

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (m, n)
        Data matrix, one sample per row.
    y : ndarray, shape (m,)
        Targets.
    damp : float
        Damping ``damp >= 0``; the ridge parameter is ``lam = damp^2``, as
        in :func:`scipy.sparse.linalg.lsqr`.
    x0 : ndarray, shape (n,), optional
        Starting guess (zeros by default).
    rtol, atol : float
        Stop when the normal-equations residual is small:
        ``||X^T (y - X beta) - damp^2 beta||_2 <= max(rtol ||X^T y||_2, atol)``
        (confirmed by recomputing it from ``beta``, one more pair of products).
        Either may be ``inf`` (stop at once, converged).
    maxiter : int, optional
        Maximum number of iterations; ``10 n`` by default.
    callback : callable, optional
        Called as ``callback(beta)`` after every iteration.

    Returns
    -------
    CGResult
        ``residual_norms`` are the normal-equations residuals ``||s_k||``;
        ``matvecs`` counts pairs of products (one with ``X``, one with
        ``X^T``), as for :func:`ridge_cg`.

    Raises
    ------
    ValueError
        If ``X`` is not a finite real matrix, ``y`` does not have one entry
        per row of ``X``, or ``damp`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.ridge import cgls
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> res = cgls(X, y, damp=0.0, rtol=1e-12)
    >>> res.converged, res.iterations, np.allclose(res.x, np.linalg.lstsq(X, y)[0])
    (True, 2, True)
    """
    damp = _nonnegative(damp, "damp")
    X, y, beta, maxiter = _prepare(X, y, x0, rtol, atol, maxiter)
    d2 = damp ** 2
    pairs = 0

    def residuals(beta):
        # r = y - X beta and s = X^T r - damp^2 beta, from scratch: one pair.
        nonlocal pairs
        pairs += 1
        r = y - X @ beta
        return r, X.T @ r - d2 * beta

    Xty = X.T @ y
    tol = max(rtol * np.linalg.norm(Xty), atol)
    if not np.any(Xty):
        # X^T y = 0: beta = 0 minimises (the minimum-norm minimiser when damp = 0).
        return CGResult(x=np.zeros_like(beta), converged=True, status="converged",
                        iterations=0, residual_norms=np.zeros(1), matvecs=0)
    if x0 is None:
        r, s = y.copy(), Xty
    else:
        r, s = residuals(beta)
    p = s.copy()
    gamma = s @ s
    norms, alphas, betas = [np.sqrt(gamma)], [], []
    status, converged = "maxiter reached", False
    for k in range(maxiter + 1):
        if norms[-1] <= tol:
            if k > 0:
                # The updated r drifts from y - X beta: check the real residual.
                r, s = residuals(beta)
                gamma = s @ s
                norms[-1] = np.sqrt(gamma)
            if norms[-1] <= tol:
                status, converged = "converged", True
                break
            p = s.copy()  # restart from the true residual
        if k == maxiter:
            break
        q = X @ p
        delta = q @ q + d2 * (p @ p)
        pairs += 1
        if delta <= 0:
            status = f"breakdown: ||X p||^2 + damp^2 ||p||^2 = {delta:.3g} at step {k}"
            break
        alpha = gamma / delta
        beta += alpha * p
        r -= alpha * q
        s = X.T @ r - d2 * beta
        gamma_new = s @ s
        beta_k = gamma_new / gamma  # CG's beta; the vector beta holds the coefficients
        p *= beta_k
        p += s
        gamma = gamma_new
        norms.append(np.sqrt(gamma))
        alphas.append(alpha)
        betas.append(beta_k)
        if callback is not None:
            callback(beta)
    return CGResult(
        x=beta, converged=converged, status=status, iterations=len(alphas),
        residual_norms=np.array(norms), matvecs=pairs,
        alphas=np.array(alphas), betas=np.array(betas),
    )
