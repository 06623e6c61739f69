"""krylov_ref.hf (lesson 07, sections 2.4 and 4.1): every JAX product and
step checked against an independent computation -- the numpy R-operator and
Gauss-Newton product of TwoLayerMLP, Jacobians formed explicitly, dense
solves, Krylov-subspace minimisers, and Adam written out by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_softmax, softmax

from krylov_ref import hf
from krylov_ref.models import TwoLayerMLP

jax.config.update("jax_enable_x64", True)


def rel_error(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def small_net(seed=0, m=30, d=3, h=5, k=2, lam=1e-3):
    rng = np.random.default_rng(seed)
    net = TwoLayerMLP(rng.standard_normal((m, d)), rng.standard_normal((m, k)), hidden=h, lam=lam)
    theta = net.init_params(seed=seed) + 0.3 * rng.standard_normal(net.n_params)
    return net, theta, rng.standard_normal(net.n_params)


def jax_squared_loss(net):
    X, T, sizes = jnp.asarray(net.X), jnp.asarray(net.T), (net.d, net.h, net.k)

    def outputs(th):
        return hf.mlp_apply(th, X, sizes)

    def output_loss(Y):
        return 0.5 * jnp.sum((Y - T) ** 2) / net.m

    def loss(th):
        return output_loss(outputs(th)) + 0.5 * net.lam * (th @ th)

    return outputs, output_loss, loss


# --------------------------------------------------------------------------
# the network: layout and initialisation are TwoLayerMLP's


@pytest.mark.parametrize("seed", [0, 3])
def test_mlp_init_and_apply_match_two_layer_mlp(seed):
    net, theta, _ = small_net(seed)
    assert hf.mlp_n_params((net.d, net.h, net.k)) == net.n_params
    np.testing.assert_array_equal(hf.mlp_init((net.d, net.h, net.k), seed=seed), net.init_params(seed=seed))
    np.testing.assert_allclose(hf.mlp_apply(theta, net.X, (net.d, net.h, net.k)), net.predict(theta),
                               rtol=1e-13, atol=1e-13)


def test_mlp_apply_three_layers_by_hand():
    sizes = (4, 3, 2, 5)
    rng = np.random.default_rng(2)
    theta, X = rng.standard_normal(hf.mlp_n_params(sizes)), rng.standard_normal((6, 4))
    W1, b1 = theta[:12].reshape(3, 4), theta[12:15]
    W2, b2 = theta[15:21].reshape(2, 3), theta[21:23]
    W3, b3 = theta[23:33].reshape(5, 2), theta[33:38]
    assert theta.size == 38
    expected = np.tanh(np.tanh(X @ W1.T + b1) @ W2.T + b2) @ W3.T + b3
    np.testing.assert_allclose(hf.mlp_apply(theta, X, sizes), expected, rtol=1e-13, atol=1e-13)


def test_softmax_cross_entropy_matches_scipy_and_does_not_overflow():
    rng = np.random.default_rng(4)
    z, labels = 5 * rng.standard_normal((9, 4)), rng.integers(0, 4, 9)
    expected = -np.mean(log_softmax(z, axis=1)[np.arange(9), labels])
    assert np.isclose(float(hf.softmax_cross_entropy(z, labels)), expected, rtol=1e-13)
    big = float(hf.softmax_cross_entropy(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0])))
    assert np.isclose(big, 500.0)          # log(1 + e^-1000) ~ 0 and 1000, averaged


# --------------------------------------------------------------------------
# curvature products


@pytest.mark.parametrize("seed", [0, 1])
def test_hvp_matches_the_numpy_r_operator(seed):
    net, theta, v = small_net(seed)
    _, _, loss = jax_squared_loss(net)
    product = jax.jit(lambda th, u: hf.hvp(loss, th, u))       # jit: one compilation, not one per operation
    assert rel_error(product(theta, v), net.hessp(theta, v)) < 1e-12


def test_hvp_matches_an_explicit_quadratic():
    rng = np.random.default_rng(5)
    B = rng.standard_normal((6, 6))
    A = B + B.T
    x, v = rng.standard_normal((2, 6))
    quartic = lambda w: 0.5 * w @ A @ w + 0.25 * jnp.sum(w**4)   # Hessian A + 3 diag(w^2)
    np.testing.assert_allclose(jax.jit(lambda w, u: hf.hvp(quartic, w, u))(x, v), A @ v + 3 * x**2 * v,
                               rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_gauss_newton_squared_loss_matches_two_layer_mlp(seed):
    net, theta, v = small_net(seed)
    outputs, output_loss, _ = jax_squared_loss(net)
    Gv = jax.jit(lambda th, u: hf.gauss_newton_product(outputs, output_loss, th, u, net.lam))(theta, v)
    assert rel_error(Gv, net.gauss_newton_p(theta, v)) < 1e-12


@pytest.mark.parametrize("seed", [0, 7])
def test_gauss_newton_softmax_matches_explicit_jacobian(seed):
    """G = sum_i J_i^T (diag(p_i) - p_i p_i^T) J_i / m + l2 I, with J from jax.jacfwd
    and the softmax Hessian written out in numpy."""
    sizes, m, l2 = (3, 4, 3), 7, 0.01
    rng = np.random.default_rng(seed)
    X, labels = rng.standard_normal((m, 3)), rng.integers(0, 3, m)
    theta, v = 0.7 * rng.standard_normal((2, hf.mlp_n_params(sizes)))
    outputs = lambda th: hf.mlp_apply(th, jnp.asarray(X), sizes)
    output_loss = lambda z: hf.softmax_cross_entropy(z, jnp.asarray(labels))
    J = np.asarray(jax.jit(jax.jacfwd(outputs))(theta))       # (m, k, n)
    P = softmax(np.asarray(outputs(theta)), axis=1)
    G = sum(J[i].T @ (np.diag(P[i]) - np.outer(P[i], P[i])) @ J[i] for i in range(m)) / m
    G += l2 * np.eye(theta.size)
    Gv = jax.jit(lambda th, u: hf.gauss_newton_product(outputs, output_loss, th, u, l2))(theta, v)
    assert rel_error(Gv, G @ v) < 1e-12
    assert np.linalg.eigvalsh(G)[0] >= l2 * (1 - 1e-9)         # positive definite: what CG needs


def test_products_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="one length"):
        hf.hvp(lambda w: w @ w, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="l2"):
        hf.gauss_newton_product(lambda w: w, lambda z: z @ z, np.zeros(2), np.ones(2), l2=-1.0)
    with pytest.raises(ValueError, match="sizes"):
        hf.mlp_init((3,))
    with pytest.raises(ValueError, match="theta has shape"):
        hf.mlp_apply(np.zeros(5), np.zeros((2, 3)), (3, 2))
    with pytest.raises(ValueError, match="labels"):
        hf.softmax_cross_entropy(np.zeros((3, 2)), np.zeros(4, dtype=int))


# --------------------------------------------------------------------------
# damped, truncated CG


def spd_problem(n=12, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    G = (Q * np.geomspace(1e-3, 10, n)) @ Q.T                 # positive definite, kappa 1e4
    return (G + G.T) / 2, rng.standard_normal(n)


def test_damped_cg_converges_to_the_dense_solution():
    G, g = spd_problem()
    lam = 0.05
    sol = jax.jit(lambda gg: hf.damped_cg(lambda u: jnp.asarray(G) @ u, gg, lam, maxiter=200, rtol=1e-12))(g)
    d = np.asarray(sol.d)
    assert rel_error(d, np.linalg.solve(G + lam * np.eye(12), -g)) < 1e-9
    assert int(sol.iterations) <= 200 and np.linalg.norm(sol.residual) <= 1e-12 * np.linalg.norm(g)
    np.testing.assert_allclose(sol.residual, (G + lam * np.eye(12)) @ d + g, atol=1e-12)
    assert np.isclose(float(sol.dGd), d @ G @ d, rtol=1e-9)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_damped_cg_truncated_is_the_krylov_subspace_minimiser(k):
    """After k steps from 0, CG minimises g^T d + d^T B d / 2 over span{g, B g, ..., B^(k-1) g}."""
    G, g = spd_problem(seed=k)
    lam = 0.1
    B = G + lam * np.eye(12)
    V, _ = np.linalg.qr(np.column_stack([np.linalg.matrix_power(B, j) @ g for j in range(k)]))
    expected = V @ np.linalg.solve(V.T @ B @ V, -V.T @ g)
    sol = jax.jit(lambda gg: hf.damped_cg(lambda u: jnp.asarray(G) @ u, gg, lam, maxiter=k, rtol=0.0))(g)
    assert int(sol.iterations) == k
    assert rel_error(sol.d, expected) < 1e-8
    assert np.isclose(float(sol.dGd), expected @ G @ expected, rtol=1e-8)


def test_damped_cg_stops_at_rtol_and_gauss_newton_cg_agrees():
    G, g = spd_problem(seed=3)
    Gj = jnp.asarray(G)
    sol = hf.gauss_newton_cg(_spd_gnp, Gj, g, 1.0, 50, 1e-2)
    r = np.linalg.norm(sol.residual)
    assert 0 < int(sol.iterations) < 50 and r <= 1e-2 * np.linalg.norm(g)
    previous = hf.gauss_newton_cg(_spd_gnp, Gj, g, 1.0, int(sol.iterations) - 1, 0.0)
    assert np.linalg.norm(previous.residual) > 1e-2 * np.linalg.norm(g)   # not one step too late
    eager = hf.damped_cg(lambda u: Gj @ u, g, 1.0, maxiter=50, rtol=1e-2)   # the same, not compiled
    assert int(eager.iterations) == int(sol.iterations)
    np.testing.assert_allclose(eager.d, sol.d, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="maxiter"):
        hf.damped_cg(lambda u: u, g, 1.0, maxiter=-1)


def test_damped_cg_at_a_stationary_point_takes_no_step():
    """g = 0: the stopping test comes first, so no product, no 0/0."""
    sol = hf.damped_cg(lambda u: 2.0 * u, np.zeros(4), 0.1, maxiter=5, rtol=0.1)
    assert int(sol.iterations) == 0
    np.testing.assert_array_equal(sol.d, np.zeros(4))
    assert float(sol.dGd) == 0.0


def _spd_gnp(G, u):                       # "theta" is the matrix itself
    return G @ u


# --------------------------------------------------------------------------
# the damping rule and Hessian-free


def test_levenberg_marquardt_rule():
    assert hf.levenberg_marquardt(2.0, 0.2) == pytest.approx(3.0)
    assert hf.levenberg_marquardt(2.0, -np.inf) == pytest.approx(3.0)
    assert hf.levenberg_marquardt(2.0, 0.8) == pytest.approx(4.0 / 3.0)
    for rho in (0.25, 0.5, 0.75):                       # the boundaries keep lam
        assert hf.levenberg_marquardt(2.0, rho) == 2.0
    for bad in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="damping"):
            hf.levenberg_marquardt(bad, 0.5)
    with pytest.raises(ValueError, match="NaN"):
        hf.levenberg_marquardt(1.0, np.nan)


def softmax_problem(seed=0, sizes=(4, 6, 3), m=40, l2=1e-3):
    rng = np.random.default_rng(seed)
    X, labels = jnp.asarray(rng.standard_normal((m, sizes[0]))), jnp.asarray(rng.integers(0, sizes[-1], m))
    outputs = lambda th: hf.mlp_apply(th, X, sizes)
    output_loss = lambda z: hf.softmax_cross_entropy(z, labels)
    loss = lambda th: output_loss(outputs(th)) + 0.5 * l2 * (th @ th)
    gnp = lambda th, u: hf.gauss_newton_product(outputs, output_loss, th, u, l2)
    return outputs, loss, gnp, hf.mlp_init(sizes, seed=seed)


def test_hessian_free_counts_work_and_follows_its_rules():
    outputs, loss, gnp, theta0 = softmax_problem()
    res = hf.hessian_free(jax.jit(jax.value_and_grad(loss)), gnp, theta0, damping=1.0, cg_maxiter=4,
                          cg_rtol=1e-3, budget=60)
    # work: 1 at the start, then per outer iteration 1 (trial point) + 2 per CG iteration
    assert res.evaluations == 1 + sum(1 + 2 * s[0] for s in res.steps)
    assert res.evaluations >= 60 and res.evaluations - (1 + 2 * 4) < 60
    assert all(1 <= s[0] <= 4 for s in res.steps)
    # the damping starts where asked and follows the rule from each rho; accepted steps decrease the loss
    assert res.steps[0][1] == 1.0
    for before, after in zip(res.steps, res.steps[1:]):
        assert after[1] == pytest.approx(hf.levenberg_marquardt(before[1], before[2]))
    losses = [h[1] for h in res.history]
    assert len(losses) == 1 + sum(s[3] for s in res.steps)
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert np.isclose(res.loss, float(loss(res.theta)), rtol=1e-12)
    assert [h[0] for h in res.history][0] == 1


def test_hessian_free_rejects_a_step_that_raises_the_loss():
    """tanh(w) -> 0 from w = 2 with almost no damping: the Gauss-Newton step
    d = -tanh(2) / tanh'(2) = -13.6 lands at tanh = -1, where the loss 1/2 is above
    tanh(2)^2 / 2 = 0.46. It must be rejected (w unchanged, rho < 0) and the damping raised."""
    outputs = lambda w: jnp.tanh(w)
    output_loss = lambda z: 0.5 * jnp.sum(z**2)
    loss = lambda w: output_loss(outputs(w))
    gnp = lambda w, u: hf.gauss_newton_product(outputs, output_loss, w, u)
    res = hf.hessian_free(jax.jit(jax.value_and_grad(loss)), gnp, np.array([2.0]), damping=1e-8,
                          cg_maxiter=1, budget=7)
    cg_iterations, lam, rho, accepted = res.steps[0]
    assert (cg_iterations, lam, accepted) == (1, 1e-8, False) and rho < 0
    assert len(res.history) == 1 + sum(s[3] for s in res.steps)
    if not any(s[3] for s in res.steps):
        np.testing.assert_array_equal(res.theta, [2.0])
        assert res.loss == pytest.approx(0.5 * np.tanh(2.0) ** 2)
    assert res.steps[1][1] == pytest.approx(1.5e-8)


def test_hessian_free_first_step_and_rho_by_dense_algebra():
    """With CG run to convergence, the first step is -(G + lam I)^{-1} g, and rho
    is the actual decrease over g^T d + d^T G d / 2 -- all formed in numpy."""
    outputs, loss, gnp, theta0 = softmax_problem(seed=2, sizes=(3, 4, 3), m=25)
    n = theta0.size
    vg = jax.jit(jax.value_and_grad(loss))
    g = np.asarray(vg(theta0)[1])
    G = np.asarray(jax.jit(jax.vmap(gnp, in_axes=(None, 0)))(theta0, np.eye(n))).T   # column j = G e_j
    lam = 0.5
    d = np.linalg.solve(G + lam * np.eye(n), -g)
    rho = (float(loss(theta0 + d)) - float(loss(theta0))) / (g @ d + 0.5 * d @ G @ d)
    res = hf.hessian_free(vg, gnp, theta0, damping=lam, cg_maxiter=10 * n,
                          cg_rtol=1e-13, budget=2)
    assert len(res.steps) == 1
    assert np.isclose(res.steps[0][2], rho, rtol=1e-6)
    assert res.steps[0][3] == (float(loss(theta0 + d)) < float(loss(theta0)))
    if res.steps[0][3]:
        assert rel_error(res.theta, theta0 + d) < 1e-8


def test_hessian_free_solves_linear_least_squares():
    """For a linear model with squared loss G is the Hessian: with a small damping
    HF reaches the normal-equations solution."""
    rng = np.random.default_rng(8)
    X, t = rng.standard_normal((50, 6)), rng.standard_normal(50)
    Xj, tj = jnp.asarray(X), jnp.asarray(t)
    outputs = lambda w: Xj @ w
    output_loss = lambda z: 0.5 * jnp.sum((z - tj) ** 2) / 50
    loss = lambda w: output_loss(outputs(w))
    gnp = lambda w, u: hf.gauss_newton_product(outputs, output_loss, w, u)
    res = hf.hessian_free(jax.jit(jax.value_and_grad(loss)), gnp, np.zeros(6), damping=1e-3, cg_maxiter=6,
                          cg_rtol=1e-12, budget=200)
    assert rel_error(res.theta, np.linalg.lstsq(X, t, rcond=None)[0]) < 1e-6


def test_hessian_free_rejects_bad_input():
    outputs, loss, gnp, theta0 = softmax_problem()
    vg = jax.value_and_grad(loss)
    for kwargs, match in [({"budget": 0}, "budget"), ({"cg_maxiter": 0}, "cg_maxiter"),
                          ({"damping": 0.0}, "damping")]:
        with pytest.raises(ValueError, match=match):
            hf.hessian_free(vg, gnp, theta0, **kwargs)
    with pytest.raises(ValueError, match="finite"):
        hf.hessian_free(vg, gnp, np.full(theta0.size, np.nan))


# --------------------------------------------------------------------------
# Adam


def test_adam_first_steps_by_hand():
    theta = np.array([1.0, -2.0, 0.5])
    grads = [np.array([0.3, -1.0, 0.0]), np.array([0.1, 2.0, -0.5]), np.array([-0.2, 0.5, 0.5])]
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    # by hand, step t = 1, 2, 3
    m, s, expected = np.zeros(3), np.zeros(3), []
    th = theta.copy()
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g**2
        th = th - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
        expected.append(th.copy())
    state, current = hf.adam_init(theta), jnp.asarray(theta)
    for t, (g, want) in enumerate(zip(grads, expected), start=1):
        current, state = hf.adam_step(current, jnp.asarray(g), state, lr=lr, beta1=b1, beta2=b2, eps=eps)
        assert state.t == t
        np.testing.assert_allclose(current, want, rtol=1e-13, atol=1e-15)
    # the first step is lr * sign(g) (up to eps): the bias corrections at work
    first, _ = hf.adam_step(jnp.asarray(theta), jnp.asarray(grads[0]), hf.adam_init(theta), lr=lr)
    np.testing.assert_allclose(first, theta - lr * np.sign(grads[0]), atol=1e-9)
    with pytest.raises(ValueError, match="lr"):
        hf.adam_step(theta, grads[0], hf.adam_init(theta), lr=0.0)
