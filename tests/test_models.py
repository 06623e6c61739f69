"""Logistic regression and the two-layer network: every derivative checked
against finite differences of the level below it (loss -> gradient -> H v)."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref.models import LogisticRegression, TwoLayerMLP, logistic_data
from krylov_ref.newton import hvp_fd


def directional_fd(f, x, v, h=1e-5):
    """d/dt f(x + t v) at t = 0 by central differences (error O(h^2))."""
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


def rel_error(a, b):
    return np.linalg.norm(np.asarray(a) - b) / max(np.linalg.norm(b), 1e-300)


# --------------------------------------------------------------------------
# logistic regression


def logistic(seed=0, m=60, n=5, lam=0.05, sparse=False):
    X, y, _ = logistic_data(m, n, seed=seed)
    return LogisticRegression(sp.csr_array(X) if sparse else X, y, lam=lam)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), lam=st.sampled_from([0.0, 1e-3, 1.0]))
def test_logistic_gradient_matches_finite_differences_of_loss(seed, lam):
    model = logistic(seed, lam=lam)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(5)
    for v in np.eye(5):  # every partial derivative
        assert np.isclose(model.gradient(w) @ v, directional_fd(model.loss, w, v),
                          rtol=1e-7, atol=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), sparse=st.booleans())
def test_logistic_hessp_matches_hessian_and_finite_differences(seed, sparse):
    model = logistic(seed, sparse=sparse)
    rng = np.random.default_rng(seed)
    w, v = rng.standard_normal(5), rng.standard_normal(5)
    Hv = model.hessp(w, v)
    np.testing.assert_allclose(Hv, model.hessian(w) @ v, rtol=1e-12, atol=1e-14)
    assert rel_error(Hv, hvp_fd(model.gradient, w, v)) < 1e-8


def test_logistic_hessian_is_the_jacobian_of_the_gradient_and_spd():
    model = logistic(3, lam=0.01)
    w = np.random.default_rng(3).standard_normal(5)
    H = model.hessian(w)
    J = np.column_stack([directional_fd(model.gradient, w, e) for e in np.eye(5)])
    np.testing.assert_allclose(H, J, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(H, H.T)
    assert np.linalg.eigvalsh(H)[0] >= 0.01 * (1 - 1e-12)  # lam I is a floor


def test_logistic_hessp_cache_follows_w():
    # hessp keeps D(w) for the last w; a new w must not reuse it.
    model = logistic(4)
    v = np.ones(5)
    w1, w2 = np.zeros(5), np.full(5, 2.0)
    model.hessp(w1, v)
    np.testing.assert_allclose(model.hessp(w2, v), model.hessian(w2) @ v, rtol=1e-12)
    w2[0] = -1.0  # same array object, changed in place
    np.testing.assert_allclose(model.hessp(w2, v), model.hessian(w2) @ v, rtol=1e-12)


def test_logistic_sparse_equals_dense():
    dense, sparse = logistic(5), logistic(5, sparse=True)
    w = np.linspace(-1, 1, 5)
    assert np.isclose(dense.loss(w), sparse.loss(w), rtol=1e-14)
    np.testing.assert_allclose(dense.gradient(w), sparse.gradient(w), rtol=1e-13)
    np.testing.assert_allclose(dense.hessian(w), sparse.hessian(w), rtol=1e-13)


def test_logistic_loss_does_not_overflow_for_huge_logits():
    model = LogisticRegression(np.array([[1.0], [-1.0]]), np.array([1.0, 0.0]))
    assert np.isclose(model.loss(np.array([1e4])), 0.0)
    assert np.isclose(model.loss(np.array([-1e4])), 1e4)
    assert np.all(np.isfinite(model.gradient(np.array([-1e4]))))


def test_logistic_data_is_seeded_and_labelled_01():
    X1, y1, w1 = logistic_data(200, 4, seed=11, cond=100.0)
    X2, y2, w2 = logistic_data(200, 4, seed=11, cond=100.0)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1)) == {0.0, 1.0}
    assert not np.array_equal(X1, logistic_data(200, 4, seed=12)[0])
    col = np.linalg.norm(X1, axis=0)
    assert 30 < col[0] / col[-1] < 300  # column scales span cond = 100


@pytest.mark.parametrize("X, y, lam, match", [
    (np.ones((3, 2)), np.array([0.0, 1.0]), 0.0, "3 rows .* one label per row"),
    (np.ones((2, 2)), np.array([-1.0, 1.0]), 0.0, "labels y must be 0 or 1"),
    (np.ones((2, 2)), np.array([0.0, 1.0]), -1.0, "lam must be"),
    (np.full((2, 2), np.nan), np.array([0.0, 1.0]), 0.0, "X contains NaN"),
])
def test_logistic_bad_input(X, y, lam, match):
    with pytest.raises(ValueError, match=match):
        LogisticRegression(X, y, lam)


def test_logistic_wrong_w_length():
    with pytest.raises(ValueError, match="w has length 3, expected 5"):
        logistic().gradient(np.ones(3))


# --------------------------------------------------------------------------
# the two-layer network


def network(seed=0, m=25, d=3, k=2, hidden=4, lam=0.0):
    rng = np.random.default_rng(seed)
    net = TwoLayerMLP(rng.standard_normal((m, d)), rng.standard_normal((m, k)), hidden, lam)
    return net, net.init_params(seed + 1), rng


def test_pack_unpack_round_trip():
    net, theta, _ = network()
    p = net.unpack(theta)
    assert [a.shape for a in p] == [(4, 3), (4,), (2, 4), (2,)]
    np.testing.assert_array_equal(net.pack(*p), theta)
    assert net.n_params == 4 * 3 + 4 + 2 * 4 + 2
    with pytest.raises(ValueError, match="W2 has shape"):
        net.pack(p.W1, p.b1, p.W2.T, p.b2)
    with pytest.raises(ValueError, match="theta has shape"):
        net.unpack(theta[:-1])


def test_network_output_is_the_formula():
    net, theta, _ = network()
    W1, b1, W2, b2 = net.unpack(theta)
    x = net.X[7]
    np.testing.assert_allclose(net.predict(theta)[7], W2 @ np.tanh(W1 @ x + b1) + b2)
    expected = 0.5 * np.sum((net.predict(theta) - net.T) ** 2) / net.m
    assert np.isclose(net.loss(theta), expected)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), lam=st.sampled_from([0.0, 0.1]))
def test_backprop_gradient_matches_finite_differences_of_loss(seed, lam):
    net, theta, _ = network(seed, lam=lam)
    g = net.gradient(theta)
    fd = np.array([directional_fd(net.loss, theta, e) for e in np.eye(net.n_params)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), lam=st.sampled_from([0.0, 0.1]))
def test_r_operator_matches_finite_differences_of_gradient(seed, lam):
    net, theta, rng = network(seed, lam=lam)
    theta = theta + rng.standard_normal(net.n_params)  # away from the small-weight start
    v = rng.standard_normal(net.n_params)
    assert rel_error(net.hessp(theta, v), hvp_fd(net.gradient, theta, v)) < 1e-7


def test_r_operator_gives_a_symmetric_hessian():
    net, theta, rng = network(2, hidden=3)
    H = np.column_stack([net.hessp(theta, e) for e in np.eye(net.n_params)])
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    # the residual terms make the Hessian of this fit indefinite
    eig = np.linalg.eigvalsh((H + H.T) / 2)
    assert eig[0] < 0 < eig[-1]


def test_r_operator_is_linear_in_v():
    net, theta, rng = network(3)
    u, v = rng.standard_normal((2, net.n_params))
    np.testing.assert_allclose(net.hessp(theta, 2 * u - 3 * v),
                               2 * net.hessp(theta, u) - 3 * net.hessp(theta, v), atol=1e-12)


def jacobian_fd(net, theta):
    """dY/dtheta by central differences, shape (m k, n_params)."""
    cols = [directional_fd(lambda t: net.predict(t).ravel(), theta, e)
            for e in np.eye(net.n_params)]
    return np.column_stack(cols)


def test_gauss_newton_product_is_JtJ_over_m():
    net, theta, rng = network(4, lam=0.2)
    J = jacobian_fd(net, theta)
    v = rng.standard_normal(net.n_params)
    expected = J.T @ (J @ v) / net.m + 0.2 * v
    np.testing.assert_allclose(net.gauss_newton_p(theta, v), expected, rtol=1e-6, atol=1e-9)


def test_gauss_newton_is_psd_and_equals_hessian_at_zero_residual():
    net, theta, rng = network(5)
    G = np.column_stack([net.gauss_newton_p(theta, e) for e in np.eye(net.n_params)])
    np.testing.assert_allclose(G, G.T, atol=1e-12)
    assert np.linalg.eigvalsh(G)[0] > -1e-12
    # Targets the network fits exactly: the terms G drops vanish.
    exact = TwoLayerMLP(net.X, net.predict(theta), net.h)
    v = rng.standard_normal(net.n_params)
    np.testing.assert_allclose(exact.gauss_newton_p(theta, v), exact.hessp(theta, v),
                               rtol=1e-12, atol=1e-14)
    # ... and only there: with the real targets they differ.
    assert rel_error(net.gauss_newton_p(theta, v), net.hessp(theta, v)) > 1e-3


def test_network_accepts_1d_targets():
    rng = np.random.default_rng(6)
    net = TwoLayerMLP(rng.standard_normal((10, 2)), rng.standard_normal(10), hidden=3)
    assert net.k == 1 and net.predict(net.init_params()).shape == (10, 1)


@pytest.mark.parametrize("X, T, hidden, match", [
    (np.ones((4, 2)), np.ones(3), 2, "X has 4 rows but T has shape"),
    (np.ones(4), np.ones(4), 2, "X must be a real 2-D array"),
    (np.ones((4, 2)), np.ones(4), 0, "hidden must be a positive integer"),
    (np.full((4, 2), np.inf), np.ones(4), 2, "NaN or inf"),
])
def test_network_bad_input(X, T, hidden, match):
    with pytest.raises(ValueError, match=match):
        TwoLayerMLP(X, T, hidden)
