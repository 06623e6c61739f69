"""Conjugacy (lesson 03): Gram-Schmidt in the A-inner product, the method of
conjugate directions built from successive gradients, and the Lanczos matrix
``T_k`` rebuilt from the step lengths of CG.

The A-inner product of an SPD matrix ``A`` is ``<u, v>_A = u^T A v``; two
vectors are *conjugate* (A-orthogonal) when ``u^T A v = 0``.
"""

from __future__ import annotations

import numpy as np

from ._operators import as_operator, as_vector
from .krylov import tridiagonal

__all__ = ["a_orthogonalize", "conjugate_directions", "lanczos_from_cg"]


def _curvature(p, Ap, j, scale):
    # p^T A p for a new direction, refusing a direction that (numerically)
    # vanished and a matrix that is not positive definite on it.
    if np.linalg.norm(p) <= 1e-12 * scale:
        raise ValueError(f"direction {j} vanished: the vectors are linearly dependent")
    pAp = p @ Ap
    if not pAp > 0:
        raise ValueError(
            f"p^T A p = {pAp:.3g} <= 0 for direction {j}: A is not positive definite")
    return pAp


def a_orthogonalize(A, V):
    """Gram-Schmidt in the A-inner product (modified Gram-Schmidt).

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Symmetric positive definite matrix, or ``v -> A v``.
    V : ndarray, shape (n, m)
        Linearly independent columns ``v_0 .. v_{m-1}``.

    Returns
    -------
    P : ndarray, shape (n, m)
        ``p_j = v_j - sum_{i<j} (p_i^T A v_j / p_i^T A p_i) p_i``: ``P^T A P``
        is diagonal and ``P[:, :j]`` spans the same space as ``V[:, :j]`` for
        every ``j``. The columns are not normalised (``P = V U`` with ``U``
        unit upper triangular). One product with ``A`` per column.

    Raises
    ------
    ValueError
        If the columns are (numerically) linearly dependent or ``A`` is not
        positive definite on them.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.conjugacy import a_orthogonalize
    >>> A = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> P = a_orthogonalize(A, np.eye(2))
    >>> P
    array([[ 1. , -0.5],
           [ 0. ,  1. ]])
    >>> P.T @ A @ P
    array([[2. , 0. ],
           [0. , 1.5]])
    """
    V = np.asarray(V, dtype=float)
    if V.ndim != 2:
        raise ValueError(f"V must be a matrix (n, m), got shape {V.shape}")
    A = as_operator(A, V.shape[0], "A")
    if not np.all(np.isfinite(V)):
        raise ValueError("V contains NaN or inf")
    n, m = V.shape
    P = V.copy()
    AP = np.empty((n, m))
    pAp = np.empty(m)
    for j in range(m):
        scale = np.linalg.norm(V[:, j])
        for i in range(j):  # modified Gram-Schmidt: one projection at a time
            P[:, j] -= (AP[:, i] @ P[:, j]) / pAp[i] * P[:, i]
        AP[:, j] = A(P[:, j])
        pAp[j] = _curvature(P[:, j], AP[:, j], j, scale)
    return P


