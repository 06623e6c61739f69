"""Test problems that state their properties.

Every generator returns a :class:`Problem` with the matrix, a right-hand side
built from a known solution, and what is true of the matrix (symmetric, SPD,
condition number), so that tests and lessons use the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "Problem", "poisson1d", "poisson2d", "spd_with_spectrum", "random_spd",
    "quadratic2d",
]


@dataclass(frozen=True)
class Problem:
    """A linear system ``A x = b`` with known solution and properties.

    Attributes
    ----------
    name : str
    A : ndarray or scipy.sparse.csr_array
    b : ndarray
    x_true : ndarray
        ``A @ x_true == b`` up to rounding.
    symmetric, spd : bool
    cond : float or None
        2-norm condition number, when known.
    eigenvalues : ndarray or None
        The spectrum, when known in closed form or by construction.
    """

    name: str
    A: object
    b: np.ndarray
    x_true: np.ndarray
    symmetric: bool
    spd: bool
    cond: float | None = None
    eigenvalues: np.ndarray | None = None

    @property
    def n(self):
        return self.b.shape[0]


def _positive_int(value, name, minimum=1):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _rhs(A, seed):
    x_true = np.random.default_rng(seed).standard_normal(A.shape[0])
    return A @ x_true, x_true


def poisson1d(n, seed=0):
    """The 1-D Laplacian ``tridiag(-1, 2, -1)`` of order ``n`` (sparse CSR).

    Its eigenvalues are ``2 - 2 cos(j pi / (n + 1))``, j = 1..n, so
    ``cond`` grows like ``(2 (n + 1) / pi)^2``.

    Examples
    --------
    >>> from krylov_ref.problems import poisson1d
    >>> p = poisson1d(5)
    >>> p.A.toarray()[0], round(p.cond, 3)
    (array([ 2., -1.,  0.,  0.,  0.]), 13.928)
    """
    n = _positive_int(n, "n")
    A = sp.diags_array([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)],
                       offsets=[-1, 0, 1], format="csr")
    lam = 2 - 2 * np.cos(np.arange(1, n + 1) * np.pi / (n + 1))
    b, x_true = _rhs(A, seed)
    return Problem(f"poisson1d(n={n})", A, b, x_true, True, True,
                   lam[-1] / lam[0], lam)


def poisson2d(m, seed=0):
    """The 5-point 2-D Laplacian on an ``m x m`` interior grid (n = m^2).

    Examples
    --------
    >>> from krylov_ref.problems import poisson2d
    >>> p = poisson2d(3)
    >>> p.A.shape, p.A.diagonal()[0]
    ((9, 9), np.float64(4.0))
    """
    m = _positive_int(m, "m")
    T = poisson1d(m).A
    I = sp.identity(m, format="csr")
    A = sp.csr_array(sp.kron(I, T) + sp.kron(T, I))
    lam1 = 2 - 2 * np.cos(np.arange(1, m + 1) * np.pi / (m + 1))
    lam = np.sort(np.add.outer(lam1, lam1).ravel())
    b, x_true = _rhs(A, seed)
    return Problem(f"poisson2d(m={m})", A, b, x_true, True, True,
                   lam[-1] / lam[0], lam)


def spd_with_spectrum(eigenvalues, seed=0):
    """Dense SPD ``A = V diag(eigenvalues) V^T`` with a random orthogonal ``V``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.problems import spd_with_spectrum
    >>> p = spd_with_spectrum([1.0, 1.0, 5.0])
    >>> np.allclose(np.linalg.eigvalsh(p.A), [1, 1, 5]), p.cond
    (True, 5.0)
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError("eigenvalues must be a non-empty 1-D array")
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError("eigenvalues must be finite and positive for an SPD matrix")
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.standard_normal((lam.size, lam.size)))
    A = (V * lam) @ V.T
    A = (A + A.T) / 2  # exact symmetry, which rounding in the product loses
    b, x_true = _rhs(A, seed + 1)
    return Problem(f"spd_with_spectrum(n={lam.size})", A, b, x_true, True, True,
                   lam.max() / lam.min(), np.sort(lam))


def random_spd(n, cond, seed=0, spacing="geometric"):
    """Dense random SPD matrix of order ``n`` with condition number ``cond``.

    Parameters
    ----------
    n : int
    cond : float
        ``>= 1``; eigenvalues run from 1 to ``cond``.
    seed : int
    spacing : {"geometric", "linear"}
        How the eigenvalues fill ``[1, cond]``.

    Examples
    --------
    >>> from krylov_ref.problems import random_spd
    >>> p = random_spd(20, 100.0, seed=1)
    >>> round(float(np.linalg.cond(p.A)), 6)
    100.0
    """
    n = _positive_int(n, "n")
    if not np.isfinite(cond) or cond < 1:
        raise ValueError(f"cond must be a finite number >= 1, got {cond!r}")
    if spacing == "geometric":
        lam = np.geomspace(1.0, cond, n)
    elif spacing == "linear":
        lam = np.linspace(1.0, cond, n)
    else:
        raise ValueError(f"spacing must be 'geometric' or 'linear', got {spacing!r}")
    p = spd_with_spectrum(lam, seed)
    return Problem(f"random_spd(n={n}, cond={cond:g})", p.A, p.b, p.x_true,
                   True, True, float(cond), lam)


def quadratic2d(kappa=10.0, angle=np.pi / 6, b=(1.0, 1.0)):
    """A 2-by-2 SPD matrix with eigenvalues 1 and ``kappa`` whose axes are
    rotated by ``angle``: small enough to draw contours and iterate paths.

    Examples
    --------
    >>> from krylov_ref.problems import quadratic2d
    >>> p = quadratic2d(kappa=4.0)
    >>> np.allclose(np.linalg.eigvalsh(p.A), [1, 4])
    True
    """
    if not np.isfinite(kappa) or kappa < 1:
        raise ValueError(f"kappa must be a finite number >= 1, got {kappa!r}")
    c, s = np.cos(angle), np.sin(angle)
    V = np.array([[c, -s], [s, c]])
    A = (V * np.array([1.0, kappa])) @ V.T
    A = (A + A.T) / 2
    b = np.asarray(b, dtype=float)
    if b.shape != (2,):
        raise ValueError(f"b must have length 2, got shape {b.shape}")
    x_true = np.linalg.solve(A, b)
    return Problem(f"quadratic2d(kappa={kappa:g})", A, b, x_true, True, True,
                   float(kappa), np.array([1.0, kappa]))
