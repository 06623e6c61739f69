"""hvp_fd and newton_cg: finite-difference products, agreement with SciPy's
L-BFGS-B, evaluation counts, and negative curvature on Rosenbrock."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess, rosen_hess_prod

from krylov_ref.models import LogisticRegression, logistic_data
from krylov_ref.newton import forcing_term, hvp_fd, newton_cg, truncated_cg


def rel_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# --------------------------------------------------------------------------
# hvp_fd


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_hvp_fd_matches_rosenbrock_hessian(seed, scale):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=6)
    v = scale * rng.standard_normal(6)  # the step adapts to ||v||
    assert rel_error(hvp_fd(rosen_der, x, v), rosen_hess(x) @ v) < 1e-8


def test_hvp_fd_default_step_beats_the_forward_difference_step():
    # Central differences: error ~ h^2 + u/h, smallest near h ~ u^(1/3).
    rng = np.random.default_rng(1)
    x, v = rng.uniform(-2, 2, size=6), rng.standard_normal(6)
    exact = rosen_hess(x) @ v
    u = np.finfo(float).eps
    step_sqrt = np.sqrt(u) * (1 + np.linalg.norm(x)) / np.linalg.norm(v)
    assert rel_error(hvp_fd(rosen_der, x, v), exact) < rel_error(
        hvp_fd(rosen_der, x, v, eps=step_sqrt), exact)


def test_hvp_fd_is_exact_up_to_rounding_on_a_quadratic():
    A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 2.0]])
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(hvp_fd(lambda x: A @ x, np.ones(3), v), A @ v, rtol=1e-9)


def test_hvp_fd_of_zero_direction_is_zero_without_calling_grad():
    def grad(x):
        raise AssertionError("grad should not be called for v = 0")
    np.testing.assert_array_equal(hvp_fd(grad, np.ones(3), np.zeros(3)), np.zeros(3))


def test_hvp_fd_bad_input():
    with pytest.raises(ValueError, match="v has length 2, expected 3"):
        hvp_fd(rosen_der, np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        hvp_fd(rosen_der, np.ones(3), np.ones(3), eps=0.0)
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        hvp_fd(rosen_der, np.array([1.0, np.nan]), np.ones(2))


# --------------------------------------------------------------------------
# the inner CG


def test_inner_cg_returns_steepest_descent_on_negative_curvature_at_first_step():
    H = np.diag([-1.0, 2.0])
    g = np.array([1.0, 0.0])  # g^T H g < 0
    d, norms, negative = truncated_cg(lambda v: H @ v, g, rtol=1e-10, maxiter=10)
    np.testing.assert_array_equal(d, -g)
    assert negative and norms == [1.0]
    assert truncated_cg(H, g).products == 1


def test_inner_cg_treats_zero_curvature_as_negative():
    d, norms, negative = truncated_cg(np.diag([0.0, 1.0]), np.array([2.0, 0.0]))
    np.testing.assert_array_equal(d, [-2.0, 0.0])
    assert negative


def test_inner_cg_returns_last_iterate_on_negative_curvature_later():
    H = np.diag([1.0, -1.0])
    g = np.array([1.0, 0.1])  # p0^T H p0 = 1 - 0.01 > 0, then negative curvature
    res = truncated_cg(lambda v: H @ v, g, rtol=1e-10, maxiter=10)
    alpha = (g @ g) / (g @ H @ g)
    np.testing.assert_allclose(res.d, -alpha * g)  # the first CG iterate
    assert res.negative_curvature and res.products == 2 and len(res.residual_norms) == 2
    assert g @ res.d < 0  # still a descent direction


def test_inner_cg_solves_spd_system_to_the_forcing_tolerance():
    rng = np.random.default_rng(2)
    B = rng.standard_normal((40, 40))
    H = B @ B.T + np.eye(40)
    g = rng.standard_normal(40)
    d, norms, negative = truncated_cg(H, g, rtol=1e-3)
    assert not negative and len(norms) - 1 < 40
    assert np.linalg.norm(H @ d + g) <= 1e-3 * np.linalg.norm(g)
    np.testing.assert_allclose(norms[-1], np.linalg.norm(H @ d + g), rtol=1e-6)
    assert norms[-2] > 1e-3 * np.linalg.norm(g)  # and not one step more


def test_inner_cg_edge_cases():
    H = np.diag([1.0, 2.0, 3.0])
    calls = []

    def Hv(v):
        calls.append(1)
        return H @ v
    # zero gradient: d = 0 without a product
    res = truncated_cg(Hv, np.zeros(3))
    assert np.array_equal(res.d, np.zeros(3)) and res.residual_norms == [0.0] and not calls
    # atol above ||g||: nothing to do either
    assert truncated_cg(Hv, np.ones(3), atol=10.0).products == 0 and not calls
    # maxiter counts products; the default is n
    assert truncated_cg(Hv, np.ones(3), rtol=0.0, maxiter=2).products == 2
    res = truncated_cg(Hv, np.ones(3), rtol=0.0)
    assert res.products == 3 and res.residual_norms[-1] < 1e-12
    # g is left alone
    g = np.ones(3)
    truncated_cg(H, g, rtol=1e-8)
    np.testing.assert_array_equal(g, np.ones(3))


def test_inner_cg_accepts_any_operator_with_matmul():
    class Op:
        shape = (2, 2)

        def __matmul__(self, v):
            return np.array([2.0 * v[0], v[1]])
    np.testing.assert_allclose(truncated_cg(Op(), np.array([2.0, 1.0]), rtol=1e-12).d,
                               [-1.0, -1.0])
    with pytest.raises(ValueError, match="H must be"):
        truncated_cg("H", np.ones(2))
    with pytest.raises(ValueError, match="rtol must be"):
        truncated_cg(np.eye(2), np.ones(2), rtol=-1.0)


# --------------------------------------------------------------------------
# the forcing term


def test_forcing_term_is_eisenstat_walker_choice_2():
    assert forcing_term([3.0], None) == 0.9
    # without the safeguard: 0.9 (||g_k|| / ||g_{k-1}||)^2
    assert np.isclose(forcing_term([1.0, 0.5, 0.05], 0.2), 0.9 * 0.1 ** 2)
    # the safeguard 0.9 eta_{k-1}^2 > 0.1 holds eta up
    assert np.isclose(forcing_term([1.0, 0.01], 0.9), 0.9 * 0.81)
    # and the cap at 0.9 (gradient growing)
    assert forcing_term([1.0, 5.0], 0.1) == 0.9
    # scale invariant
    assert forcing_term([10.0, 3.0], 0.5) == forcing_term([1.0, 0.3], 0.5)


def test_newton_records_the_forcing_terms_it_used():
    model = logistic_problem(seed=5)
    res = newton_cg(model.loss, model.gradient, np.zeros(15), hessp=model.hessp, gtol=1e-8)
    eta = None
    for k, used in enumerate(res.forcing_terms):
        eta = forcing_term(res.grad_norms[:k + 1], eta)
        assert used == eta
    assert res.forcing_terms[0] == 0.9 and res.forcing_terms[-1] < 0.05
    assert res.inner_per_step.sum() == res.nhev == res.inner_iterations
    assert len(res.steps) == res.iterations and np.all(res.steps <= 1.0)


# --------------------------------------------------------------------------
# newton_cg on logistic regression


def logistic_problem(m=400, n=15, lam=1e-2, seed=0):
    X, y, _ = logistic_data(m, n, seed=seed, cond=10.0)
    return LogisticRegression(X, y, lam=lam)


def test_same_minimiser_as_lbfgs():
    model = logistic_problem()
    ours = newton_cg(model.loss, model.gradient, np.zeros(15), hessp=model.hessp, gtol=1e-10)
    ref = minimize(model.loss, np.zeros(15), jac=model.gradient, method="L-BFGS-B",
                   options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 1000})
    assert ours.converged and ours.grad_norms[-1] <= 1e-10
    # f is lam-strongly convex, so ||x - x*|| <= ||grad f(x)|| / lam for both:
    g_ref = np.linalg.norm(model.gradient(ref.x))
    bound = (ours.grad_norms[-1] + g_ref) / model.lam
    assert np.linalg.norm(ours.x - ref.x) <= bound
    # the stated tolerance: agreement to 1e-6 in every weight
    np.testing.assert_allclose(ours.x, ref.x, rtol=0, atol=1e-6)
    assert np.isclose(ours.fun, ref.fun, rtol=1e-12)


def test_evaluation_counts_are_exact():
    model = logistic_problem(seed=1)
    calls = {"f": 0, "g": 0, "h": 0}

    def counted(key, func):
        def wrapper(*args):
            calls[key] += 1
            return func(*args)
        return wrapper

    res = newton_cg(counted("f", model.loss), counted("g", model.gradient), np.zeros(15),
                    hessp=counted("h", model.hessp), gtol=1e-8)
    assert res.converged
    assert (res.nfev, res.ngev, res.nhev) == (calls["f"], calls["g"], calls["h"])
    # one gradient per accepted point; one product per inner CG step
    assert res.ngev == res.iterations + 1
    assert res.nhev == res.inner_iterations
    assert res.nfev >= res.iterations + 1
    assert len(res.grad_norms) == res.iterations + 1


def test_convergence_is_superlinear_and_f_decreases():
    model = logistic_problem(m=1000, n=30, lam=1e-3, seed=2)
    values = []
    res = newton_cg(model.loss, model.gradient, np.zeros(30), hessp=model.hessp, gtol=1e-10,
                    callback=lambda x: values.append(model.loss(x)))
    assert res.converged and res.iterations <= 12
    assert np.all(np.diff(values) < 0)
    ratios = res.grad_norms[1:] / res.grad_norms[:-1]
    assert ratios[-1] < 0.1 and ratios[-2] < 0.3


def test_hessian_free_with_finite_differences():
    model = logistic_problem(seed=3)
    exact = newton_cg(model.loss, model.gradient, np.zeros(15), hessp=model.hessp, gtol=1e-8)
    fd = newton_cg(model.loss, model.gradient, np.zeros(15),
                   hessp=lambda x, v: hvp_fd(model.gradient, x, v), gtol=1e-8)
    assert fd.converged
    np.testing.assert_allclose(fd.x, exact.x, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1])
def test_last_newton_system_is_not_oversolved(seed):
    # The inner tolerance has the floor gtol / 2: the final gradient lands just
    # under gtol instead of orders of magnitude below it (wasted H v products).
    model = logistic_problem(m=2000, n=100, lam=1e-3, seed=seed)
    res = newton_cg(model.loss, model.gradient, np.zeros(100), hessp=model.hessp, gtol=1e-6)
    assert res.converged
    assert 1e-7 < res.grad_norms[-1] <= 1e-6


def test_rescaling_f_does_not_change_the_steps():
    # The forcing term uses ||g_k|| / ||g_0||: Newton steps are scale invariant.
    model = logistic_problem(seed=4)
    c = 1e4
    a = newton_cg(model.loss, model.gradient, np.zeros(15), hessp=model.hessp, gtol=1e-9)
    b = newton_cg(lambda w: c * model.loss(w), lambda w: c * model.gradient(w), np.zeros(15),
                  hessp=lambda w, v: c * model.hessp(w, v), gtol=c * 1e-9)
    assert (a.iterations, a.inner_iterations) == (b.iterations, b.inner_iterations)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------
# non-convex: Rosenbrock


@pytest.mark.parametrize("x0", [[0.3, 0.7], [-0.4, 0.2, 0.1, -0.4, 0.4, 0.5]])
def test_rosenbrock_from_an_indefinite_point(x0):
    x0 = np.array(x0)
    assert np.linalg.eigvalsh(rosen_hess(x0))[0] < 0  # the premise: H(x0) indefinite
    res = newton_cg(rosen, rosen_der, x0, hessp=rosen_hess_prod, gtol=1e-8, maxiter=200)
    # (from (0.3, 0.7) the loose first solve, eta_0 = 0.9, stops before CG
    # explores the negative direction; in 6-D it meets it)
    assert res.negative_curvature >= (1 if x0.size == 6 else 0)
    assert res.converged, res.status
    np.testing.assert_allclose(res.x, np.ones_like(x0), atol=1e-6)


def double_well():
    # f = x^4/4 - x^2/2 + y^2/2: minima at (+-1, 0), a saddle at (0, 0).
    def f(z):
        return z[0] ** 4 / 4 - z[0] ** 2 / 2 + z[1] ** 2 / 2

    def g(z):
        return np.array([z[0] ** 3 - z[0], z[1]])

    def hv(z, v):
        return np.array([(3 * z[0] ** 2 - 1) * v[0], v[1]])
    return f, g, hv


def test_negative_curvature_steers_away_from_the_saddle():
    f, g, hv = double_well()
    x0 = np.array([0.1, 0.5])
    H = np.diag([3 * 0.1 ** 2 - 1, 1.0])
    # Pure Newton, x - H^{-1} g, jumps to the saddle's x-coordinate 0 ...
    newton_x = x0 - np.linalg.solve(H, g(x0))
    assert abs(newton_x[0]) < 5e-3 and newton_x[1] == 0
    # ... while Newton-CG meets p^T H p < 0 and walks downhill to a minimum.
    values = [f(x0)]
    res = newton_cg(f, g, x0, hessp=hv, gtol=1e-7, callback=lambda x: values.append(f(x)))
    assert res.converged and res.negative_curvature >= 1
    np.testing.assert_allclose(res.x, [1.0, 0.0], atol=1e-6)
    assert np.all(np.diff(values) < 0)


def test_steepest_descent_step_when_first_curvature_is_negative():
    f, g, hv = double_well()
    x0 = np.array([0.1, 0.0])  # g = (-0.099, 0) lies along the negative eigenvector
    res = newton_cg(f, g, x0, hessp=hv, maxiter=1)
    assert res.negative_curvature == 1 and res.nhev == 1
    step = res.x - x0
    np.testing.assert_allclose(step / np.linalg.norm(step), [1.0, 0.0])  # along -g


def test_maxiter_and_line_search_failure_are_reported():
    res = newton_cg(rosen, rosen_der, np.array([-1.2, 1.0]), hessp=rosen_hess_prod, maxiter=3)
    assert not res.converged and res.status == "maxiter reached" and res.iterations == 3
    # gtol = 0 asks for more than rounding allows: full Newton steps that f
    # cannot judge are taken until maxiter, with a gradient at rounding level
    model = logistic_problem()
    res = newton_cg(model.loss, model.gradient, np.zeros(15), hessp=model.hessp, gtol=0.0,
                    maxiter=30)
    assert not res.converged and res.status == "maxiter reached"
    assert res.grad_norms[-1] < 1e-14


def test_the_gradient_test_can_be_met_below_the_rounding_of_f():
    # Near the minimiser f - f* ~ ||g||^2 / lam falls below the rounding of f
    # (u |f| ~ 1e-16) long before ||g|| reaches 1e-12; the full Newton step is
    # then taken on the gradient's word.
    model = logistic_problem()
    res = newton_cg(model.loss, model.gradient, np.zeros(15), hessp=model.hessp, gtol=1e-12)
    assert res.converged and res.iterations < 15


def test_a_wrong_gradient_is_caught_by_the_line_search():
    model = logistic_problem()
    res = newton_cg(model.loss, lambda w: -model.gradient(w) + 0.1, np.zeros(15),
                    hessp=model.hessp)
    assert not res.converged and res.status.startswith("line search failed")
    assert res.iterations == 0


def test_already_converged_start_costs_one_f_and_one_g():
    res = newton_cg(rosen, rosen_der, np.ones(3), hessp=rosen_hess_prod)
    assert res.converged and res.iterations == 0
    assert (res.nfev, res.ngev, res.nhev) == (1, 1, 0)


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("kwargs, match", [
    ({"x0": np.array([np.nan, 1.0])}, "x0 contains NaN or inf"),
    ({"gtol": -1.0}, "gtol must be a finite number >= 0"),
    ({"maxiter": 2.5}, "maxiter must be an integer >= 0"),
    ({"inner_maxiter": 0}, "inner_maxiter must be an integer >= 1"),
    ({"c1": 1.0}, r"c1 must lie in \(0, 1\)"),
    ({"fun": lambda x: np.inf}, r"fun\(x0\) = inf"),
    ({"fun": lambda x: np.ones(2)}, "fun must return a scalar"),
    ({"grad": lambda x: np.ones(3)}, r"grad returned shape \(3,\), expected \(2,\)"),
    ({"hessp": lambda x, v: np.full(2, np.nan)}, "hessp returned NaN or inf"),
])
def test_bad_input_raises(kwargs, match):
    args = {"fun": rosen, "grad": rosen_der, "x0": np.array([-1.2, 1.0]),
            "hessp": rosen_hess_prod}
    args.update(kwargs)
    fun, grad, x0 = args.pop("fun"), args.pop("grad"), args.pop("x0")
    with pytest.raises(ValueError, match=match):
        newton_cg(fun, grad, x0, **args)


# --------------------------------------------------------------------------
# steihaug_cg (Steihaug-Toint CG) and trust_region_newton_cg

from krylov_ref.newton import boundary_tau, steihaug_cg, trust_region_newton_cg  # noqa: E402
from krylov_ref.problems import random_spd  # noqa: E402


def model_value(H, g, d):
    return g @ d + 0.5 * d @ (H @ d)


def cauchy_point(H, g, delta):
    """Nocedal & Wright (4.11)-(4.12): the minimiser of m along -g inside the region."""
    gHg, gn = g @ H @ g, np.linalg.norm(g)
    tau = 1.0 if gHg <= 0 else min(gn**3 / (delta * gHg), 1.0)
    return -tau * delta / gn * g


def krylov_iterates(H, g, k):
    """CG's iterates from d = 0, computed independently: z_j minimises m over the
    Krylov space K_j(H, g) (an orthonormal basis by QR, a small projected solve)."""
    K = np.column_stack([np.linalg.matrix_power(H, i) @ g for i in range(k)])
    iterates = [np.zeros_like(g)]
    for j in range(1, k + 1):
        V, _ = np.linalg.qr(K[:, :j])
        iterates.append(-V @ np.linalg.solve(V.T @ H @ V, V.T @ g))
    return iterates


def indefinite(n, seed, n_negative):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.geomspace(1.0, 20.0, n)
    lam[:n_negative] *= -1
    return (Q * lam) @ Q.T, Q


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steihaug_interior_solution_is_the_newton_step(seed):
    prob = random_spd(12, 50.0, seed=seed)
    newton = np.linalg.solve(prob.A, -prob.b)
    step = steihaug_cg(prob.A, prob.b, 1.01 * np.linalg.norm(newton), rtol=1e-10, maxiter=100)
    assert step.info == "converged"
    assert rel_error(step.d, newton) < 1e-8
    assert np.linalg.norm(prob.A @ step.d + prob.b) <= 1.01e-10 * np.linalg.norm(prob.b)
    # the residual norms are those of the iterates, ||g|| first
    assert step.residual_norms[0] == pytest.approx(np.linalg.norm(prob.b))
    assert step.products == len(step.residual_norms) - 1


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.05, 5.0))
def test_boundary_tau_is_the_nonnegative_root(seed, delta):
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(4)
    d *= rng.uniform(0, 1) * delta / np.linalg.norm(d)
    p = rng.standard_normal(4)
    tau = boundary_tau(d, p, delta)
    roots = np.roots([p @ p, 2 * d @ p, d @ d - delta**2]).real
    assert tau >= 0
    assert tau == pytest.approx(roots.max(), rel=1e-9, abs=1e-12)
    assert np.linalg.norm(d + tau * p) == pytest.approx(delta, rel=1e-12)


def test_boundary_tau_without_cancellation():
    # d.p > 0 and ||d|| just inside: the textbook formula (-b + sqrt(b^2 - 4ac)) / 2a loses digits
    d, p, delta = np.array([1.0 - 1e-12, 0.0]), np.array([1e4, 0.0]), 1.0
    assert boundary_tau(d, p, delta) == pytest.approx(1e-16, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_steihaug_boundary_exit_cuts_the_cg_path(seed):
    n = 8
    prob = random_spd(n, 20.0, seed=seed)
    H, g = prob.A, prob.b
    z = krylov_iterates(H, g, n)
    norms = [np.linalg.norm(v) for v in z]
    assert np.all(np.diff(norms) > 0)          # Steihaug's theorem: the CG path leaves the origin
    for j in (1, 2, 4):
        delta = 0.5 * (norms[j - 1] + norms[j])   # the step j crosses the boundary
        step = steihaug_cg(H, g, delta, rtol=1e-14)
        assert step.info == "boundary"
        assert step.products == j
        assert np.linalg.norm(step.d) == pytest.approx(delta, rel=1e-12)
        # d lies on the segment from z_{j-1} to z_j
        seg = z[j] - z[j - 1]
        t = (step.d - z[j - 1]) @ seg / (seg @ seg)
        assert 0 <= t <= 1
        assert rel_error(step.d, z[j - 1] + t * seg) < 1e-8


def test_steihaug_negative_curvature_at_the_first_step_goes_to_the_boundary_along_minus_g():
    H, Q = indefinite(10, 0, 2)
    g = Q[:, 0] + 0.05 * Q[:, 5]
    assert g @ H @ g < 0
    step = steihaug_cg(H, g, 2.5)
    assert step.info == "negative curvature" and step.products == 1
    assert rel_error(step.d, -2.5 * g / np.linalg.norm(g)) < 1e-14


def test_steihaug_negative_curvature_later_follows_p_to_the_boundary():
    H, Q = indefinite(20, 1, 3)
    rng = np.random.default_rng(4)
    g = 0.05 * Q[:, 0] + Q[:, 3:] @ rng.standard_normal(17)
    delta = 1e3
    step = steihaug_cg(H, g, delta, rtol=1e-12)
    assert step.info == "negative curvature" and step.products > 1
    assert np.linalg.norm(step.d) == pytest.approx(delta, rel=1e-12)
    # the truncated CG of Algorithm 7.1 stops at the same iterate; d continues from it along a
    # direction that decreases the model
    inner = truncated_cg(H, g, rtol=1e-12)
    assert inner.negative_curvature and len(inner.residual_norms) == step.products
    p = step.d - inner.d
    assert p @ H @ p <= 0 and (H @ inner.d + g) @ p < 0
    assert model_value(H, g, step.d) < model_value(H, g, inner.d)


def test_steihaug_zero_curvature_counts_as_negative():
    H = np.diag([0.0, 1.0, 2.0])
    step = steihaug_cg(H, np.array([3.0, 0.0, 0.0]), 2.0)
    assert step.info == "negative curvature"
    assert step.d.tolist() == [-2.0, 0.0, 0.0]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 3), st.floats(0.01, 10.0))
def test_steihaug_decreases_the_model_at_least_as_much_as_the_cauchy_point(seed, n_negative, delta):
    H, _ = indefinite(9, seed, n_negative)
    g = np.random.default_rng(seed + 1).standard_normal(9)
    step = steihaug_cg(H, g, delta, rtol=0.1)
    assert np.linalg.norm(step.d) <= delta * (1 + 1e-12)
    m_d, m_c = model_value(H, g, step.d), model_value(H, g, cauchy_point(H, g, delta))
    assert m_d <= m_c + 1e-12 * abs(m_c)
    if step.info in ("boundary", "negative curvature"):
        assert np.linalg.norm(step.d) == pytest.approx(delta, rel=1e-10)
    # the model value from the recurrences, without a product
    assert model_value(H, g, step.d) == pytest.approx(g @ step.d + 0.5 * step.d @ step.Hd,
                                                      rel=1e-9, abs=1e-12)


def test_steihaug_tolerances_maxiter_and_g_zero():
    prob = random_spd(30, 100.0, seed=2)
    H, g = prob.A, prob.b
    big = 1e6
    full = steihaug_cg(H, g, big, rtol=0.0).residual_norms
    # rtol and atol: the larger of the two
    tau = full[4] * 1.01
    step = steihaug_cg(H, g, big, rtol=tau / full[0], atol=0.5 * tau)
    assert step.info == "converged" and step.residual_norms[-1] <= tau
    assert all(r > tau for r in step.residual_norms[:-1])
    step = steihaug_cg(H, g, big, rtol=1e-14, atol=tau)
    assert step.info == "converged" and len(step.residual_norms) == 5
    # maxiter counts products
    step = steihaug_cg(H, g, big, rtol=0.0, maxiter=3)
    assert step.info == "maxiter" and step.products == 3 and len(step.residual_norms) == 4
    # g = 0: no product
    calls = []
    step = steihaug_cg(lambda v: calls.append(1) or H @ v, np.zeros(30), 1.0)
    assert step.info == "converged" and not calls and np.all(step.d == 0)
    # g is left alone
    g0 = g.copy()
    steihaug_cg(H, g, 0.1)
    assert np.array_equal(g, g0)


@pytest.mark.parametrize("kwargs, match", [
    ({"delta": 0.0}, "delta .* must be a finite number > 0"),
    ({"delta": np.inf}, "delta .* must be a finite number > 0"),
    ({"delta": True}, "delta .* must be a finite number > 0"),
    ({"g": np.array([np.nan, 1.0])}, "g contains NaN or inf"),
    ({"rtol": -1.0}, "rtol"),
])
def test_steihaug_bad_input_raises(kwargs, match):
    args = {"H": np.eye(2), "g": np.ones(2), "delta": 1.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        steihaug_cg(args.pop("H"), args.pop("g"), args.pop("delta"), **args)


def test_trust_region_newton_cg_agrees_with_scipy_trust_ncg():
    x0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.3])
    res = trust_region_newton_cg(rosen, rosen_der, x0, hessp=rosen_hess_prod, gtol=1e-9)
    ref = minimize(rosen, x0, jac=rosen_der, hessp=rosen_hess_prod, method="trust-ncg",
                   options={"gtol": 1e-9})
    assert res.converged and ref.success
    assert rel_error(res.x, ref.x) < 1e-7
    assert np.linalg.norm(rosen_der(res.x)) <= 1e-9
    # every accepted step had rho > eta, every rejected one rho <= eta, and the gradient is
    # evaluated once per accepted point
    assert np.all(res.ratios[res.accepted] > 0.15) and np.all(res.ratios[~res.accepted] <= 0.15)
    assert res.ngev == 1 + res.accepted.sum()
    assert res.nfev == 1 + res.iterations


def test_trust_region_radius_update_follows_the_ratio():
    res = trust_region_newton_cg(rosen, rosen_der, np.array([-1.2, 1.0]), hessp=rosen_hess_prod,
                                 delta0=0.5)
    for k in range(res.iterations - 1):
        rho, delta, nxt = res.ratios[k], res.radii[k], res.radii[k + 1]
        if rho < 0.25:
            assert nxt < delta
        elif rho > 0.75 and res.exits[k] in ("boundary", "negative curvature"):
            assert nxt == pytest.approx(min(2 * delta, 1e3))
        else:
            assert nxt == delta or res.exits[k] not in ("boundary", "negative curvature")
    # the predicted decrease is m(0) - m(d) > 0 for every step
    assert np.all(res.predicted > 0)


def test_trust_region_newton_cg_converges_fast_on_logistic_regression():
    model = logistic_problem()
    res = trust_region_newton_cg(model.loss, model.gradient, np.zeros(15), hessp=model.hessp,
                                 gtol=1e-10)
    ref = minimize(model.loss, np.zeros(15), jac=model.gradient, method="L-BFGS-B",
                   options={"gtol": 1e-12, "ftol": 0, "maxiter": 10_000})
    assert res.converged and res.iterations <= 15
    assert rel_error(res.x, ref.x) < 1e-6


@pytest.mark.parametrize("kwargs, match", [
    ({"delta0": -1.0}, "must be a finite number > 0"),
    ({"eta": 0.3}, r"eta must lie in \[0, 1/4\)"),
    ({"delta0": 10.0, "max_delta": 1.0}, "exceeds max_delta"),
    ({"gtol": np.nan}, "gtol must be a finite number >= 0"),
])
def test_trust_region_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        trust_region_newton_cg(rosen, rosen_der, np.array([-1.2, 1.0]), hessp=rosen_hess_prod,
                               **kwargs)
