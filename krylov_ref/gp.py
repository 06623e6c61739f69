"""Gaussian-process likelihoods by Krylov methods (lesson 09, the capstone).

The negative log-likelihood of a GP with kernel matrix ``K`` and noise
variance ``sigma^2``, with ``A = K + sigma^2 I``::

    nll = 1/2 y^T A^{-1} y + 1/2 log det A + n/2 log(2 pi)

needs a solve and a log-determinant. Cholesky gives both in ``O(n^3)``;
Krylov methods give both from products with ``A`` only: CG for
``A^{-1} y``, stochastic Lanczos quadrature (:func:`slq_logdet`) for
``log det A = trace(log A)``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ._operators import Operator, as_operator, as_vector
from .cg import cg
from .krylov import lanczos, tridiagonal

__all__ = ["rbf_kernel", "slq_logdet", "gp_nll"]


def _as_points(X, name):
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or inf")
    return X


def _positive(value, name):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not np.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def rbf_kernel(X1, X2=None, *, lengthscale=1.0, variance=1.0):
    """The squared-exponential (RBF) kernel matrix.

    ``k(x, x') = variance * exp(-||x - x'||^2 / (2 lengthscale^2))``.

    Parameters
    ----------
    X1 : ndarray, shape (n1, d) or (n1,)
        Points, one per row (a 1-D array is ``n1`` points in one dimension).
    X2 : ndarray, shape (n2, d) or (n2,), optional
        Second set of points; ``X1`` by default.
    lengthscale, variance : float
        Positive hyperparameters.

    Returns
    -------
    K : ndarray, shape (n1, n2)
        Symmetric positive semidefinite when ``X2`` is omitted (and exactly
        symmetric: rounding in the distances is symmetrised away).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.gp import rbf_kernel
    >>> np.round(rbf_kernel(np.array([0.0, 1.0])), 4)
    array([[1.    , 0.6065],
           [0.6065, 1.    ]])
    """
    lengthscale = _positive(lengthscale, "lengthscale")
    variance = _positive(variance, "variance")
    A = _as_points(X1, "X1")
    B = A if X2 is None else _as_points(X2, "X2")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"X1 has {A.shape[1]} dimensions but X2 has {B.shape[1]}")
    # ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, one matrix product; clip the
    # small negatives that cancellation leaves.
    sq = np.sum(A ** 2, axis=1)[:, None] + np.sum(B ** 2, axis=1)[None, :] - 2.0 * A @ B.T
    K = variance * np.exp(-np.maximum(sq, 0.0) / (2.0 * lengthscale ** 2))
    if X2 is None:
        K = (K + K.T) / 2
        np.fill_diagonal(K, variance)
    return K


def _check_symmetric(A, name):
    if isinstance(A, np.ndarray) or sp.issparse(A):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"{name} must be a square matrix, got shape {A.shape}")
        asym = abs(A - A.T).max()
        scale = abs(A).max()
        if asym > 1e-10 * scale:
            raise ValueError(
                f"{name} must be symmetric: max |{name} - {name}^T| = {asym:.3g}"
            )


def slq_logdet(A, num_probes=30, lanczos_steps=30, seed=0, *, reorthogonalize=False):
    """Stochastic Lanczos quadrature estimate of ``log det A`` for SPD ``A``.

    ``log det A = trace(log A)``, estimated by Hutchinson's
    ``E[z^T log(A) z]`` over Rademacher probes ``z`` (entries +-1). For each
    probe, ``k`` Lanczos steps from ``q = z / ||z||`` give ``T_k``; with
    eigenvalues ``theta_j`` and eigenvectors ``u_j`` of ``T_k``, Gauss
    quadrature gives::

        z^T log(A) z ~ ||z||^2 sum_j tau_j^2 log(theta_j),   tau_j = e_1^T u_j

    and ``||z||^2 = n`` for a Rademacher probe. The estimate is the mean over
    probes.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Symmetric positive definite matrix (a callable ``v -> A v`` needs
        ``n``; pass it as a LinearOperator).
    num_probes : int
        Number of random probes; the error of the trace estimate falls like
        ``1/sqrt(num_probes)``.
    lanczos_steps : int
        Lanczos steps per probe (the number of Gauss nodes), at most ``n``.
        The quadrature error falls fast, like ``((sqrt(kappa) - 1) /
        (sqrt(kappa) + 1))^(2k)``, and faster on clustered spectra.
    seed : int
        Seed of ``np.random.default_rng`` for the probes.
    reorthogonalize : bool
        Full reorthogonalisation in Lanczos. Not needed for the quadrature:
        lost orthogonality duplicates Ritz values but leaves the Gauss rule
        accurate (Knizhnerman; Paige).

    Returns
    -------
    float
        The estimate of ``log det A``.

    Raises
    ------
    ValueError
        If ``A`` is not square or (explicitly) not symmetric, a parameter is
        out of range, or a Ritz value is ``<= 0`` (``A`` is not positive
        definite).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.gp import slq_logdet
    >>> A = np.diag(np.linspace(1.0, 10.0, 200))
    >>> est = slq_logdet(A, num_probes=20, lanczos_steps=15, seed=0)
    >>> exact = np.sum(np.log(np.diag(A)))
    >>> bool(abs(est - exact) / abs(exact) < 0.02)
    True
    """
    _check_symmetric(A, "A")
    n = A.shape[0] if hasattr(A, "shape") else None
    if n is None:
        raise ValueError("A must have a shape; wrap a callable in a LinearOperator")
    A = as_operator(A, n, "A")
    num_probes = _positive_int(num_probes, "num_probes")
    k = min(_positive_int(lanczos_steps, "lanczos_steps"), A.n)
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_probes)
    for i in range(num_probes):
        z = rng.choice([-1.0, 1.0], size=A.n)          # Rademacher probe, ||z||^2 = n
        _, alpha, beta = lanczos(A, z, k, reorthogonalize=reorthogonalize)
        theta, U = np.linalg.eigh(tridiagonal(alpha, beta[:-1]))
        if theta[0] <= 0:
            raise ValueError(
                f"Lanczos found a Ritz value {theta[0]:.3g} <= 0: "
                "A is not positive definite, log det A is undefined"
            )
        tau2 = U[0, :] ** 2                            # Gauss weights tau_j^2
        estimates[i] = A.n * np.sum(tau2 * np.log(theta))  # ||z||^2 sum_j tau_j^2 log theta_j
    return float(np.mean(estimates))


def gp_nll(K, y, noise, *, method="krylov", rtol=1e-8, num_probes=30, lanczos_steps=30,
           seed=0):
    """Negative log-likelihood of a zero-mean Gaussian process.

    ``nll = 1/2 y^T A^{-1} y + 1/2 log det A + n/2 log(2 pi)``,
    ``A = K + noise I``.

    Parameters
    ----------
    K : ndarray or sparse matrix, shape (n, n)
        Kernel matrix (symmetric positive semidefinite). With
        ``method="krylov"`` a LinearOperator also works.
    y : ndarray, shape (n,)
        Observations.
    noise : float
        Noise *variance* ``sigma^2 >= 0`` added to the diagonal.
    method : {"krylov", "cholesky"}
        ``"krylov"``: CG for ``A^{-1} y`` (to ``rtol``) and
        :func:`slq_logdet` for ``log det A``, products with ``A`` only.
        ``"cholesky"``: exact, ``A = L L^T``, ``log det A = 2 sum log L_ii``,
        for comparison.
    rtol : float
        Relative residual tolerance of CG (``"krylov"`` only).
    num_probes, lanczos_steps, seed
        Passed to :func:`slq_logdet` (``"krylov"`` only).

    Returns
    -------
    float
        The NLL. Its terms are large and of opposite signs, so judge the
        Krylov estimate's error against ``1/2 |log det A|``, not against the
        NLL itself.

    Raises
    ------
    ValueError
        For bad input, or when ``K + noise I`` is not positive definite.
    RuntimeError
        When CG does not reach ``rtol`` (its status says why).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.gp import gp_nll, rbf_kernel
    >>> x = np.linspace(0.0, 5.0, 300)
    >>> y = np.sin(x)
    >>> K = rbf_kernel(x)
    >>> exact = gp_nll(K, y, 0.1, method="cholesky")
    >>> approx = gp_nll(K, y, 0.1, seed=0)
    >>> round(exact, 3), bool(abs(approx - exact) < 1.0)
    (-50.734, True)
    """
    if method not in ("krylov", "cholesky"):
        raise ValueError(f"method must be 'krylov' or 'cholesky', got {method!r}")
    if (not isinstance(noise, numbers.Real) or isinstance(noise, bool)
            or not np.isfinite(noise) or noise < 0):
        raise ValueError(f"noise must be a finite variance >= 0, got {noise!r}")
    y_arr = np.asarray(y)
    if y_arr.ndim == 0:
        raise ValueError("y must be a vector")
    n = y_arr.shape[0]
    _check_symmetric(K, "K")
    K_op = as_operator(K, n, "K")
    y = as_vector(y, n, "y")
    constant = 0.5 * n * np.log(2 * np.pi)

    if method == "cholesky":
        if not (isinstance(K, np.ndarray) or sp.issparse(K)):
            raise ValueError("method='cholesky' needs K as a matrix, not an operator")
        A = (K.toarray() if sp.issparse(K) else np.array(K, dtype=float)) + noise * np.eye(n)
        try:
            L = scipy.linalg.cholesky(A, lower=True)
        except np.linalg.LinAlgError:
            raise ValueError("K + noise I is not positive definite") from None
        w = scipy.linalg.solve_triangular(L, y, lower=True)   # y^T A^{-1} y = ||L^{-1} y||^2
        return float(0.5 * (w @ w) + np.sum(np.log(np.diag(L))) + constant)

    def matvec(v):
        # (K + sigma^2 I) v without forming K + sigma^2 I: no copy of an n x n matrix.
        return K_op(v) + noise * v

    A = Operator(matvec, n, "K + noise I")
    solve = cg(A, y, rtol=rtol)
    if not solve.converged:
        raise RuntimeError(f"CG for (K + noise I)^{{-1}} y did not converge: {solve.status}")
    logdet = slq_logdet(A, num_probes, lanczos_steps, seed)
    return float(0.5 * (y @ solve.x) + 0.5 * logdet + constant)
