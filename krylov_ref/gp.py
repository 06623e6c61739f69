"""Gaussian-process likelihoods by Krylov methods (lesson 09, the capstone).

The negative log-likelihood of a GP with kernel matrix ``K`` and noise
variance ``sigma^2``, with ``A = K + sigma^2 I``::

    nll = 1/2 y^T A^{-1} y + 1/2 log det A + n/2 log(2 pi)

needs a solve and a log-determinant. Cholesky gives both in ``O(n^3)``;
Krylov methods give both from products with ``A`` only: CG for
``A^{-1} y``, stochastic Lanczos quadrature (:func:`slq_logdet`) for
``log det A = trace(log A)``. The gradient of the NLL needs traces
``trace(A^{-1} dA/dtheta)``: Hutchinson's estimator (:func:`hutchinson_trace`;
:func:`hutchpp` deflates the largest eigenvalues first) with the same
probes, and one CG solve per probe (:func:`gp_nll_and_grad`). A partial
pivoted Cholesky factor of the kernel matrix (:func:`pivoted_cholesky`)
preconditions those solves
(:func:`pivoted_cholesky_preconditioner`), as GPyTorch does (Gardner et al.,
2018).
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ._operators import Operator, as_operator, as_vector
from .cg import cg
from .krylov import lanczos as _reference_lanczos
from .precond import Preconditioner

__all__ = ["rbf_kernel", "rademacher_probes", "hutchinson_trace", "hutchpp", "lanczos_quadrature",
           "slq_quadratic_forms", "slq_logdet", "gp_nll", "gp_nll_and_grad",
           "pivoted_cholesky", "pivoted_cholesky_preconditioner"]


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


def _order(A, name="A"):
    n = A.shape[0] if hasattr(A, "shape") and len(A.shape) == 2 else None
    if n is None:
        raise ValueError(f"{name} must have a shape; wrap a callable in a LinearOperator")
    return n


def rademacher_probes(n, num_probes, seed=0):
    """The probes of the course's trace estimators: random vectors of +-1.

    Parameters
    ----------
    n : int
        Length of each probe.
    num_probes : int
        Number of probes.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    Z : ndarray, shape (num_probes, n)
        ``np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_probes, n))``;
        probe ``i`` is ``Z[i]``. (Drawing them one at a time,
        ``rng.choice([-1.0, 1.0], size=n)`` in a loop, gives the same rows.)

    Examples
    --------
    >>> from krylov_ref.gp import rademacher_probes
    >>> rademacher_probes(4, 2, seed=0).tolist()
    [[1.0, 1.0, 1.0, -1.0], [-1.0, -1.0, -1.0, -1.0]]
    """
    n = _positive_int(n, "n")
    num_probes = _positive_int(num_probes, "num_probes")
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_probes, n))


def hutchinson_trace(A, num_probes=30, seed=0):
    """Hutchinson's estimate of ``trace(A)`` from products with ``A``.

    ``trace(A) = E[z^T A z]`` for a random ``z`` with independent entries of
    mean 0 and variance 1; with Rademacher probes (entries +-1) the variance
    of one sample is ``2 sum_{i != j} A_ij^2`` for symmetric ``A``, the
    smallest of all such probe distributions (Hutchinson, 1989).

    Parameters
    ----------
    A : ndarray, sparse matrix or LinearOperator
        Square matrix (symmetric for the variance statement).
    num_probes : int
        Number of probes, drawn by :func:`rademacher_probes`; one product
        with ``A`` each.
    seed : int
        Seed of the probes.

    Returns
    -------
    float
        The mean of ``z_i^T A z_i`` over the probes.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.gp import hutchinson_trace
    >>> hutchinson_trace(np.diag([1.0, 2.0, 3.0]), num_probes=1)   # exact for diagonal A
    6.0
    """
    n = _order(A)
    op = as_operator(A, n, "A")
    Z = rademacher_probes(op.n, num_probes, seed)
    return float(np.mean([z @ op(z) for z in Z]))


def _block_product(A, op, X):
    """``A @ X`` for an ``(n, k)`` block: one product per column."""
    if isinstance(A, np.ndarray) or sp.issparse(A):
        op.count += X.shape[1]
        return np.asarray(A @ X, dtype=float)
    return np.column_stack([op(x) for x in X.T]) if X.shape[1] else np.zeros_like(X)


def hutchpp(A, num_matvecs, seed=0):
    """The Hutch++ estimate of ``trace(A)`` from ``num_matvecs`` products with ``A``.

    Algorithm 1 of Meyer, Musco, Musco and Woodruff (*Hutch++: Optimal
    stochastic trace estimation*, SOSA 2021), with ``m = num_matvecs`` and
    ``k = m / 3``:

    1. draw ``S`` and ``G``, ``(n, k)`` with independent entries +-1;
    2. ``Q`` = an orthonormal basis of the range of ``A S`` (``k`` products);
    3. return ``trace(Q^T A Q) + trace(G^T (I - Q Q^T) A (I - Q Q^T) G) / k``
       (``k`` products for ``A Q``, ``k`` for ``A (I - Q Q^T) G``).

    The first term is exact on the range of ``Q``, which holds the
    directions of the largest eigenvalues; Hutchinson's estimator with ``k``
    probes handles the rest, ``(I - Q Q^T) A (I - Q Q^T)``, whose Frobenius
    norm is small when the eigenvalues decay. The estimate is unbiased for
    any square ``A``, since ``trace(A) = trace(Q^T A Q) + trace((I - Q Q^T) A
    (I - Q Q^T))`` for every orthonormal ``Q`` and ``G`` is independent of
    ``Q``; and exact when ``rank(A) <= k``. For symmetric positive
    semidefinite ``A`` its error falls like ``1/m`` where Hutchinson's falls
    like ``1/sqrt(m)`` (the paper's Theorem 1).

    Parameters
    ----------
    A : ndarray, sparse matrix or LinearOperator
        Square matrix, used through products only.
    num_matvecs : int
        The number of products with ``A``, ``m``: a multiple of 3 with
        ``3 <= m <= 3 n``.
    seed : int
        Seed of the random matrices: ``rng = np.random.default_rng(seed)``,
        then ``S = rng.choice([-1.0, 1.0], size=(n, k))`` and ``G =
        rng.choice([-1.0, 1.0], size=(n, k))``, in that order.

    Returns
    -------
    float
        The estimate of ``trace(A)``.

    Raises
    ------
    ValueError
        If ``A`` is not square, or ``num_matvecs`` is not an integer, is
        below 3, above ``3 n``, or not a multiple of 3.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.gp import hutchpp
    >>> W = np.random.default_rng(0).standard_normal((50, 2))
    >>> A = W @ W.T                               # rank 2: exact with k = 2
    >>> bool(np.isclose(hutchpp(A, 6, seed=3), np.trace(A), rtol=1e-12))
    True
    """
    n = _order(A)
    op = as_operator(A, n, "A")
    if (not isinstance(num_matvecs, numbers.Integral) or isinstance(num_matvecs, bool)
            or num_matvecs < 3 or num_matvecs % 3 != 0):
        raise ValueError(f"num_matvecs must be a positive multiple of 3 (a third each for "
                         f"the sketch, Q^T A Q and the probes), got {num_matvecs!r}")
    k = int(num_matvecs) // 3
    if k > op.n:
        raise ValueError(f"num_matvecs must be at most 3 n = {3 * op.n}, got {num_matvecs}")
    rng = np.random.default_rng(seed)
    S = rng.choice([-1.0, 1.0], size=(op.n, k))
    G = rng.choice([-1.0, 1.0], size=(op.n, k))
    Q, _ = np.linalg.qr(_block_product(A, op, S))      # orthonormal basis of range(A S)
    exact_part = float(np.sum(Q * _block_product(A, op, Q)))       # trace(Q^T A Q)
    G = G - Q @ (Q.T @ G)                               # (I - Q Q^T) G
    deflated = float(np.sum(G * _block_product(A, op, G))) / k   # Hutchinson on the rest
    return exact_part + deflated


def lanczos_quadrature(alpha, beta, f=np.log):
    """The Gauss quadrature ``e_1^T f(T_k) e_1`` from Lanczos coefficients.

    With eigenvalues ``theta_j`` (the nodes) and eigenvectors ``u_j`` of
    ``T_k``, ``e_1^T f(T_k) e_1 = sum_j tau_j^2 f(theta_j)``, ``tau_j =
    e_1^T u_j`` (the weights): the k-point Gauss rule for ``q_0^T f(A) q_0``
    when the Lanczos process started from the unit vector ``q_0``.

    Parameters
    ----------
    alpha : array_like, shape (k,)
        Diagonal of ``T_k``.
    beta : array_like, shape (k,) or (k - 1,)
        Off-diagonal of ``T_k``; with ``k`` entries (as :func:`krylov_ref.lanczos`
        returns them) the last, which couples to ``q_k``, is ignored.
    f : callable
        Applied to the nodes (``np.log`` by default).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``f = np.log`` and a node is ``<= 0`` (the matrix is not
        positive definite).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import lanczos
    >>> from krylov_ref.gp import lanczos_quadrature
    >>> A = np.diag([1.0, 2.0, 4.0])
    >>> _, alpha, beta = lanczos(A, np.ones(3), 3)
    >>> bool(np.isclose(3 * lanczos_quadrature(alpha, beta), np.log(8.0)))   # 3 = ||ones||^2
    True
    """
    return _gauss_quadrature(alpha, beta, f)


# Private twins of the public functions, used inside the module: a lesson may forbid
# the public names while a student's code runs, and the library must keep working.
def _gauss_quadrature(alpha, beta, f):
    alpha = np.asarray(alpha, dtype=float).reshape(-1)
    beta = np.asarray(beta, dtype=float).reshape(-1)
    k = alpha.shape[0]
    if k == 0 or beta.shape[0] not in (k, k - 1):
        raise ValueError(f"need len(beta) = len(alpha) or len(alpha) - 1 >= 0, got "
                         f"{beta.shape[0]} and {k}")
    # The eigenproblem of a tridiagonal matrix, O(k^2): no k x k dense matrix.
    theta, U = scipy.linalg.eigh_tridiagonal(alpha, beta[: k - 1])
    if f is np.log and theta[0] <= 0:
        raise ValueError(
            f"Lanczos found a Ritz value {theta[0]:.3g} <= 0: "
            "A is not positive definite, log det A is undefined"
        )
    tau2 = U[0, :] ** 2                                 # Gauss weights tau_j^2
    return float(np.sum(tau2 * f(theta)))


def slq_quadratic_forms(A, num_probes=30, lanczos_steps=30, seed=0, *,
                        reorthogonalize=False, lanczos=None):
    """The per-probe estimates of :func:`slq_logdet`: ``z_i^T log(A) z_i``.

    Same parameters as :func:`slq_logdet`. Returns an ndarray of shape
    ``(num_probes,)``; its mean is the SLQ estimate of ``log det A``, and its
    spread over the probes is the Monte Carlo error.
    """
    return _slq_samples(A, num_probes, lanczos_steps, seed, reorthogonalize, lanczos)


def _slq_samples(A, num_probes, lanczos_steps, seed, reorthogonalize, lanczos):
    _check_symmetric(A, "A")
    n = _order(A)
    op = as_operator(A, n, "A")
    num_probes = _positive_int(num_probes, "num_probes")
    k = min(_positive_int(lanczos_steps, "lanczos_steps"), op.n)
    if lanczos is not None and not callable(lanczos):
        raise ValueError(f"lanczos must be a function (A, v0, k) -> (Q, alpha, beta), "
                         f"got {type(lanczos).__name__}")
    Z = rademacher_probes(op.n, num_probes, seed)
    estimates = np.empty(num_probes)
    for i, z in enumerate(Z):
        if lanczos is None:
            _, alpha, beta = _reference_lanczos(op, z, k, reorthogonalize=reorthogonalize)
        else:
            # Someone else's Lanczos (a student's): it gets the matrix as given.
            _, alpha, beta = lanczos(A, z, k)
        # ||z||^2 = n for a Rademacher probe; Lanczos started from z / ||z||.
        estimates[i] = op.n * _gauss_quadrature(alpha, beta, np.log)
    return estimates


def slq_logdet(A, num_probes=30, lanczos_steps=30, seed=0, *, reorthogonalize=False,
               lanczos=None):
    """Stochastic Lanczos quadrature estimate of ``log det A`` for SPD ``A``.

    ``log det A = trace(log A)``, estimated by Hutchinson's
    ``E[z^T log(A) z]`` over Rademacher probes ``z`` (entries +-1, drawn by
    :func:`rademacher_probes`). For each probe, ``k`` Lanczos steps from
    ``q = z / ||z||`` give ``T_k``; with eigenvalues ``theta_j`` and
    eigenvectors ``u_j`` of ``T_k``, Gauss quadrature gives::

        z^T log(A) z ~ ||z||^2 sum_j tau_j^2 log(theta_j),   tau_j = e_1^T u_j

    and ``||z||^2 = n`` for a Rademacher probe. The estimate is the mean over
    probes.

    Parameters
    ----------
    A : ndarray, sparse matrix or LinearOperator
        Symmetric positive definite matrix (a callable ``v -> A v`` needs
        ``n``; pass it as a LinearOperator).
    num_probes : int
        Number of random probes; the error of the trace estimate falls like
        ``1/sqrt(num_probes)``.
    lanczos_steps : int
        Lanczos steps per probe (the number of Gauss nodes), at most ``n``
        (larger values are cut to ``n``). The quadrature error falls at
        least like ``((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^(2k)`` (Ubaru,
        Chen and Saad, 2017), and faster on clustered spectra. When Lanczos
        stops early (the Krylov space is invariant, as for a matrix with
        fewer than ``k`` distinct eigenvalues) the rule is exact.
    seed : int
        Seed of the probes.
    reorthogonalize : bool
        Full reorthogonalisation in Lanczos. Not needed for the quadrature:
        lost orthogonality duplicates Ritz values but leaves the Gauss rule
        accurate (Knizhnerman; Paige).
    lanczos : callable, optional
        A Lanczos process ``lanczos(A, v0, k) -> (Q, alpha, beta)`` with the
        contract of :func:`krylov_ref.lanczos` (a student's own, say), called
        once per probe with ``A`` as given; :func:`krylov_ref.lanczos` by
        default (then ``reorthogonalize`` applies).

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
    return float(np.mean(_slq_samples(A, num_probes, lanczos_steps, seed, reorthogonalize,
                                      lanczos)))


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


def _as_derivatives(dA, n):
    if isinstance(dA, np.ndarray) and dA.ndim == 2:
        raise ValueError("dA must be a list of matrices (one per hyperparameter), "
                         "not a single matrix: pass [dA]")
    try:
        items = list(dA)
    except TypeError:
        raise ValueError(f"dA must be a list of matrices, got {type(dA).__name__}") from None
    return [as_operator(D, n, f"dA[{j}]") for j, D in enumerate(items)]


def gp_nll_and_grad(A, y, dA, *, method="krylov", num_probes=10, lanczos_steps=30, seed=0,
                    rtol=1e-8, M=None):
    """Negative log-likelihood of ``y ~ N(0, A)`` and its gradient.

    ``A = A(theta)`` is the covariance (``K + sigma^2 I`` for a GP) and
    ``dA[j] = dA/dtheta_j``. Then::

        nll = 1/2 y^T A^{-1} y + 1/2 log det A + n/2 log(2 pi)
        d nll / d theta_j = -1/2 alpha^T dA_j alpha + 1/2 trace(A^{-1} dA_j),
        alpha = A^{-1} y.

    With ``method="krylov"``: ``alpha`` by CG, ``log det A`` by
    :func:`slq_logdet`, and each trace by Hutchinson with the *same* probes
    ``z_i`` (:func:`rademacher_probes` with ``seed``)::

        trace(A^{-1} dA_j) ~ mean_i (A^{-1} z_i)^T (dA_j z_i),

    one CG solve per probe, shared by every ``j``. Products: ``num_probes *
    lanczos_steps`` plus the CG iterations with ``A``, and ``num_probes + 1``
    with each ``dA_j``.

    Parameters
    ----------
    A : ndarray, sparse matrix or LinearOperator
        Symmetric positive definite covariance (a matrix for ``"cholesky"``).
    y : ndarray, shape (n,)
        Observations.
    dA : list of ndarray, sparse matrix or LinearOperator
        Derivatives of ``A`` with respect to the hyperparameters (matrices
        for ``"cholesky"``).
    method : {"krylov", "cholesky"}
        ``"cholesky"``: exact, from ``A = L L^T``, for comparison.
    num_probes, lanczos_steps, seed
        Of the stochastic estimates (``"krylov"`` only).
    rtol : float
        Relative residual tolerance of every CG solve (``"krylov"`` only).
    M : ndarray, sparse matrix or LinearOperator, optional
        The operator ``v -> M^{-1} v`` of a preconditioner ``M`` that
        approximates ``A``, for the CG solves.

    Returns
    -------
    nll : float
    grad : ndarray, shape (len(dA),)

    Raises
    ------
    ValueError
        For bad input, or when ``A`` is not positive definite.
    RuntimeError
        When a CG solve does not reach ``rtol``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.gp import gp_nll_and_grad, rbf_kernel
    >>> x = np.linspace(0.0, 5.0, 200)
    >>> A = rbf_kernel(x) + 0.1 * np.eye(200)
    >>> y = np.sin(x)
    >>> exact, g_exact = gp_nll_and_grad(A, y, [0.1 * np.eye(200)], method="cholesky")
    >>> approx, g = gp_nll_and_grad(A, y, [0.1 * np.eye(200)], num_probes=30)
    >>> bool(abs(approx - exact) < 1.0), bool(abs(g[0] - g_exact[0]) < 2.0)
    (True, True)
    """
    if method not in ("krylov", "cholesky"):
        raise ValueError(f"method must be 'krylov' or 'cholesky', got {method!r}")
    y_arr = np.asarray(y)
    if y_arr.ndim == 0:
        raise ValueError("y must be a vector")
    n = y_arr.shape[0]
    _check_symmetric(A, "A")
    A_op = as_operator(A, n, "A")
    y = as_vector(y, n, "y")
    derivatives = _as_derivatives(dA, n)
    constant = 0.5 * n * np.log(2 * np.pi)

    if method == "cholesky":
        if not (isinstance(A, np.ndarray) or sp.issparse(A)):
            raise ValueError("method='cholesky' needs A as a matrix, not an operator")
        dense = A.toarray() if sp.issparse(A) else np.asarray(A, dtype=float)
        try:
            factor = scipy.linalg.cho_factor(dense, lower=True)
        except np.linalg.LinAlgError:
            raise ValueError("A is not positive definite") from None
        alpha = scipy.linalg.cho_solve(factor, y)
        logdet = 2.0 * np.sum(np.log(np.diag(factor[0])))
        grad = []
        for j, D in enumerate(dA):
            if not (isinstance(D, np.ndarray) or sp.issparse(D)):
                raise ValueError(f"method='cholesky' needs dA[{j}] as a matrix")
            D = D.toarray() if sp.issparse(D) else np.asarray(D, dtype=float)
            trace = np.trace(scipy.linalg.cho_solve(factor, D))   # trace(A^{-1} dA_j), exact
            grad.append(-0.5 * alpha @ (D @ alpha) + 0.5 * trace)
        return float(0.5 * y @ alpha + 0.5 * logdet + constant), np.array(grad, dtype=float)

    def solve(b):
        result = cg(A_op, b, rtol=rtol, M=M)
        if not result.converged:
            raise RuntimeError(f"CG for A^{{-1}} b did not converge: {result.status}")
        return result.x

    alpha = solve(y)
    logdet = float(np.mean(_slq_samples(A, num_probes, lanczos_steps, seed, False, None)))
    Z = rademacher_probes(n, num_probes, seed)
    U = [solve(z) for z in Z]                           # A^{-1} z_i, one solve per probe
    grad = np.empty(len(derivatives))
    for j, D in enumerate(derivatives):
        trace = np.mean([u @ D(z) for u, z in zip(U, Z)])  # Hutchinson, same probes
        grad[j] = -0.5 * alpha @ D(alpha) + 0.5 * trace
    return float(0.5 * y @ alpha + 0.5 * logdet + constant), grad


def pivoted_cholesky(K, rank, *, rtol=0.0):
    """Partial Cholesky factorisation with diagonal pivoting, ``K ~ L L^T``.

    At each step the largest remaining diagonal entry is the pivot; the
    factor gains the column of ``K`` there, minus what the earlier columns
    already explain. Only the diagonal and ``rank`` columns of ``K`` are
    read, ``O(n rank^2)`` work: a low-rank approximation of a kernel matrix
    whose eigenvalues decay fast (Harbrecht, Peters and Schneider, 2012),
    and the preconditioner of GPyTorch (Gardner et al., 2018).

    Parameters
    ----------
    K : ndarray, shape (n, n)
        Symmetric positive semidefinite matrix.
    rank : int
        Number of columns wanted, ``0 <= rank <= n``.
    rtol : float
        Stop early when the trace of the remainder ``K - L L^T`` falls to
        ``rtol * trace(K)`` (or to zero).

    Returns
    -------
    L : ndarray, shape (n, r)
        ``r <= rank`` columns; ``K - L L^T`` is positive semidefinite and its
        trace falls with ``r``.
    pivots : ndarray of int, shape (r,)
        The rows chosen, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.gp import pivoted_cholesky, rbf_kernel
    >>> K = rbf_kernel(np.linspace(0.0, 1.0, 50), lengthscale=0.5)
    >>> L, pivots = pivoted_cholesky(K, 8)
    >>> bool(np.abs(K - L @ L.T).max() < 1e-5)
    True
    """
    K = np.asarray(K, dtype=float)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be a square matrix, got shape {K.shape}")
    n = K.shape[0]
    if not isinstance(rank, numbers.Integral) or isinstance(rank, bool) or not 0 <= rank <= n:
        raise ValueError(f"rank must be an integer in [0, {n}], got {rank!r}")
    d = np.array(np.diag(K), dtype=float)
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError("K must be positive semidefinite: its diagonal has a negative entry, "
                         "NaN or inf")
    stop = rtol * d.sum()
    L = np.zeros((n, rank))
    pivots = []
    for j in range(rank):
        i = int(np.argmax(d))
        if d[i] <= 0 or d.sum() <= stop:             # d holds the remainder's diagonal
            break
        column = K[:, i] - L[:, :j] @ L[i, :j]           # what L[:, :j] does not explain
        L[:, j] = column / np.sqrt(d[i])
        d -= L[:, j] ** 2
        d[i] = 0.0                                        # exactly explained
        np.maximum(d, 0.0, out=d)                         # rounding can leave -1e-17
        pivots.append(i)
    r = len(pivots)
    return L[:, :r], np.array(pivots, dtype=int)


def pivoted_cholesky_preconditioner(K, noise, rank):
    """The preconditioner ``M = L L^T + noise I``, ``L`` the rank-``rank``
    pivoted Cholesky factor of ``K``, for ``A = K + noise I``: the operator
    ``v -> M^{-1} v`` (what ``M=`` takes; lesson 05's convention).

    ``M^{-1}`` is applied by the Woodbury identity::

        (noise I + L L^T)^{-1} v = (v - L (noise I_r + L^T L)^{-1} L^T v) / noise,

    ``O(n r)`` per application after an ``r x r`` Cholesky factorisation.

    Parameters
    ----------
    K : ndarray, shape (n, n)
        Kernel matrix (symmetric positive semidefinite).
    noise : float
        Noise variance ``> 0``.
    rank : int
        Rank of the factor (``0`` gives ``M = noise I``).

    Returns
    -------
    Preconditioner
        A LinearOperator for ``M=`` of :func:`krylov_ref.cg`, with
        attributes ``rank`` (the rank reached) and ``logdet``, ``log det
        (L L^T + noise I)`` (by the matrix determinant lemma), which
        preconditioned log-determinant estimates use.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import cg
    >>> from krylov_ref.gp import pivoted_cholesky_preconditioner, rbf_kernel
    >>> K = rbf_kernel(np.linspace(0.0, 10.0, 300))
    >>> A = K + 0.01 * np.eye(300)
    >>> M = pivoted_cholesky_preconditioner(K, 0.01, 20)
    >>> b = np.ones(300)
    >>> cg(A, b, rtol=1e-8, M=M).iterations < cg(A, b, rtol=1e-8).iterations
    True
    """
    noise = _positive(noise, "noise")
    L, _ = pivoted_cholesky(K, rank)
    r = L.shape[1]
    C = scipy.linalg.cho_factor(noise * np.eye(r) + L.T @ L, lower=True) if r else None

    def apply(v):
        if C is None:
            return v / noise
        return (v - L @ scipy.linalg.cho_solve(C, L.T @ v)) / noise

    M = Preconditioner(f"pivoted Cholesky (rank {r}) + noise", apply, L.shape[0])
    M.rank = r
    # det(noise I_n + L L^T) = noise^(n - r) det(noise I_r + L^T L)
    M.logdet = float((L.shape[0] - r) * np.log(noise)
                     + (2.0 * np.sum(np.log(np.diag(C[0]))) if r else 0.0))
    return M
