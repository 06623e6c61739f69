"""Krylov subspaces and the processes that build orthonormal bases of them
(lesson 02): the power basis, Arnoldi, and Lanczos."""

from __future__ import annotations

import numbers

import numpy as np

from ._operators import as_operator, as_vector

__all__ = ["krylov_matrix", "arnoldi", "lanczos", "tridiagonal"]

# A new direction shorter than this fraction of ||A q_j|| means A q_j already
# lies in the subspace: the Krylov space is invariant (a "happy breakdown").
BREAKDOWN_TOL = 1e-12


def _setup(A, v0, k):
    v0_arr = np.asarray(v0)
    if v0_arr.ndim == 0:
        raise ValueError("v0 must be a vector")
    A = as_operator(A, v0_arr.shape[0], "A")
    v0 = as_vector(v0, A.n, "v0")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k > A.n:
        raise ValueError(f"k = {k} exceeds the order n = {A.n} of A")
    norm = np.linalg.norm(v0)
    if norm == 0:
        raise ValueError("v0 is the zero vector: it spans no Krylov subspace")
    return A, v0 / norm


def krylov_matrix(A, b, k):
    """The power basis ``[b, A b, A^2 b, ..., A^{k-1} b]``.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Square matrix, or ``v -> A v``.
    b : ndarray, shape (n,)
        Starting vector.
    k : int
        Number of columns, ``1 <= k``.

    Returns
    -------
    K : ndarray, shape (n, k)
        Column ``j`` is ``A^j b`` (unnormalised, which is why it is useless
        in floating point: its columns all turn towards the dominant
        eigenvector).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import krylov_matrix
    >>> krylov_matrix(np.diag([1.0, 2.0]), np.ones(2), 3)
    array([[1., 1., 1.],
           [1., 2., 4.]])
    """
    b_arr = np.asarray(b)
    if b_arr.ndim == 0:
        raise ValueError("b must be a vector")
    A = as_operator(A, b_arr.shape[0], "A")
    b = as_vector(b, A.n, "b")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    K = np.empty((A.n, k))
    K[:, 0] = b
    for j in range(1, k):
        K[:, j] = A(K[:, j - 1])
    return K


def arnoldi(A, v0, k):
    """Arnoldi process with modified Gram-Schmidt.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Square matrix, or ``v -> A v``.
    v0 : ndarray, shape (n,)
        Starting vector (normalised inside).
    k : int
        Number of steps, ``1 <= k <= n``.

    Returns
    -------
    Q : ndarray, shape (n, k + 1)
        Orthonormal basis of ``K_{k+1}(A, v0)``.
    H : ndarray, shape (k + 1, k)
        Upper Hessenberg with ``A Q[:, :k] = Q H``.

    Notes
    -----
    On a happy breakdown at step ``j < k`` (``A q_j`` already lies in the
    span of ``q_0..q_j``) the outputs are shortened to ``j + 1`` steps, with a
    zero last column of ``Q`` and zero last row of ``H``, so the identity
    still holds exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import arnoldi
    >>> A = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 1.0]])
    >>> Q, H = arnoldi(A, np.ones(3), 2)
    >>> Q.shape, H.shape, np.allclose(A @ Q[:, :2], Q @ H)
    ((3, 3), (3, 2), True)
    """
    A, q = _setup(A, v0, k)
    Q = np.zeros((A.n, k + 1))
    H = np.zeros((k + 1, k))
    Q[:, 0] = q
    for j in range(k):
        w = A(Q[:, j])
        scale = np.linalg.norm(w)
        for i in range(j + 1):  # modified Gram-Schmidt: one projection at a time
            H[i, j] = Q[:, i] @ w
            w -= H[i, j] * Q[:, i]
        H[j + 1, j] = np.linalg.norm(w)
        if H[j + 1, j] <= BREAKDOWN_TOL * scale:
            H[j + 1, j] = 0.0
            return Q[:, : j + 2], H[: j + 2, : j + 1]
        Q[:, j + 1] = w / H[j + 1, j]
    return Q, H


def lanczos(A, v0, k, *, reorthogonalize=False):
    """Lanczos process for symmetric ``A``: the three-term recurrence.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Symmetric matrix, or ``v -> A v``.
    v0 : ndarray, shape (n,)
        Starting vector (normalised inside).
    k : int
        Number of steps, ``1 <= k <= n``.
    reorthogonalize : bool
        Orthogonalise every new vector against all earlier ones (twice, by
        classical Gram-Schmidt), which restores the orthogonality that
        floating point destroys (lesson 02).

    Returns
    -------
    Q : ndarray, shape (n, k + 1)
        Lanczos vectors ``q_0 .. q_k``.
    alpha : ndarray, shape (k,)
        Diagonal of ``T_k``.
    beta : ndarray, shape (k,)
        ``beta[:k-1]`` is the off-diagonal of ``T_k``; ``beta[k-1]`` couples
        to ``q_k``: ``A Q[:, :k] = Q[:, :k] T_k + beta[k-1] q_k e_k^T``.

    Notes
    -----
    On a happy breakdown at step ``j < k`` the outputs are shortened to
    ``j + 1`` steps with ``beta[-1] = 0`` and a zero last column of ``Q``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import lanczos, tridiagonal
    >>> A = np.diag([1.0, 2.0, 3.0, 4.0])
    >>> Q, alpha, beta = lanczos(A, np.ones(4), 3)
    >>> T = tridiagonal(alpha, beta[:-1])
    >>> np.allclose(A @ Q[:, :3], Q[:, :3] @ T + beta[-1] * np.outer(Q[:, 3], [0, 0, 1]))
    True
    """
    A, q = _setup(A, v0, k)
    Q = np.zeros((A.n, k + 1))
    alpha = np.zeros(k)
    beta = np.zeros(k)
    Q[:, 0] = q
    for j in range(k):
        w = A(Q[:, j])
        scale = np.linalg.norm(w)
        alpha[j] = Q[:, j] @ w
        w -= alpha[j] * Q[:, j]
        if j > 0:
            w -= beta[j - 1] * Q[:, j - 1]
        if reorthogonalize:
            for _ in range(2):  # "twice is enough" (Kahan, Parlett)
                w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        beta[j] = np.linalg.norm(w)
        if beta[j] <= BREAKDOWN_TOL * scale:
            beta[j] = 0.0
            return Q[:, : j + 2], alpha[: j + 1], beta[: j + 1]
        Q[:, j + 1] = w / beta[j]
    return Q, alpha, beta


def tridiagonal(alpha, beta):
    """The symmetric tridiagonal matrix with diagonal ``alpha`` and
    off-diagonal ``beta``.

    Parameters
    ----------
    alpha : array_like, shape (k,)
    beta : array_like, shape (k - 1,)

    Returns
    -------
    T : ndarray, shape (k, k)

    Examples
    --------
    >>> from krylov_ref import tridiagonal
    >>> tridiagonal([2.0, 2.0], [-1.0])
    array([[ 2., -1.],
           [-1.,  2.]])
    """
    alpha = np.asarray(alpha, dtype=float)
    beta = np.asarray(beta, dtype=float)
    if alpha.ndim != 1 or beta.ndim != 1 or beta.shape[0] != alpha.shape[0] - 1:
        raise ValueError(
            f"need len(beta) = len(alpha) - 1, got {beta.shape} and {alpha.shape}"
        )
    return np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
