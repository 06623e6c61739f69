"""How fast CG converges, and how to tell when to stop (lesson 04).

* :func:`chebyshev_bound` and :func:`iterations_needed` -- the classical
  bound ``||e_k||_A / ||e_0||_A <= 2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^k``
  and the number of iterations it promises;
* :func:`best_polynomial_error` -- CG's A-norm error as the minimum of
  ``||p(A) e_0||_A`` over polynomials with ``p(0) = 1``, computed from the
  eigenvalues as MINRES in exact-arithmetic fashion (Lanczos with full
  reorthogonalisation on the diagonal matrix);
* :func:`chebyshev_spectrum` and :func:`strakos_spectrum` -- spectra for
  which the bound is nearly sharp, and for which rounding errors delay CG;
* :func:`lanczos_cg_iterates` -- CG's iterates computed from Lanczos (with
  full reorthogonalisation: "CG in exact arithmetic"); the Lanczos matrix
  rebuilt from CG's coefficients is lesson 03's
  :func:`krylov_ref.conjugacy.lanczos_from_cg`;
* :func:`anorm_errors` and :func:`anorm_error_estimate` -- the true A-norm
  errors of a sequence of iterates, and the Hestenes--Stiefel estimate of
  them from CG's own ``alpha_j`` and ``||r_j||``.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._operators import as_operator, as_vector
from .krylov import lanczos, tridiagonal

__all__ = [
    "chebyshev_bound", "iterations_needed", "anorm_error_estimate",
    "best_polynomial_error", "chebyshev_spectrum", "strakos_spectrum",
    "lanczos_cg_iterates", "anorm_errors",
]


# --------------------------------------------------------------------------
# validation helpers


def _real(value, name, minimum=None, strict=False):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum:g}, got {value!r}")
    return value


def _integer(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _vector(value, name):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D array of numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


# --------------------------------------------------------------------------
# the Chebyshev bound


def chebyshev_bound(kappa, k):
    """The Chebyshev bound on CG's A-norm error reduction after ``k`` steps.

    ``||e_k||_A / ||e_0||_A <= 2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**k``
    for CG (in exact arithmetic) on an SPD matrix with condition number
    ``kappa``.

    Parameters
    ----------
    kappa : float
        Condition number ``lambda_max / lambda_min``, ``>= 1``.
    k : int or array_like of int
        Number of iterations, ``>= 0``.

    Returns
    -------
    float or ndarray
        A float when ``k`` is a scalar, else an array of the shape of ``k``.

    Raises
    ------
    ValueError
        If ``kappa < 1``, ``k < 0``, or either is not finite.

    Examples
    --------
    >>> from krylov_ref.convergence import chebyshev_bound
    >>> chebyshev_bound(9.0, 2)      # rate (3 - 1) / (3 + 1) = 1/2
    0.5
    >>> chebyshev_bound(9.0, [0, 1, 2, 3])
    array([2.  , 1.  , 0.5 , 0.25])
    """
    kappa = _real(kappa, "kappa", minimum=1.0)
    try:
        k_arr = np.asarray(k, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"k must be a number or an array of numbers, got {k!r}") from None
    if not np.all(np.isfinite(k_arr)) or np.any(k_arr < 0):
        raise ValueError(f"k must be finite and >= 0, got {k!r}")
    s = np.sqrt(kappa)
    rate = (s - 1.0) / (s + 1.0)
    bound = 2.0 * np.power(rate, k_arr)
    return float(bound) if bound.ndim == 0 else bound


def iterations_needed(kappa, rtol):
    """The smallest ``k`` with ``chebyshev_bound(kappa, k) <= rtol``.

    Enough CG iterations (in exact arithmetic) to reduce the A-norm of the
    error by the factor ``rtol``, whatever the right-hand side and whatever
    the eigenvalues between ``lambda_min`` and ``kappa * lambda_min``.

    Parameters
    ----------
    kappa : float
        Condition number, ``>= 1``.
    rtol : float
        Required reduction ``||e_k||_A / ||e_0||_A``, ``> 0``.

    Returns
    -------
    int
        ``ceil(log(rtol / 2) / log(rate))`` with
        ``rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)``, corrected for
        rounding so that it is exactly the smallest such integer; ``0`` when
        ``rtol >= 2``.

    Raises
    ------
    ValueError
        If ``kappa < 1`` or ``rtol <= 0``.

    Examples
    --------
    >>> from krylov_ref.convergence import iterations_needed
    >>> iterations_needed(9.0, 0.25)        # bounds 2, 1, 0.5, 0.25
    3
    >>> iterations_needed(1e4, 1e-6)        # about sqrt(kappa)/2 * log(2/rtol)
    726
    """
    kappa = _real(kappa, "kappa", minimum=1.0)
    rtol = _real(rtol, "rtol", minimum=0.0, strict=True)
    if rtol >= 2.0:
        return 0
    s = np.sqrt(kappa)
    if s == 1.0:
        return 1  # rate 0: one step solves a multiple of the identity
    log_rate = np.log1p(-2.0 / (s + 1.0))
    k = max(int(np.ceil(np.log(rtol / 2.0) / log_rate)), 0)
    # The logarithms are rounded: make k exactly the smallest integer that works.
    while k > 0 and chebyshev_bound(kappa, k - 1) <= rtol:
        k -= 1
    while chebyshev_bound(kappa, k) > rtol:
        k += 1
    return k


# --------------------------------------------------------------------------
# CG as the best polynomial


def best_polynomial_error(eigenvalues, coefficients, k):
    """``min ||p(A) e_0||_A`` over polynomials of degree ``<= k`` with ``p(0) = 1``.

    With ``e_0 = sum_i c_i v_i`` in an orthonormal eigenbasis of ``A``,
    ``||p(A) e_0||_A^2 = sum_i lambda_i c_i^2 p(lambda_i)^2``: a weighted
    least-squares problem for the coefficients of ``p``. In exact arithmetic
    CG's A-norm error after ``k`` steps equals this minimum.

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        Eigenvalues ``lambda_i > 0`` of ``A``.
    coefficients : array_like, shape (n,)
        Components ``c_i = v_i^T e_0`` of the initial error.
    k : int
        Polynomial degree, ``>= 0``.

    Returns
    -------
    float
        Accurate to about ``1e-13`` relative, however small the minimum is
        (the tests compare it with exact rational arithmetic, down to
        minima of ``1e-14 ||e_0||_A``).

    Notes
    -----
    With ``w_i = sqrt(lambda_i) |c_i|`` the minimum is
    ``min ||p(Lambda) w||_2``, ``Lambda = diag(lambda)``: the residual norm of
    MINRES (or GMRES) on ``Lambda y = w`` from ``y = 0`` after ``k`` steps.
    It is computed that way, in exact-arithmetic fashion: Lanczos on
    ``Lambda`` from ``w`` with full reorthogonalisation gives the ``(k + 1) x
    k`` tridiagonal matrix, Givens rotations reduce it to triangular form, and
    the minimum is ``||w|| |s_1 s_2 ... s_k|``, the product of the rotations'
    sines. The Lanczos vectors are an orthonormal, hence well-conditioned,
    basis of the polynomials; the product of sines keeps full relative
    accuracy where a residual ``w - (fit)`` would cancel to ``eps ||w||``.
    (A least-squares fit with ``q`` in a Chebyshev basis on
    ``[lambda_min, lambda_max]``, used before, is ill-conditioned when an
    outlier stretches that interval: with 80 eigenvalues in [1, 5] and one at
    800 it stalled near ``2e-4 ||e_0||_A`` while the minimum went on down.)

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.convergence import best_polynomial_error
    >>> lam, c = np.array([1.0, 2.0, 4.0]), np.ones(3)
    >>> round(best_polynomial_error(lam, c, 0) ** 2, 12)   # ||e_0||_A^2 = 1 + 2 + 4
    7.0
    >>> best_polynomial_error(lam, c, 3) < 1e-12           # p vanishes on the spectrum
    True
    """
    lam = _vector(eigenvalues, "eigenvalues")
    c = _vector(coefficients, "coefficients")
    if lam.size == 0:
        raise ValueError("eigenvalues must not be empty")
    if c.shape != lam.shape:
        raise ValueError(f"coefficients has shape {c.shape} but eigenvalues has shape {lam.shape}")
    if np.any(lam <= 0):
        raise ValueError("eigenvalues must be positive (A must be SPD)")
    k = _integer(k, "k", 0)
    w = np.sqrt(lam) * np.abs(c)  # ||p(A) e_0||_A = ||w * p(lambda)||_2
    norm_w = float(np.linalg.norm(w))
    if k == 0 or norm_w == 0.0:
        return norm_w
    # Degree n suffices to vanish on all n eigenvalues; Lanczos stops there anyway.
    # On an invariant Krylov space Lanczos stops early with beta[-1] = 0: the
    # last sine is 0, and so is the minimum.
    _, alpha, beta = lanczos(lambda v: lam * v, w, min(k, lam.size), reorthogonalize=True)
    return norm_w * float(np.prod(np.abs(_minres_sines(alpha, beta))))


def _minres_sines(alpha, beta):
    """Sines of the Givens rotations that reduce the ``(m + 1) x m`` Lanczos
    matrix (diagonal ``alpha``, off-diagonal and last row ``beta``) to upper
    triangular form: the factor by which each MINRES step shrinks the
    residual. The recurrences are those of :func:`krylov_ref.minres`."""
    sines = np.empty(alpha.size)
    cs, sn, dbar = -1.0, 0.0, 0.0                   # no rotation yet
    for j, (a, b) in enumerate(zip(alpha, beta)):
        gbar = sn * dbar - cs * a                   # T[j, j] after the previous rotation
        dbar = -cs * b                              # T[j, j + 1] after it, for the next step
        gamma = np.hypot(gbar, b)                   # > 0: T is positive definite
        cs, sn = gbar / gamma, b / gamma            # the rotation that zeroes T[j + 1, j]
        sines[j] = sn
    return sines


# --------------------------------------------------------------------------
# spectra


def chebyshev_spectrum(n, lam_min, lam_max):
    """``n`` eigenvalues at the Chebyshev points of ``[lam_min, lam_max]``.

    ``lambda_i = lam_min + (lam_max - lam_min) (1 - cos((i - 1/2) pi / n)) / 2``
    for ``i = 1..n``: dense near both ends, which makes the Chebyshev bound
    nearly sharp for CG (no eigenvalue is isolated enough for a Ritz value to
    find it early). The endpoints themselves are mapped to exactly
    ``lam_min`` and ``lam_max`` so that the condition number is exact.

    Parameters
    ----------
    n : int
        Number of eigenvalues, ``>= 2``.
    lam_min, lam_max : float
        ``0 < lam_min < lam_max``.

    Returns
    -------
    ndarray, shape (n,)
        Increasing; first ``lam_min``, last ``lam_max``.

    Examples
    --------
    >>> from krylov_ref.convergence import chebyshev_spectrum
    >>> lam = chebyshev_spectrum(5, 1.0, 100.0)
    >>> float(lam[0]), float(lam[-1]), bool((lam[1:] > lam[:-1]).all())
    (1.0, 100.0, True)
    """
    n = _integer(n, "n", 2)
    lam_min = _real(lam_min, "lam_min", minimum=0.0, strict=True)
    lam_max = _real(lam_max, "lam_max")
    if lam_max <= lam_min:
        raise ValueError(f"need lam_min < lam_max, got {lam_min!r} and {lam_max!r}")
    t = (1 - np.cos((np.arange(1, n + 1) - 0.5) * np.pi / n)) / 2
    t = (t - t[0]) / (t[-1] - t[0])  # stretch so the ends are exact
    return lam_min + (lam_max - lam_min) * t


def strakos_spectrum(n, lam_min, lam_max, rho):
    """Strakos's test spectrum, on which rounding errors delay CG badly.

    ``lambda_i = lam_min + (i - 1)/(n - 1) (lam_max - lam_min) rho^(n - i)``,
    ``i = 1..n``: for ``rho < 1`` the eigenvalues crowd at the lower end and
    spread out towards the top, where a few well-separated large eigenvalues
    are found early by Ritz values -- and then found again and again in
    floating point (Strakos 1991; Greenbaum and Strakos 1992).

    Parameters
    ----------
    n : int
        Number of eigenvalues, ``>= 2``.
    lam_min, lam_max : float
        ``0 < lam_min < lam_max``.
    rho : float
        ``0 < rho <= 1``; ``rho = 1`` gives equally spaced eigenvalues.

    Returns
    -------
    ndarray, shape (n,)
        Increasing, from ``lam_min`` to ``lam_max``.

    Examples
    --------
    >>> from krylov_ref.convergence import strakos_spectrum
    >>> strakos_spectrum(3, 1.0, 3.0, 1.0)
    array([1., 2., 3.])
    >>> lam = strakos_spectrum(48, 0.1, 1000.0, 0.8)
    >>> float(lam[0]), float(lam[-1]), round(float(lam[-1] / lam[0]))
    (0.1, 1000.0, 10000)
    """
    n = _integer(n, "n", 2)
    lam_min = _real(lam_min, "lam_min", minimum=0.0, strict=True)
    lam_max = _real(lam_max, "lam_max")
    if lam_max <= lam_min:
        raise ValueError(f"need lam_min < lam_max, got {lam_min!r} and {lam_max!r}")
    rho = _real(rho, "rho", minimum=0.0, strict=True)
    if rho > 1:
        raise ValueError(f"rho must be in (0, 1], got {rho!r}")
    i = np.arange(1, n + 1)
    return lam_min + (i - 1) / (n - 1) * (lam_max - lam_min) * rho ** (n - i)


# --------------------------------------------------------------------------
# CG and Lanczos


def lanczos_cg_iterates(A, b, k, *, reorthogonalize=True):
    """CG's iterates ``x_j = ||b|| Q_j T_j^{-1} e_1``, ``j = 0..k``, from Lanczos.

    In exact arithmetic these are CG's iterates from ``x_0 = 0``. With
    ``reorthogonalize=True`` the Lanczos vectors stay orthonormal to working
    precision, so the iterates are those of CG *without* the delays that
    rounding errors cause: a stand-in for CG in exact arithmetic.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        Symmetric positive definite, or ``v -> A v``.
    b : ndarray, shape (n,)
        Right-hand side (not zero).
    k : int
        Number of steps, ``1 <= k <= n``.
    reorthogonalize : bool
        Passed to :func:`krylov_ref.lanczos`.

    Returns
    -------
    X : ndarray, shape (m + 1, n)
        ``X[j]`` is ``x_j``; ``X[0] = 0``. ``m = k``, or fewer when Lanczos
        stops early because the Krylov subspace is invariant (then
        ``X[m]`` is the exact solution).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.convergence import lanczos_cg_iterates
    >>> A = np.diag([1.0, 2.0, 4.0])
    >>> X = lanczos_cg_iterates(A, np.ones(3), 3)
    >>> X.shape, np.allclose(X[-1], [1.0, 0.5, 0.25])
    ((4, 3), True)
    """
    b_arr = np.asarray(b)
    if b_arr.ndim == 0:
        raise ValueError("b must be a vector")
    op = as_operator(A, b_arr.shape[0], "A")
    b = as_vector(b, op.n, "b")
    Q, alpha, beta = lanczos(op, b, k, reorthogonalize=reorthogonalize)
    m = alpha.size
    X = np.zeros((m + 1, op.n))
    norm_b = np.linalg.norm(b)
    for j in range(1, m + 1):
        T = tridiagonal(alpha[:j], beta[: j - 1])
        e1 = np.zeros(j)
        e1[0] = norm_b
        X[j] = Q[:, :j] @ np.linalg.solve(T, e1)
    return X


def anorm_errors(A, iterates, x_true):
    """``||x_j - x_*||_A`` for each iterate.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or callable
        SPD matrix, or ``v -> A v``.
    iterates : array_like, shape (m, n)
        One iterate per row.
    x_true : array_like, shape (n,)

    Returns
    -------
    ndarray, shape (m,)

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.convergence import anorm_errors
    >>> anorm_errors(np.diag([1.0, 4.0]), [[0.0, 0.0], [1.0, 0.0]], [1.0, 1.0])
    array([2.23606798, 2.        ])
    """
    x_true = np.asarray(x_true)
    if x_true.ndim != 1:
        raise ValueError(f"x_true must be a vector, got shape {x_true.shape}")
    op = as_operator(A, x_true.shape[0], "A")
    x_true = as_vector(x_true, op.n, "x_true")
    X = np.asarray(iterates, dtype=float)
    if X.ndim != 2 or X.shape[1] != op.n:
        raise ValueError(f"iterates must have shape (m, {op.n}), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("iterates contain NaN or inf")
    out = np.empty(X.shape[0])
    for j, x in enumerate(X):
        e = x - x_true
        out[j] = np.sqrt(max(e @ op(e), 0.0))
    return out


# --------------------------------------------------------------------------
# the Hestenes--Stiefel error estimate


def anorm_error_estimate(alphas, residual_norms, d):
    """Hestenes--Stiefel estimates of CG's A-norm errors with delay ``d``.

    ``est[k] = sqrt(sum_{j=k}^{k+d-1} alpha_j ||r_j||^2)`` for
    ``k = 0, ..., len(alphas) - d``. Since
    ``||e_j||_A^2 - ||e_{j+1}||_A^2 = alpha_j ||r_j||^2`` for CG,
    ``est[k]^2 = ||e_k||_A^2 - ||e_{k+d}||_A^2``: a lower bound on
    ``||e_k||_A``, close when the error drops a lot in ``d`` steps.

    Parameters
    ----------
    alphas : array_like, shape (m,)
        CG's step lengths ``alpha_0 .. alpha_{m-1}``, positive.
    residual_norms : array_like, shape (>= m,)
        ``||r_0||, ||r_1||, ...``; only the first ``m`` are used, so CG's
        full history (``m + 1`` entries) can be passed as it is.
    d : int
        The delay: how many steps ahead the estimate looks, ``1 <= d <= m``.

    Returns
    -------
    ndarray, shape (m - d + 1,)
        ``est[k]`` estimates ``||x_k - x_*||_A`` (the norm, not its square).

    Notes
    -----
    Each window is summed directly. Differences of cumulative sums would be
    shorter to write but cancel catastrophically once the remaining error is
    below ``1e-8`` of the initial one (the squares are below ``1e-16``).

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref import cg
    >>> from krylov_ref.convergence import anorm_error_estimate
    >>> A, b = np.diag([1.0, 2.0, 4.0]), np.ones(3)
    >>> res = cg(A, b, rtol=0.0, maxiter=3)
    >>> est = anorm_error_estimate(res.alphas, res.residual_norms, 3)
    >>> x_star = np.array([1.0, 0.5, 0.25])
    >>> bool(np.isclose(est[0], np.sqrt(x_star @ A @ x_star)))   # d = n: exact
    True
    """
    a = _vector(alphas, "alphas")
    r = _vector(residual_norms, "residual_norms")
    m = a.size
    if m == 0:
        raise ValueError("alphas must not be empty")
    if r.size < m:
        raise ValueError(f"residual_norms has {r.size} entries; need at least len(alphas) = {m}")
    if np.any(a <= 0):
        raise ValueError("alphas must be positive (CG on an SPD matrix)")
    if np.any(r < 0):
        raise ValueError("residual_norms must be non-negative")
    d = _integer(d, "d", 1)
    if d > m:
        raise ValueError(f"d = {d} exceeds len(alphas) = {m}: no window of d steps fits")
    terms = a * r[:m] ** 2
    windows = np.lib.stride_tricks.sliding_window_view(terms, d)
    return np.sqrt(windows.sum(axis=1))
