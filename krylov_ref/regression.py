"""Regression without ``X^T X`` (lesson 08): the pieces around :mod:`krylov_ref.ridge`.

* :func:`ridge_matvec` -- the product ``v -> X^T (X v) + lam v`` that CG needs,
  two thin products with ``X`` instead of the ``p x p`` matrix ``X^T X``;
* :func:`regularization_path` -- ridge solutions for a sequence of ``lam``,
  each CG solve warm-started from the previous solution, with the
  iterations each one took;
* :func:`synthetic_regression` -- seeded regression problems, well or badly
  conditioned by construction;
* :func:`bag_of_words` -- a seeded document-term count matrix with
  Zipf-distributed word frequencies, the kind of sparse ``X`` whose ``X^T X``
  is far larger than ``X``;
* :func:`gram_nnz` -- the number of non-zeros of ``X^T X``, counted exactly
  or estimated from a sample of its rows, without holding ``X^T X``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .ridge import _as_data_matrix as _data_matrix
from .ridge import _nonnegative
from .ridge import cgls, ridge_cg

__all__ = ["ridge_matvec", "regularization_path", "PathResult", "synthetic_regression",
           "bag_of_words", "gram_nnz"]


def _vector(v, n, name):
    v = np.asarray(v)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {v.shape}")
    if np.iscomplexobj(v) or not (np.issubdtype(v.dtype, np.number) or v.dtype == bool):
        raise ValueError(f"{name} must be a real vector, got dtype {v.dtype}")
    if v.shape[0] != n:
        raise ValueError(f"{name} has length {v.shape[0]}, expected {n}")
    v = v.astype(float)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or inf")
    return v


def _positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def ridge_matvec(X, v, lam):
    """The ridge normal-equations product ``(X^T X + lam I) v``, without ``X^T X``.

    Computed as ``X^T (X v) + lam v``: one product with ``X`` and one with
    ``X^T``, ``O(nnz(X))`` work and no ``p x p`` matrix.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (n, p)
        Data matrix, one sample per row.
    v : ndarray, shape (p,)
        The vector to multiply.
    lam : float
        Regularisation parameter, ``lam >= 0``.

    Returns
    -------
    ndarray, shape (p,)

    Raises
    ------
    ValueError
        If ``X`` is not a finite real matrix, ``v`` does not have one entry
        per column of ``X``, or ``lam`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 0.0]])
    >>> ridge_matvec(X, np.array([1.0, -1.0]), 0.5).tolist()
    [0.5, -3.5]
    >>> ((X.T @ X + 0.5 * np.eye(2)) @ np.array([1.0, -1.0])).tolist()
    [0.5, -3.5]
    """
    X = _data_matrix(X)
    v = _vector(v, X.shape[1], "v")
    lam = _nonnegative(lam, "lam")
    return X.T @ (X @ v) + lam * v


@dataclass(frozen=True)
class PathResult:
    """Ridge solutions along a regularisation path.

    Attributes
    ----------
    lams : ndarray, shape (k,)
        The regularisation parameters, in the order they were solved.
    coefs : ndarray, shape (k, p)
        ``coefs[i]`` solves ``(X^T X + lams[i] I) beta = X^T y``.
    iterations : ndarray of int, shape (k,)
        CG iterations each solve took.
    converged : ndarray of bool, shape (k,)
        Whether each solve met its stopping test.
    matvecs : int
        Products with ``X^T X + lam I`` in all (pairs of products with
        ``X`` and ``X^T``), initial residuals and final checks included.
    """

    lams: np.ndarray
    coefs: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    matvecs: int

    @property
    def total_iterations(self):
        """All CG iterations of the path, as a Python int."""
        return int(self.iterations.sum())


def regularization_path(X, y, lams, *, rtol=1e-5, atol=0.0, maxiter=None, warm_start=True,
                        method="cg"):
    """Ridge solutions for several ``lam``, each solve warm-started from the last.

    The ``lams`` are solved in the order given. With ``warm_start`` (the
    default), the solve for ``lams[i]`` starts from the solution for
    ``lams[i-1]`` (the first from zero): neighbouring ridge solutions are
    close, so the warm start begins near the answer and needs fewer
    iterations than a start from zero.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (n, p)
        Data matrix, one sample per row.
    y : ndarray, shape (n,)
        Targets.
    lams : sequence of float, length k >= 1
        Regularisation parameters, each ``>= 0``, in the order to solve them.
        (Typically decreasing: strong regularisation first, where CG is fast.)
    rtol, atol : float
        Each solve stops when ``||X^T y - (X^T X + lam I) beta|| <=
        max(rtol ||X^T y||, atol)``, as in :func:`krylov_ref.ridge.ridge_cg`.
    maxiter : int, optional
        Maximum iterations of each solve; ``10 p`` by default.
    warm_start : bool
        Start each solve from the previous solution (True) or from zero.
    method : {"cg", "cgls"}
        :func:`~krylov_ref.ridge.ridge_cg` with ``lam``, or
        :func:`~krylov_ref.ridge.cgls` with ``damp = sqrt(lam)`` (the same
        iterates in exact arithmetic, more accurate on ill-conditioned ``X``).

    Returns
    -------
    PathResult

    Raises
    ------
    ValueError
        If ``lams`` is empty or holds a negative or non-finite value, or
        ``method`` is unknown; or as :func:`~krylov_ref.ridge.ridge_cg` for
        bad ``X``, ``y`` or tolerances.

    Examples
    --------
    >>> import numpy as np
    >>> X, y, _ = synthetic_regression(100, 20, noise=0.1, seed=0)
    >>> lams = np.geomspace(10.0, 0.01, 8)
    >>> warm = regularization_path(X, y, lams, rtol=1e-8)
    >>> cold = regularization_path(X, y, lams, rtol=1e-8, warm_start=False)
    >>> bool(warm.converged.all()), warm.total_iterations < cold.total_iterations
    (True, True)
    """
    if method not in ("cg", "cgls"):
        raise ValueError(f"method must be 'cg' or 'cgls', got {method!r}")
    lams = np.asarray(lams)
    if lams.ndim == 0:
        lams = lams.reshape(1)
    if lams.ndim != 1 or lams.size == 0:
        raise ValueError(f"lams must be a non-empty 1-D sequence, got shape {lams.shape}")
    if not (np.issubdtype(lams.dtype, np.number) and np.isrealobj(lams)):
        raise ValueError(f"lams must hold real numbers, got dtype {lams.dtype}")
    lams = lams.astype(float)
    if not np.all(np.isfinite(lams)) or np.any(lams < 0):
        raise ValueError(f"every lam must be a finite number >= 0, got {lams.tolist()}")
    X = _data_matrix(X)
    coefs = np.zeros((lams.size, X.shape[1]))
    iterations = np.zeros(lams.size, dtype=int)
    converged = np.zeros(lams.size, dtype=bool)
    matvecs = 0
    beta = None
    for i, lam in enumerate(lams):
        x0 = beta if warm_start else None
        if method == "cg":
            res = ridge_cg(X, y, lam, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter)
        else:
            res = cgls(X, y, np.sqrt(lam), x0=x0, rtol=rtol, atol=atol, maxiter=maxiter)
        beta = res.x
        coefs[i] = beta
        iterations[i] = res.iterations
        converged[i] = res.converged
        matvecs += res.matvecs
    return PathResult(lams=lams, coefs=coefs, iterations=iterations, converged=converged,
                      matvecs=int(matvecs))


def synthetic_regression(n_samples, n_features, *, cond=None, noise=0.1, seed=0):
    """A seeded linear regression problem ``y = X beta + noise``.

    Parameters
    ----------
    n_samples, n_features : int
        The shape ``(n, p)`` of ``X``.
    cond : float, optional
        Without it, ``X`` has independent ``N(0, 1/p)`` entries (rows of unit
        expected length; for ``n`` a few times ``p`` it is well conditioned).
        With it, ``X = U diag(s) V^T`` with random orthonormal ``U`` and
        ``V`` and singular values ``s`` spaced geometrically from 1 down to
        ``1/cond``, so that ``kappa(X) = cond`` (needs ``n >= p``).
    noise : float
        Standard deviation of the Gaussian noise added to ``X beta``.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray, shape (n, p)
    y : ndarray, shape (n,)
    beta : ndarray, shape (p,)
        The coefficients that generated ``y``, standard normal.

    Examples
    --------
    >>> import numpy as np
    >>> X, y, beta = synthetic_regression(50, 10, cond=1e3, noise=0.0, seed=1)
    >>> s = np.linalg.svd(X, compute_uv=False)
    >>> round(float(s[0] / s[-1])), bool(np.allclose(X @ beta, y))
    (1000, True)
    """
    n = _positive_int(n_samples, "n_samples")
    p = _positive_int(n_features, "n_features")
    noise = _nonnegative(noise, "noise")
    rng = np.random.default_rng(seed)
    if cond is None:
        X = rng.standard_normal((n, p)) / np.sqrt(p)
    else:
        if (not isinstance(cond, numbers.Real) or isinstance(cond, bool)
                or not np.isfinite(cond) or cond < 1):
            raise ValueError(f"cond must be a finite number >= 1, got {cond!r}")
        if n < p:
            raise ValueError(f"a prescribed cond needs n_samples >= n_features, got ({n}, {p})")
        U, _ = np.linalg.qr(rng.standard_normal((n, p)))
        V, _ = np.linalg.qr(rng.standard_normal((p, p)))
        s = np.geomspace(1.0, 1.0 / cond, p)
        X = (U * s) @ V.T
    beta = rng.standard_normal(p)
    y = X @ beta + noise * rng.standard_normal(n)
    return X, y, beta


def bag_of_words(n_docs, n_words, *, mean_length=100.0, exponent=1.1, seed=0):
    """A seeded document-term matrix of word counts with Zipf-distributed words.

    Word ``j`` (0-based; its frequency rank is ``j + 1``) occurs with
    probability proportional to ``(j + 1)^(-exponent)`` (Zipf's law,
    truncated to ``n_words`` words); each document has a Poisson number of
    words with mean ``mean_length`` (at least one), drawn independently.

    Parameters
    ----------
    n_docs, n_words : int
        The shape ``(n, p)``: documents (samples) by vocabulary (features).
    mean_length : float
        Mean number of words in a document.
    exponent : float
        Zipf exponent ``s > 0``; natural language has ``s`` close to 1.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    scipy.sparse.csr_array, shape (n_docs, n_words)
        ``X[d, j]`` is how often word ``j`` occurs in document ``d`` (float).

    Examples
    --------
    >>> X = bag_of_words(200, 1000, mean_length=50, seed=0)
    >>> X.shape, bool(X.sum(axis=1).min() >= 1)
    ((200, 1000), True)
    >>> counts = X.sum(axis=0)
    >>> bool(counts[0] > counts[9] > counts[99])      # frequent words first
    True
    """
    n = _positive_int(n_docs, "n_docs")
    p = _positive_int(n_words, "n_words")
    if (not isinstance(mean_length, numbers.Real) or isinstance(mean_length, bool)
            or not np.isfinite(mean_length) or mean_length <= 0):
        raise ValueError(f"mean_length must be a finite number > 0, got {mean_length!r}")
    if (not isinstance(exponent, numbers.Real) or isinstance(exponent, bool)
            or not np.isfinite(exponent) or exponent <= 0):
        raise ValueError(f"exponent must be a finite number > 0, got {exponent!r}")
    rng = np.random.default_rng(seed)
    weights = np.arange(1, p + 1, dtype=float) ** -float(exponent)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    lengths = np.maximum(rng.poisson(mean_length, n), 1)
    # Inverse-CDF sampling: one uniform per word of the corpus.
    words = np.minimum(np.searchsorted(cdf, rng.random(int(lengths.sum())), side="right"), p - 1)
    docs = np.repeat(np.arange(n), lengths)
    X = sp.csr_array((np.ones(words.size), (docs, words)), shape=(n, p))
    X.sum_duplicates()                   # repeated words add up to counts
    return X


def gram_nnz(X, *, sample=None, seed=0, chunk=2048):
    """Non-zeros of ``X^T X`` (its sparsity pattern), without storing ``X^T X``.

    Row ``j`` of ``X^T X`` is non-zero in column ``k`` when features ``j``
    and ``k`` occur together in some sample (row of ``X``). The rows are
    computed a block at a time and only counted.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (n, p)
    sample : int, optional
        Count all ``p`` rows of ``X^T X`` (the default), or estimate from
        ``sample`` of them: the ``sample // 2`` features that occur in the
        most samples (the densest rows, counted exactly) and a systematic
        sample of the others, every ``m``-th in order of frequency from a
        random start (scaled up by ``m``). Sampling along the frequency
        order keeps the estimate accurate when a few frequent features fill
        whole rows and the rest thin out gradually, as words of a text
        corpus do.
    seed : int
        Seed for the random sample.
    chunk : int
        Rows of ``X^T X`` formed at a time (memory ``O(chunk p)`` at most).

    Returns
    -------
    int or float
        The exact count (an int) or the estimate (a float).

    Examples
    --------
    >>> X = bag_of_words(300, 2000, mean_length=40, seed=0)
    >>> exact = gram_nnz(X)
    >>> exact == int((X.T @ X).count_nonzero())
    True
    >>> abs(gram_nnz(X, sample=400) / exact - 1) < 0.1
    True
    """
    X = _data_matrix(X)
    p = X.shape[1]
    pattern = sp.csc_array((sp.csr_array(X) != 0).astype(float))
    pattern.eliminate_zeros()
    chunk = _positive_int(chunk, "chunk")

    def count(columns):
        total = 0
        for start in range(0, len(columns), chunk):
            block = pattern[:, columns[start:start + chunk]]
            total += (block.T @ pattern).nnz    # non-negative: no cancellation
        return total

    if sample is not None:
        sample = _positive_int(sample, "sample")
    if sample is None or sample >= p:
        return int(count(np.arange(p)))
    frequency = np.diff(pattern.indptr)           # samples in which each feature occurs
    order = np.argsort(-frequency, kind="stable")
    head, rest = order[: sample // 2], order[sample // 2:]
    step = rest.size / (sample - head.size)
    start = np.random.default_rng(seed).uniform(0.0, step)
    drawn = rest[np.floor(start + step * np.arange(sample - head.size)).astype(int)]
    return float(count(head) + count(np.sort(drawn)) * step)
