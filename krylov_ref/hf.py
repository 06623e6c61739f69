"""Hessian-free training with JAX: curvature products by automatic
differentiation, damped truncated CG, and Adam (lesson 07, sections 2.4 and 4).

* :func:`hvp` -- the exact Hessian-vector product, forward-over-reverse
  (``jax.jvp`` of ``jax.grad``);
* :func:`gauss_newton_product` -- ``G v = J^T H_L J v`` with ``J`` the
  Jacobian of the network's outputs and ``H_L`` the Hessian of the loss with
  respect to the outputs, by ``jax.jvp`` and ``jax.vjp``;
* :func:`mlp_init`, :func:`mlp_apply`, :func:`softmax_cross_entropy` -- a tanh
  network whose parameters are one flat vector, laid out as in
  :class:`krylov_ref.models.TwoLayerMLP` (each layer ``W`` row by row, then
  ``b``);
* :func:`damped_cg` -- CG on ``(G + lam I) d = -g``, truncated after a few
  iterations (Gauss-Newton plus damping is positive definite: no negative
  curvature to detect);
* :func:`levenberg_marquardt` -- Martens' (2010) rule for the damping from the
  reduction ratio;
* :func:`hessian_free` -- Hessian-free optimisation (Martens, "Deep learning
  via Hessian-free optimization", ICML 2010), simplified: full batch, CG from
  zero, no CG backtracking;
* :func:`adam_step` -- one step of Adam (Kingma & Ba, "Adam: a method for
  stochastic optimization", ICLR 2015).

Functions take and return flat parameter vectors (``jax.Array`` or NumPy
arrays), which is what an optimiser sees. Work counts are in *gradient
equivalents*: a gradient (or a loss value with its gradient) counts 1, a
Gauss-Newton product 2 (a forward pass with its tangent, then a backward
pass).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "hvp", "gauss_newton_product", "mlp_init", "mlp_apply", "mlp_n_params",
    "softmax_cross_entropy", "damped_cg", "DampedCG", "gauss_newton_cg", "levenberg_marquardt",
    "hessian_free", "HFResult", "adam_step", "AdamState", "adam_init",
]

# Martens (2010), section 4.1: the damping rule.
RHO_LOW, RHO_HIGH = 0.25, 0.75
DAMPING_UP, DAMPING_DOWN = 1.5, 2.0 / 3.0
# The work of one Gauss-Newton product, in gradients.
GN_PRODUCT_COST = 2


# --------------------------------------------------------------------------
# Curvature products


def hvp(loss, theta, v):
    """The exact Hessian-vector product ``H(theta) v`` of a scalar ``loss``.

    Forward-over-reverse: the directional derivative (``jax.jvp``) of the
    gradient (``jax.grad``) along ``v``, which is Pearlmutter's R-operator
    applied to the gradient computation.

    Parameters
    ----------
    loss : callable
        ``theta -> scalar``, written with ``jax.numpy``.
    theta, v : array, shape (n,)
        The point and the direction.

    Returns
    -------
    jax.Array, shape (n,)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from krylov_ref.hf import hvp
    >>> A = jnp.array([[2.0, 1.0], [1.0, 3.0]])
    >>> [float(c) for c in hvp(lambda x: 0.5 * x @ A @ x, jnp.zeros(2), jnp.array([1.0, 0.0]))]
    [2.0, 1.0]
    """
    theta, v = _pair(theta, v)
    return jax.jvp(jax.grad(loss), (theta,), (v,))[1]


def gauss_newton_product(outputs, output_loss, theta, v, l2=0.0):
    """The Gauss-Newton product ``G v = J^T H_L J v + l2 v``.

    ``J`` is the Jacobian of ``outputs`` at ``theta`` and ``H_L`` the Hessian
    of ``output_loss`` at ``outputs(theta)``. ``J v`` is a forward-mode
    derivative (``jax.jvp``), ``H_L (J v)`` one more (of ``jax.grad`` of the
    output loss, cheap: the loss acts on the outputs only), and ``J^T u`` a
    reverse-mode one (``jax.vjp``). When ``output_loss`` is convex in the
    outputs (squared error, softmax cross-entropy), ``H_L`` is positive
    semidefinite and so is ``G``. For the squared loss
    ``||Y - T||^2 / (2m)`` it is ``J^T J / m``.

    Parameters
    ----------
    outputs : callable
        ``theta -> z``, the network's outputs (any shape).
    output_loss : callable
        ``z -> scalar``, the loss as a function of the outputs.
    theta, v : array, shape (n,)
    l2 : float
        Weight of an L2 term ``l2/2 ||theta||^2`` of the loss, which adds
        ``l2 v``.

    Returns
    -------
    jax.Array, shape (n,)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from krylov_ref.hf import gauss_newton_product
    >>> X = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> Gv = gauss_newton_product(lambda w: X @ w, lambda z: 0.5 * z @ z, jnp.zeros(2), jnp.array([1.0, 0.0]))
    >>> [float(c) for c in Gv]                      # X^T X e_1 for a linear model
    [35.0, 44.0]
    """
    theta, v = _pair(theta, v)
    l2 = _nonnegative(l2, "l2")
    z, Jv = jax.jvp(outputs, (theta,), (v,))
    _, HJv = jax.jvp(jax.grad(output_loss), (z,), (Jv,))
    _, pullback = jax.vjp(outputs, theta)
    return pullback(HJv)[0] + l2 * v


# --------------------------------------------------------------------------
# A tanh network with flat parameters


def _check_sizes(sizes):
    sizes = tuple(sizes)
    if len(sizes) < 2 or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes
    ):
        raise ValueError(
            f"sizes must list at least two positive integers (inputs, ..., outputs), got {sizes!r}"
        )
    return tuple(int(s) for s in sizes)


def mlp_n_params(sizes):
    """The number of parameters of the network with layer widths ``sizes``:
    ``sum (fan_in + 1) fan_out`` over the layers.

    >>> from krylov_ref.hf import mlp_n_params
    >>> mlp_n_params((64, 32, 10))
    2410
    """
    sizes = _check_sizes(sizes)
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def mlp_init(sizes, seed=0):
    """Random flat parameters for :func:`mlp_apply`: each ``W`` (fan_out,
    fan_in) standard normal over ``sqrt(fan_in)``, so that tanh starts in its
    linear range, biases zero (the initialisation of
    :meth:`krylov_ref.models.TwoLayerMLP.init_params`).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, inputs first, outputs last.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    ndarray, shape (mlp_n_params(sizes),)
    """
    sizes = _check_sizes(sizes)
    rng = np.random.default_rng(seed)
    parts = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        parts.append((rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in)).ravel())
        parts.append(np.zeros(fan_out))
    return np.concatenate(parts)


def mlp_apply(theta, X, sizes):
    """The outputs of the tanh network: ``a = tanh(a W^T + b)`` for every
    hidden layer, a linear last layer.

    Parameters
    ----------
    theta : array, shape (mlp_n_params(sizes),)
        Flat parameters, each layer's ``W`` (fan_out, fan_in) row by row,
        then its ``b``: for ``sizes = (d, h, k)`` the layout of
        :class:`krylov_ref.models.TwoLayerMLP`.
    X : array, shape (m, sizes[0])
        Inputs, one sample per row.
    sizes : tuple of int
        Layer widths (static under ``jax.jit``).

    Returns
    -------
    jax.Array, shape (m, sizes[-1])
    """
    sizes = _check_sizes(sizes)
    if jnp.ndim(theta) != 1 or jnp.shape(theta)[0] != mlp_n_params(sizes):
        raise ValueError(
            f"theta has shape {jnp.shape(theta)}, expected ({mlp_n_params(sizes)},) for sizes {sizes}"
        )
    if jnp.ndim(X) != 2 or jnp.shape(X)[1] != sizes[0]:
        raise ValueError(f"X has shape {jnp.shape(X)}, expected (m, {sizes[0]})")
    a, start = X, 0
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = theta[start:start + fan_in * fan_out].reshape(fan_out, fan_in)
        start += fan_in * fan_out
        b = theta[start:start + fan_out]
        start += fan_out
        a = a @ W.T + b
        if layer < len(sizes) - 2:
            a = jnp.tanh(a)
    return a


def softmax_cross_entropy(logits, labels):
    """The mean softmax cross-entropy ``mean_i [logsumexp(z_i) - z_i[y_i]]``.

    Parameters
    ----------
    logits : array, shape (m, k)
    labels : int array, shape (m,)
        Classes ``0 .. k-1``.

    Returns
    -------
    jax.Array, a scalar
    """
    if jnp.ndim(logits) != 2 or jnp.ndim(labels) != 1 or jnp.shape(labels)[0] != jnp.shape(logits)[0]:
        raise ValueError(
            f"need logits (m, k) and labels (m,), got {jnp.shape(logits)} and {jnp.shape(labels)}"
        )
    picked = jnp.take_along_axis(logits, jnp.asarray(labels)[:, None], axis=1)[:, 0]
    return jnp.mean(jax.scipy.special.logsumexp(logits, axis=1) - picked)


# --------------------------------------------------------------------------
# Damped, truncated CG and the damping rule


class DampedCG(NamedTuple):
    """What :func:`damped_cg` returns: the step ``d``, the CG iterations
    (one product each), the final residual ``r = (G + lam I) d + g`` and
    ``d^T G d`` (for the model's predicted decrease, with no extra
    product)."""

    d: jax.Array
    iterations: jax.Array
    residual: jax.Array
    dGd: jax.Array


def damped_cg(gnp, g, lam, *, maxiter, rtol=0.0):
    """CG from ``d = 0`` on ``(G + lam I) d = -g``, truncated.

    Stops after ``maxiter`` iterations or when ``||r|| <= rtol ||g||``,
    with ``r = (G + lam I) d + g``. Written with ``jax.lax.while_loop``, so
    that it compiles under ``jax.jit`` into one call.

    Parameters
    ----------
    gnp : callable
        ``v -> G v`` for a symmetric positive semidefinite ``G``.
    g : array, shape (n,)
        The gradient.
    lam : float
        Damping, ``lam > 0`` keeps ``G + lam I`` positive definite.
    maxiter : int
        At most this many iterations (products with ``G``); may be a traced
        integer under ``jax.jit``.
    rtol : float
        Relative residual at which to stop early.

    Returns
    -------
    DampedCG
    """
    g = jnp.asarray(g)
    if not isinstance(maxiter, jax.Array) and (              # a traced maxiter is checked by no one
        not isinstance(maxiter, (int, np.integer)) or isinstance(maxiter, bool) or maxiter < 0
    ):
        raise ValueError(f"maxiter must be a non-negative integer, got {maxiter!r}")
    stop = rtol * jnp.linalg.norm(g)

    def cond(state):
        _, _, _, rr, k = state
        return (k < maxiter) & (jnp.sqrt(rr) > stop)

    def body(state):
        d, r, p, rr, k = state
        q = gnp(p) + lam * p
        alpha = rr / (p @ q)
        d, r = d + alpha * p, r + alpha * q
        rr_new = r @ r
        return d, r, -r + (rr_new / rr) * p, rr_new, k + 1

    d, r, _, _, k = jax.lax.while_loop(
        cond, body, (jnp.zeros_like(g), g, -g, g @ g, jnp.asarray(0)))
    # r - g = (G + lam I) d, so d^T G d = d^T (r - g) - lam ||d||^2: no product needed.
    return DampedCG(d, k, r, d @ (r - g) - lam * (d @ d))


@partial(jax.jit, static_argnums=0)
def gauss_newton_cg(gnp, theta, g, lam, maxiter, rtol):
    """:func:`damped_cg` with ``G v = gnp(theta, v)``, compiled by ``jax.jit``.

    ``gnp`` is static: one compilation per ``gnp`` (and shapes), shared by
    every call with the same ``gnp``, whatever ``theta``, ``g``, ``lam``,
    ``maxiter`` and ``rtol`` (which are traced).

    Parameters
    ----------
    gnp : callable
        ``(theta, v) -> G(theta) v``, in ``jax.numpy``.
    theta, g : array, shape (n,)
        The point and the gradient there.
    lam, maxiter, rtol
        As in :func:`damped_cg`.

    Returns
    -------
    DampedCG
    """
    return damped_cg(lambda v: gnp(theta, v), g, lam, maxiter=maxiter, rtol=rtol)


def levenberg_marquardt(lam, rho):
    """Martens' (2010) damping update from the reduction ratio ``rho`` =
    (actual decrease) / (decrease predicted by the model): ``rho < 1/4``
    (the model was too optimistic) multiplies ``lam`` by 3/2, ``rho > 3/4``
    (it was good) by 2/3, else ``lam`` is kept.

    >>> from krylov_ref.hf import levenberg_marquardt
    >>> levenberg_marquardt(1.0, 0.1), levenberg_marquardt(1.0, 0.5), round(levenberg_marquardt(1.0, 0.9), 4)
    (1.5, 1.0, 0.6667)
    """
    lam = float(lam)
    if not np.isfinite(lam) or lam <= 0:
        raise ValueError(f"the damping must be a positive number, got {lam!r}")
    if np.isnan(rho):
        raise ValueError("the reduction ratio rho is NaN")
    if rho < RHO_LOW:
        return lam * DAMPING_UP
    if rho > RHO_HIGH:
        return lam * DAMPING_DOWN
    return lam


class HFResult(NamedTuple):
    """What :func:`hessian_free` returns.

    ``history`` lists ``(evaluations, loss, theta)`` at the start and after
    every accepted step; ``steps`` lists, for every outer iteration,
    ``(cg_iterations, damping_used, rho, accepted)``.
    """

    theta: np.ndarray
    loss: float
    evaluations: int
    history: list
    steps: list


def hessian_free(value_and_grad, gnp, theta0, *, damping=1.0, cg_maxiter=10, cg_rtol=1e-3,
                 budget=200):
    """Hessian-free optimisation with Gauss-Newton products and
    Levenberg-Marquardt damping (Martens 2010, simplified: full batch, CG
    started from zero, no backtracking over the CG iterates).

    Each outer iteration, at ``theta`` with loss ``f`` and gradient ``g``:

    1. truncated CG (:func:`damped_cg`) on ``(G + lam I) d = -g``;
    2. ``rho = (f(theta + d) - f) / (g^T d + d^T G d / 2)``, the actual
       decrease over the one the undamped Gauss-Newton model predicts;
    3. ``lam`` from :func:`levenberg_marquardt`; the step is taken if the
       loss decreased.

    Work is counted in gradient equivalents: 1 for the loss with its
    gradient at the start and at every trial point (so an accepted point
    needs nothing more), 2 per CG iteration (one product with ``G``). It
    stops once the count reaches ``budget``; the last step may end past it
    by at most ``1 + 2 cg_maxiter``.

    Parameters
    ----------
    value_and_grad : callable
        ``theta -> (f, g)``, e.g. ``jax.jit(jax.value_and_grad(loss))``.
    gnp : callable
        ``(theta, v) -> G(theta) v``, symmetric positive semidefinite in
        ``v`` (see :func:`gauss_newton_product`), written in ``jax.numpy``:
        it is compiled with CG by ``jax.jit``.
    theta0 : array, shape (n,)
    damping : float
        The initial ``lam > 0``.
    cg_maxiter : int
        At most this many CG iterations per outer iteration.
    cg_rtol : float
        Relative residual at which CG stops early.
    budget : int
        Gradient equivalents.

    Returns
    -------
    HFResult
    """
    theta = np.array(theta0, dtype=float)
    if theta.ndim != 1 or not np.all(np.isfinite(theta)):
        raise ValueError(f"theta0 must be a finite vector, got shape {theta.shape}")
    lam = levenberg_marquardt(damping, 0.5)          # validates damping > 0
    for value, name in ((cg_maxiter, "cg_maxiter"), (budget, "budget")):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")

    theta = jnp.asarray(theta)
    f, g = value_and_grad(theta)
    evaluations = 1
    history = [(evaluations, float(f), np.asarray(theta))]
    steps = []
    while evaluations < budget:
        sol = gauss_newton_cg(gnp, theta, g, lam, cg_maxiter, cg_rtol)
        f_new, g_new = value_and_grad(theta + sol.d)
        evaluations += GN_PRODUCT_COST * int(sol.iterations) + 1
        predicted = float(g @ sol.d + 0.5 * sol.dGd)
        finite = bool(np.isfinite(f_new))
        rho = (float(f_new) - float(f)) / predicted if predicted < 0 and finite else -np.inf
        accepted = finite and bool(f_new < f)
        steps.append((int(sol.iterations), lam, rho, accepted))
        lam = levenberg_marquardt(lam, rho)
        if accepted:
            theta, f, g = theta + sol.d, f_new, g_new
            history.append((evaluations, float(f), np.asarray(theta)))
    return HFResult(np.asarray(theta), float(f), evaluations, history, steps)


# --------------------------------------------------------------------------
# Adam


class AdamState(NamedTuple):
    """Adam's state: the step count ``t`` and the running averages ``m``
    (of the gradient) and ``s`` (of its square, entrywise)."""

    t: int
    m: jax.Array
    s: jax.Array


def adam_init(theta):
    """The state before the first step: ``t = 0``, ``m = s = 0``."""
    theta = jnp.asarray(theta)
    return AdamState(0, jnp.zeros_like(theta), jnp.zeros_like(theta))


def adam_step(theta, g, state, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step (Kingma & Ba 2015, Algorithm 1)::

        t = t + 1
        m = beta1 m + (1 - beta1) g,      s = beta2 s + (1 - beta2) g^2
        theta = theta - lr (m / (1 - beta1^t)) / (sqrt(s / (1 - beta2^t)) + eps)

    The divisions by ``1 - beta^t`` undo the bias of averages started at
    zero; on the first step the update is about ``-lr sign(g)``.

    Parameters
    ----------
    theta, g : array, shape (n,)
        The parameters and the gradient (of a mini-batch) there.
    state : AdamState
    lr, beta1, beta2, eps : float

    Returns
    -------
    theta : jax.Array
    state : AdamState

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from krylov_ref.hf import adam_init, adam_step
    >>> theta = jnp.array([1.0, -2.0])
    >>> new, state = adam_step(theta, jnp.array([0.5, -3.0]), adam_init(theta), lr=0.1)
    >>> [round(float(x), 6) for x in new]
    [0.9, -1.9]
    """
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1) or not lr > 0 or not eps >= 0:
        raise ValueError("need lr > 0, eps >= 0 and 0 <= beta1, beta2 < 1")
    t = state.t + 1
    m = beta1 * state.m + (1 - beta1) * g
    s = beta2 * state.s + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** t)
    s_hat = s / (1 - beta2 ** t)
    return theta - lr * m_hat / (jnp.sqrt(s_hat) + eps), AdamState(t, m, s)


# --------------------------------------------------------------------------
# helpers


def _pair(theta, v):
    theta, v = jnp.asarray(theta), jnp.asarray(v)
    if theta.ndim != 1 or theta.shape != v.shape:
        raise ValueError(
            f"theta and v must be vectors of one length, got shapes {theta.shape} and {v.shape}"
        )
    return theta, v


def _nonnegative(value, name):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value