def conjugate_directions(A, b, x0=None):
    """Conjugate directions from successive gradients, kept in full.

    ``n`` steps of exact line search along directions obtained by
    Gram-Schmidt in the A-inner product from the residuals (negative
    gradients) ``r_k = b - A x_k``::

        r_0 = b - A x_0
        for k = 0, ..., n-1:
            p_k = r_k - sum_{j<k} (p_j^T A r_k / p_j^T A p_j) p_j
            alpha_k = r_k^T p_k / p_k^T A p_k
            x_{k+1} = x_k + alpha_k p_k;   r_{k+1} = r_k - alpha_k A p_k

    In exact arithmetic ``x_n = A^{-1} b``; the Gram-Schmidt coefficients
    with ``j < k - 1`` vanish (which is what turns this into CG, lesson 03).

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Symmetric positive definite matrix, or ``v -> A v``.
    b : ndarray, shape (n,)
    x0 : ndarray, optional
        Starting guess (zeros by default).

    Returns
    -------
    x : ndarray, shape (n,)
        The iterate after ``n`` steps.
    P : ndarray, shape (n, n)
        The directions ``p_0 .. p_{n-1}`` as columns (not normalised,
        ``p_0 = r_0``). Fewer columns only if a residual is exactly zero.

    Notes
    -----
    One product with ``A`` per step (``A p_j`` is stored with ``p_j``), plus
    one for the initial residual when ``x0`` is given. The storage and the
    work of the Gram-Schmidt loop grow with every step: ``O(n^2)`` vectors
    operations in all, against ``O(n)`` for CG.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.conjugacy import conjugate_directions
    >>> A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]])
    >>> x, P = conjugate_directions(A, np.array([1.0, 2.0, 3.0]))
    >>> np.allclose(A @ x, [1.0, 2.0, 3.0])
    True
    >>> C = P.T @ A @ P
    >>> np.allclose(C, np.diag(np.diag(C)))
    True
    """
    b_arr = np.asarray(b)
    if b_arr.ndim == 0:
        raise ValueError("b must be a vector")
    A = as_operator(A, b_arr.shape[0], "A")
    b = as_vector(b, A.n, "b")
    n = A.n
    x = np.zeros(n) if x0 is None else as_vector(x0, n, "x0")
    r = b - A(x) if x0 is not None else b.copy()
    P = np.zeros((n, n))
    AP = np.zeros((n, n))
    pAp = np.zeros(n)
    for k in range(n):
        if not np.any(r):
            return x, P[:, :k]
        p = r.copy()
        for j in range(k):  # modified Gram-Schmidt in the A-inner product
            p -= (AP[:, j] @ p) / pAp[j] * P[:, j]
        q = A(p)
        pAp[k] = _curvature(p, q, k, np.linalg.norm(r))
        alpha = (r @ p) / pAp[k]
        x += alpha * p
        r -= alpha * q
        P[:, k], AP[:, k] = p, q
    return x, P


def lanczos_from_cg(alphas, betas):
    """The Lanczos matrix ``T_k`` rebuilt from CG's step lengths.

    With ``x_0 = 0`` (or any ``x_0``, Lanczos then starting from ``r_0``) the
    normalised residuals ``q_{j+1} = (-1)^j r_j / ||r_j||`` are the Lanczos
    vectors, and ``T_k = Q_k^T A Q_k`` is::

        T[j, j]     = 1/alpha_j + beta_{j-1}/alpha_{j-1}   (the second term is 0 for j = 0)
        T[j, j+1]   = T[j+1, j] = sqrt(beta_j) / alpha_j

    i.e. ``T_k = L D L^T`` with ``D = diag(1/alpha_j)`` and ``L`` unit lower
    bidiagonal with subdiagonal ``sqrt(beta_j)``.

    Parameters
    ----------
    alphas : array_like, shape (k,)
        CG's step lengths ``alpha_0 .. alpha_{k-1}`` (positive).
    betas : array_like, shape (k,) or (k - 1,)
        CG's ``beta_0 ..``; only the first ``k - 1`` are used (``beta_{k-1}``
        couples ``T_k`` to the next Lanczos vector).

    Returns
    -------
    T : ndarray, shape (k, k)
        Symmetric tridiagonal with positive off-diagonal entries (the sign
        convention of :func:`krylov_ref.lanczos`).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import cg, lanczos, tridiagonal
    >>> from krylov_ref.conjugacy import lanczos_from_cg
    >>> A = np.diag([1.0, 2.0, 3.0, 4.0]); b = np.ones(4)
    >>> res = cg(A, b, rtol=0.0, maxiter=3)
    >>> T = lanczos_from_cg(res.alphas, res.betas)
    >>> _, a, bt = lanczos(A, b, 3)
    >>> np.allclose(T, tridiagonal(a, bt[:-1]))
    True
    """
    alphas = np.asarray(alphas, dtype=float)
    betas = np.asarray(betas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError(f"alphas must be a non-empty 1-D array, got shape {alphas.shape}")
    k = alphas.size
    if betas.ndim != 1 or betas.size < k - 1:
        raise ValueError(f"betas needs at least k - 1 = {k - 1} entries, got shape {betas.shape}")
    betas = betas[: k - 1]
    if not (np.all(np.isfinite(alphas)) and np.all(np.isfinite(betas))):
        raise ValueError("alphas and betas must be finite")
    if np.any(alphas <= 0) or np.any(betas < 0):
        raise ValueError("CG on an SPD matrix has alphas > 0 and betas >= 0")
    diagonal = 1.0 / alphas
    diagonal[1:] += betas / alphas[:-1]
    return tridiagonal(diagonal, np.sqrt(betas) / alphas[:-1])
