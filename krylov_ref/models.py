"""Models whose Hessians Newton-CG needs only as products (lesson 07).

* :class:`LogisticRegression` -- L2-regularised logistic regression with an
  analytic Hessian-vector product ``H v = X^T D X v / m + lam v`` (and the
  explicit Hessian, for small problems and for checking);
* :class:`TwoLayerMLP` -- a small numpy network ``x -> W2 tanh(W1 x + b1) + b2``
  with squared loss: gradient by backpropagation, the exact Hessian-vector
  product by Pearlmutter's R-operator, and the Gauss-Newton product;
* :func:`logistic_data` -- a seeded logistic-regression data set.

Every model takes its parameters as one flat vector, which is what an
optimiser sees.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ._operators import as_vector
from .ridge import _as_data_matrix, _nonnegative

__all__ = ["LogisticRegression", "TwoLayerMLP", "MLPParams", "logistic_data"]


# --------------------------------------------------------------------------
# Logistic regression


def logistic_data(m, n, *, seed=0, cond=1.0, signal=3.0):
    """A seeded logistic-regression data set with labels in {0, 1}.

    Features are standard normal, column ``j`` scaled by
    ``cond^(-j / (n - 1))`` so that ``kappa(X)`` grows with ``cond`` (an
    ill-conditioned problem is where Newton beats gradient descent). Labels
    are drawn as ``y_i ~ Bernoulli(sigma(x_i^T w_true))``.

    Parameters
    ----------
    m, n : int
        Number of samples and of features.
    seed : int
        Seed of ``np.random.default_rng``.
    cond : float
        Ratio of the largest to the smallest column scale, ``>= 1``.
    signal : float
        Standard deviation of the logits ``x_i^T w_true``: small means noisy
        labels, large means nearly separable classes.

    Returns
    -------
    X : ndarray, shape (m, n)
    y : ndarray, shape (m,)
        Labels 0.0 or 1.0.
    w_true : ndarray, shape (n,)
        The weights the labels were drawn from.

    Examples
    --------
    >>> from krylov_ref.models import logistic_data
    >>> X, y, w_true = logistic_data(100, 3, seed=1)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 3), [0.0, 1.0])
    """
    for value, name in ((m, "m"), (n, "n")):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not np.isfinite(cond) or cond < 1:
        raise ValueError(f"cond must be a finite number >= 1, got {cond!r}")
    signal = _nonnegative(signal, "signal")
    rng = np.random.default_rng(seed)
    scales = np.geomspace(1.0, 1.0 / cond, n)
    X = rng.standard_normal((m, n)) * scales
    w_true = rng.standard_normal(n)
    # Var(x^T w) = sum_j (scale_j w_j)^2 for standard normal x: set it to signal^2.
    w_true *= signal / max(np.linalg.norm(scales * w_true), np.finfo(float).tiny)
    y = (rng.random(m) < expit(X @ w_true)).astype(float)
    return X, y, w_true


class LogisticRegression:
    """L2-regularised logistic regression, labels ``y_i`` in {0, 1}.

    The objective, averaged over the ``m`` samples, with ``z = X w``::

        f(w) = 1/m sum_i [ log(1 + exp(z_i)) - y_i z_i ] + lam/2 ||w||^2
        grad f(w) = X^T (sigma(z) - y) / m + lam w
        H(w) = X^T D X / m + lam I,   D = diag(sigma(z_i) (1 - sigma(z_i)))

    ``H`` is positive semidefinite (positive definite when ``lam > 0``):
    the loss is convex, and Newton-CG's inner CG meets no negative curvature.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (m, n)
        Features, one sample per row (add a column of ones for an intercept).
    y : ndarray, shape (m,)
        Labels 0 or 1. For labels -1/+1 pass ``(y + 1) / 2``.
    lam : float
        L2 regularisation ``lam >= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.models import LogisticRegression, logistic_data
    >>> X, y, _ = logistic_data(50, 4, seed=0)
    >>> model = LogisticRegression(X, y, lam=0.1)
    >>> w, v = np.ones(4), np.arange(4.0)
    >>> bool(np.isclose(model.loss(np.zeros(4)), np.log(2)))  # sigma(0) = 1/2
    True
    >>> np.allclose(model.gradient(w), X.T @ (1 / (1 + np.exp(-X @ w)) - y) / 50 + 0.1 * w)
    True
    >>> np.allclose(model.hessp(w, v), model.hessian(w) @ v)
    True
    """

    def __init__(self, X, y, lam=0.0):
        self.X = _as_data_matrix(X)
        m, self.n_features = self.X.shape
        y_arr = np.asarray(y)
        if y_arr.ndim == 0 or y_arr.shape[0] != m:
            raise ValueError(
                f"X has {m} rows (samples) but y has shape {y_arr.shape}: "
                "need one label per row"
            )
        self.y = as_vector(y, m, "y")
        if not np.all((self.y == 0) | (self.y == 1)):
            raise ValueError(
                "labels y must be 0 or 1; for labels -1/+1 pass (y + 1) / 2"
            )
        self.lam = _nonnegative(lam, "lam")
        self.m = m
        # The curvature weights D depend on w only; the inner CG of Newton-CG
        # asks for many products at one w, so keep the last D.
        self._w_of_d = None
        self._d = None

    def loss(self, w):
        """``f(w)``; ``log(1 + e^z)`` is evaluated as ``logaddexp(0, z)``,
        which does not overflow for large logits."""
        w = as_vector(w, self.n_features, "w")
        z = self.X @ w
        return float(np.mean(np.logaddexp(0.0, z) - self.y * z) + 0.5 * self.lam * (w @ w))

    def gradient(self, w):
        """``X^T (sigma(X w) - y) / m + lam w``."""
        w = as_vector(w, self.n_features, "w")
        residual = expit(self.X @ w) - self.y
        return self.X.T @ residual / self.m + self.lam * w

    def _curvature(self, w):
        if self._w_of_d is None or not np.array_equal(w, self._w_of_d):
            s = expit(self.X @ w)
            self._d = s * (1.0 - s)
            self._w_of_d = w.copy()
        return self._d

    def hessp(self, w, v):
        """``H(w) v = X^T (D (X v)) / m + lam v``: two products with ``X``,
        never the ``n x n`` Hessian. The signature ``(w, v)`` is SciPy's."""
        w = as_vector(w, self.n_features, "w")
        v = as_vector(v, self.n_features, "v")
        d = self._curvature(w)
        return self.X.T @ (d * (self.X @ v)) / self.m + self.lam * v

    def hessian(self, w):
        """The explicit ``n x n`` Hessian ``X^T D X / m + lam I`` (small ``n`` only)."""
        w = as_vector(w, self.n_features, "w")
        d = self._curvature(w)
        X = self.X.toarray() if sp.issparse(self.X) else self.X
        H = (X.T * d) @ X / self.m + self.lam * np.eye(self.n_features)
        return (H + H.T) / 2  # exact symmetry, which rounding in the product loses


