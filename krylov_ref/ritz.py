"""Ritz values of a Lanczos run and how well they have converged (lesson 02).

After ``k`` steps of Lanczos, ``A Q_k = Q_k T_k + beta_{k-1} q_k e_k^T``. The
eigenvalues ``theta_i`` of the tridiagonal ``T_k`` are the *Ritz values*; with
``T_k s_i = theta_i s_i`` (``||s_i|| = 1``) the *Ritz vectors* are
``y_i = Q_k s_i`` and

    A y_i - theta_i y_i = beta_{k-1} s_i[k-1] q_k,

so ``|beta_{k-1}| |s_i[k-1]|`` is the residual norm of the Ritz pair, known
without touching ``A`` again (exactly when ``q_k`` has unit norm; the columns
of ``Q_k`` need not be orthogonal for the identity to hold).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh_tridiagonal

__all__ = ["ritz_values"]


def ritz_values(alpha, beta):
    """Ritz values of a Lanczos run and the residual norms of the Ritz pairs.

    Parameters
    ----------
    alpha : array_like, shape (k,)
        Diagonal of ``T_k``, as returned by :func:`krylov_ref.lanczos`.
    beta : array_like, shape (k,)
        As returned by :func:`krylov_ref.lanczos`: ``beta[:k-1]`` is the
        off-diagonal of ``T_k`` and ``beta[k-1]`` couples ``q_k``.

    Returns
    -------
    theta : ndarray, shape (k,)
        Eigenvalues of ``T_k`` in increasing order.
    residuals : ndarray, shape (k,)
        ``|beta[k-1]| * |s_i[k-1]|``, the last components of the unit
        eigenvectors ``s_i`` of ``T_k``: the norm ``||A y_i - theta_i y_i||``
        of the Ritz pair ``(theta_i, y_i = Q_k s_i)``.

    Raises
    ------
    ValueError
        If ``alpha`` and ``beta`` are not 1-D of the same length ``k >= 1``,
        or hold NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import lanczos
    >>> from krylov_ref.ritz import ritz_values
    >>> A = np.diag([1.0, 2.0, 3.0, 4.0])
    >>> Q, alpha, beta = lanczos(A, np.ones(4), 4)
    >>> theta, residuals = ritz_values(alpha, beta)
    >>> np.round(theta, 10), bool(residuals.max() < 1e-12)
    (array([1., 2., 3., 4.]), True)
    """
    alpha = np.asarray(alpha, dtype=float)
    beta = np.asarray(beta, dtype=float)
    if alpha.ndim != 1 or beta.ndim != 1 or alpha.size < 1 or beta.shape != alpha.shape:
        raise ValueError(
            "alpha and beta must be 1-D of the same length k >= 1 (as krylov_ref.lanczos "
            f"returns them), got shapes {alpha.shape} and {beta.shape}")
    if not (np.all(np.isfinite(alpha)) and np.all(np.isfinite(beta))):
        raise ValueError("alpha and beta must be finite")
    k = alpha.size
    theta, S = eigh_tridiagonal(alpha, beta[: k - 1])
    return theta, np.abs(beta[k - 1]) * np.abs(S[k - 1, :])