# --------------------------------------------------------------------------
# A two-layer network with the R-operator


class MLPParams(NamedTuple):
    """The weights of :class:`TwoLayerMLP`: ``W1`` (h, d), ``b1`` (h),
    ``W2`` (k, h), ``b2`` (k)."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray


class TwoLayerMLP:
    """A two-layer network with squared loss, its gradient, its exact
    Hessian-vector product (Pearlmutter's R-operator) and its Gauss-Newton
    product.

    Samples are rows. With parameters ``theta = (W1, b1, W2, b2)``::

        A = X W1^T + b1          (m, h)   pre-activations
        H = tanh(A)              (m, h)   hidden layer
        Y = H W2^T + b2          (m, k)   outputs
        L = 1/(2m) ||Y - T||_F^2 + lam/2 ||theta||^2

    Parameters
    ----------
    X : ndarray, shape (m, d)
        Inputs.
    T : ndarray, shape (m, k) or (m,)
        Targets.
    hidden : int
        Width ``h`` of the hidden layer.
    lam : float
        L2 regularisation (weight decay) ``lam >= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from krylov_ref.models import TwoLayerMLP
    >>> rng = np.random.default_rng(0)
    >>> net = TwoLayerMLP(rng.standard_normal((20, 3)), rng.standard_normal(20), hidden=4)
    >>> theta = net.init_params(seed=1)
    >>> net.n_params, theta.shape
    (21, (21,))
    >>> [w.shape for w in net.unpack(theta)]
    [(4, 3), (4,), (1, 4), (1,)]
    >>> v = rng.standard_normal(net.n_params)
    >>> eps = 1e-5
    >>> fd = (net.gradient(theta + eps * v) - net.gradient(theta - eps * v)) / (2 * eps)
    >>> bool(np.allclose(net.hessp(theta, v), fd, rtol=1e-6, atol=1e-8))
    True
    >>> bool(v @ net.gauss_newton_p(theta, v) >= 0)   # G is positive semidefinite
    True
    """

    def __init__(self, X, T, hidden, lam=0.0):
        X = np.asarray(X)
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
            raise ValueError(f"X must be a real 2-D array (samples x inputs), got shape {X.shape}")
        T = np.asarray(T)
        if T.ndim == 1:
            T = T[:, None]
        if T.ndim != 2 or T.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} rows but T has shape {T.shape}: need one target per row"
            )
        if np.iscomplexobj(T) or not np.issubdtype(T.dtype, np.number):
            raise ValueError("T must be real")
        X, T = X.astype(float), T.astype(float)
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(T))):
            raise ValueError("X or T contains NaN or inf")
        if not isinstance(hidden, (int, np.integer)) or isinstance(hidden, bool) or hidden < 1:
            raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
        self.X, self.T = X, T
        self.m, self.d = X.shape
        self.k = T.shape[1]
        self.h = int(hidden)
        self.lam = _nonnegative(lam, "lam")
        self._shapes = MLPParams((self.h, self.d), (self.h,), (self.k, self.h), (self.k,))
        self.n_params = sum(int(np.prod(s)) for s in self._shapes)

    # -- parameters as one flat vector ------------------------------------

    def pack(self, W1, b1, W2, b2):
        """The flat vector ``[W1.ravel(), b1, W2.ravel(), b2]``."""
        parts = MLPParams(W1, b1, W2, b2)
        for name, part, shape in zip(MLPParams._fields, parts, self._shapes):
            if np.shape(part) != shape:
                raise ValueError(f"{name} has shape {np.shape(part)}, expected {shape}")
        return np.concatenate([np.ravel(part).astype(float) for part in parts])

    def unpack(self, theta):
        """The inverse of :meth:`pack`: views of ``theta`` as ``MLPParams``."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ValueError(
                f"theta has shape {theta.shape}, expected ({self.n_params},) "
                f"for d={self.d}, h={self.h}, k={self.k}"
            )
        parts, start = [], 0
        for shape in self._shapes:
            size = int(np.prod(shape))
            parts.append(theta[start:start + size].reshape(shape))
            start += size
        return MLPParams(*parts)

    def init_params(self, seed=0):
        """Random weights scaled by ``1/sqrt(fan-in)`` (so tanh starts in its
        linear range), zero biases."""
        rng = np.random.default_rng(seed)
        W1 = rng.standard_normal((self.h, self.d)) / np.sqrt(self.d)
        W2 = rng.standard_normal((self.k, self.h)) / np.sqrt(self.h)
        return self.pack(W1, np.zeros(self.h), W2, np.zeros(self.k))

    # -- the three passes -------------------------------------------------

    def _forward(self, p):
        A = self.X @ p.W1.T + p.b1           # A = X W1^T + b1
        H = np.tanh(A)                       # H = tanh(A)
        Y = H @ p.W2.T + p.b2                # Y = H W2^T + b2
        return H, Y

    def _backward(self, p, H, dY):
        """Backpropagate ``dY = dL/dY`` to the weights (the chain rule, layer
        by layer, from the output back)."""
        gW2 = dY.T @ H                       # dL/dW2 = dY^T H
        gb2 = dY.sum(axis=0)                 # dL/db2 = sum_i dY_i
        dH = dY @ p.W2                       # dL/dH  = dY W2
        dA = dH * (1.0 - H ** 2)             # dL/dA  = dH o tanh'(A),  tanh' = 1 - H^2
        gW1 = dA.T @ self.X                  # dL/dW1 = dA^T X
        gb1 = dA.sum(axis=0)                 # dL/db1 = sum_i dA_i
        return MLPParams(gW1, gb1, gW2, gb2), dH

    def _forward_R(self, p, r, H):
        """Forward R-pass: ``R{.} = d/dt (.)(theta + t v)`` at ``t = 0``,
        with ``r`` the direction ``v`` unpacked."""
        RA = self.X @ r.W1.T + r.b1          # R{A} = X V_W1^T + V_b1
        RH = (1.0 - H ** 2) * RA             # R{H} = tanh'(A) o R{A}
        RY = RH @ p.W2.T + H @ r.W2.T + r.b2  # R{Y} = R{H} W2^T + H V_W2^T + V_b2
        return RH, RY

    def _flat(self, parts, theta_or_v):
        # the L2 term lam/2 ||theta||^2 adds lam theta to the gradient and lam v to H v
        return self.pack(*parts) + self.lam * theta_or_v

    # -- what an optimiser calls ------------------------------------------

    def predict(self, theta):
        """The outputs ``Y``, shape (m, k)."""
        return self._forward(self.unpack(theta))[1]

    def loss(self, theta):
        """``L = 1/(2m) ||Y - T||_F^2 + lam/2 ||theta||^2``."""
        theta = as_vector(theta, self.n_params, "theta")
        _, Y = self._forward(self.unpack(theta))
        return float(0.5 * np.sum((Y - self.T) ** 2) / self.m + 0.5 * self.lam * (theta @ theta))

    def gradient(self, theta):
        """The gradient by backpropagation, as a flat vector."""
        theta = as_vector(theta, self.n_params, "theta")
        p = self.unpack(theta)
        H, Y = self._forward(p)
        dY = (Y - self.T) / self.m           # dL/dY for the averaged squared loss
        grads, _ = self._backward(p, H, dY)
        return self._flat(grads, theta)

    def hessp(self, theta, v):
        """The exact Hessian-vector product ``H v`` by Pearlmutter's R-operator.

        ``H v = R{grad L}``: apply ``R{.} = d/dt (.)(theta + t v)|_{t=0}``
        to every line of the forward and backward passes. The cost is about
        twice a gradient (11 matrix products against the gradient's 5), and
        the result is exact (no step size to choose).
        """
        theta = as_vector(theta, self.n_params, "theta")
        v = as_vector(v, self.n_params, "v")
        p, r = self.unpack(theta), self.unpack(v)
        H, Y = self._forward(p)
        dY = (Y - self.T) / self.m
        dH = dY @ p.W2                       # of the backward pass, only dL/dH is needed
        RH, RY = self._forward_R(p, r, H)
        # Backward R-pass: the product rule on each line of _backward.
        RdY = RY / self.m                                 # R{dY}  = R{Y} / m
        RgW2 = RdY.T @ H + dY.T @ RH                      # R{gW2} = R{dY}^T H + dY^T R{H}
        Rgb2 = RdY.sum(axis=0)                            # R{gb2} = sum_i R{dY}_i
        RdH = RdY @ p.W2 + dY @ r.W2                      # R{dH}  = R{dY} W2 + dY V_W2
        # dA = dH o (1 - H^2), and R{1 - H^2} = -2 H o R{H}:
        RdA = RdH * (1.0 - H ** 2) - 2.0 * dH * H * RH    # R{dA}
        RgW1 = RdA.T @ self.X                             # R{gW1} = R{dA}^T X
        Rgb1 = RdA.sum(axis=0)                            # R{gb1} = sum_i R{dA}_i
        return self._flat(MLPParams(RgW1, Rgb1, RgW2, Rgb2), v)

    def gauss_newton_p(self, theta, v):
        """The Gauss-Newton product ``G v = J^T J v / m + lam v``.

        ``J = dY/dtheta`` is the network's Jacobian. ``J v`` is the forward
        R-pass ``R{Y}``; ``J^T u`` is backpropagation of ``dY = u``. ``G``
        drops the terms of ``H`` that carry the residual ``Y - T``, so it is
        positive semidefinite everywhere and equals ``H`` where the network
        fits the targets exactly.
        """
        theta = as_vector(theta, self.n_params, "theta")
        v = as_vector(v, self.n_params, "v")
        p, r = self.unpack(theta), self.unpack(v)
        H, _ = self._forward(p)
        _, RY = self._forward_R(p, r, H)     # J v
        parts, _ = self._backward(p, H, RY / self.m)  # J^T (J v / m)
        return self._flat(parts, v)
