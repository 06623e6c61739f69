"""Givens rotations and GMRES's least-squares update (krylov_ref.givens)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krylov_ref import arnoldi, gmres
from krylov_ref.givens import apply_rotations, givens_rotation, givens_update

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=200, deadline=None)
@given(a=finite, b=finite)
def test_the_rotation_zeroes_b_with_r_nonnegative(a, b):
    c, s = givens_rotation(a, b)
    assert isinstance(c, float) and isinstance(s, float)
    assert c * c + s * s == pytest.approx(1.0, abs=1e-15)
    scale = max(abs(a), abs(b))
    if scale == 0:
        assert (c, s) == (1.0, 0.0)
        return
    # Scaled, so that the check itself neither overflows nor loses subnormal digits.
    a, b = a / scale, b / scale
    assert c * a + s * b == pytest.approx(np.hypot(a, b), rel=1e-14)
    assert abs(-s * a + c * b) <= 1e-15


@pytest.mark.parametrize("a, b, want", [
    (2.0, 0.0, (1.0, 0.0)), (-2.0, 0.0, (-1.0, 0.0)), (0.0, 3.0, (0.0, 1.0)),
    (0.0, -3.0, (0.0, -1.0)), (0.0, 0.0, (1.0, 0.0)), (3.0, 4.0, (0.6, 0.8)),
    (3e200, 4e200, (0.6, 0.8)), (-3e-200, 4e-200, (-0.6, 0.8)),
])
def test_special_cases(a, b, want):
    c, s = givens_rotation(a, b)
    assert c == pytest.approx(want[0], rel=1e-15) and s == pytest.approx(want[1], rel=1e-15)


@pytest.mark.parametrize("a, b", [(np.nan, 1.0), (1.0, np.inf), ("1", 2.0), (True, 1.0),
                                  (np.array([1.0]), 1.0)])
def test_bad_entries_are_rejected(a, b):
    with pytest.raises(ValueError):
        givens_rotation(a, b)


def test_apply_rotations_is_a_copy_in_order():
    h = np.array([1.0, 2.0, 3.0])
    c0, s0 = givens_rotation(1.0, 2.0)
    out = apply_rotations(h, [c0, 0.0], [s0, 1.0])
    assert np.array_equal(h, [1.0, 2.0, 3.0])             # the input is left alone
    # G_0 first: (1, 2) -> (sqrt 5, 0); then G_1 (a swap with sign): (0, 3) -> (3, -0).
    np.testing.assert_allclose(out, [np.sqrt(5.0), 3.0, 0.0], atol=1e-15)
    with pytest.raises(ValueError, match="same length"):
        apply_rotations(h, [1.0], [])
    with pytest.raises(ValueError, match="at least"):
        apply_rotations([1.0], [1.0], [0.0])


def test_updates_give_the_qr_factorisation_and_the_least_squares_residual():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 30)) / np.sqrt(30) + np.eye(30)
    v0 = rng.standard_normal(30)
    k = 10
    _, H = arnoldi(A, v0, k)
    beta = np.linalg.norm(v0)
    cs, sn, g = [], [], np.array([beta])
    R = np.zeros((k, k))
    for j in range(k):
        h = H[: j + 2, j].copy()
        R[: j + 1, j], c, s, g_new = givens_update(h, cs, sn, g)
        np.testing.assert_array_equal(h, H[: j + 2, j])   # inputs unchanged
        assert g_new.shape == (j + 2,) and R[j, j] >= 0
        np.testing.assert_array_equal(g_new[:j], g[:j])
        cs.append(c)
        sn.append(s)
        g = g_new
        rhs = np.zeros(j + 2)
        rhs[0] = beta
        y = np.linalg.lstsq(H[: j + 2, : j + 1], rhs, rcond=None)[0]
        assert abs(g[-1]) == pytest.approx(np.linalg.norm(rhs - H[: j + 2, : j + 1] @ y), rel=1e-10)
    # Q^T H = [R; 0] with Q^T the product of the rotations: so H^T H = R^T R.
    np.testing.assert_allclose(H.T @ H, R.T @ R, rtol=1e-10, atol=1e-12)
    # |g_{j+1}| = |s_j| |g_j|: the residual never increases.
    assert np.all(np.abs(sn) <= 1.0)


def test_the_update_agrees_with_krylov_ref_gmres():
    # gmres keeps R and g of the last cycle internally; its residual history
    # is the product of |s_j| times beta, which the updates reproduce.
    rng = np.random.default_rng(3)
    A = rng.standard_normal((25, 25)) + 6 * np.eye(25)
    b = rng.standard_normal(25)
    res = gmres(A, b, rtol=0.0, restart=25, maxiter=8)
    cs, sn, g = [], [], np.array([np.linalg.norm(b)])
    for j in range(8):
        _, c, s, g = givens_update(res.H[: j + 2, j], cs, sn, g)
        cs.append(c)
        sn.append(s)
    np.testing.assert_allclose(np.abs(g[-1]), res.residual_norms[-1], rtol=1e-10)


def test_happy_breakdown_and_stagnation_steps():
    r, c, s, g = givens_update([-2.0, 0.0], [], [], [5.0])
    assert (c, s) == (-1.0, 0.0) and r.tolist() == [2.0] and g.tolist() == [-5.0, -0.0]
    r, c, s, g = givens_update([0.0, 1.5], [], [], [5.0])
    assert (c, s) == (0.0, 1.0) and r.tolist() == [1.5] and g.tolist() == [0.0, -5.0]


@pytest.mark.parametrize("h, cs, sn, g, match", [
    ([1.0], [], [], [1.0], "at least 2"),
    ([1.0, 2.0, 3.0], [], [], [1.0, 2.0], "earlier rotations"),
    ([1.0, 2.0], [], [], [1.0, 2.0], "g must have 1"),
    ([1.0, np.nan], [], [], [1.0], "NaN"),
    ([[1.0, 2.0]], [], [], [1.0], "1-D"),
])
def test_bad_update_input_is_rejected(h, cs, sn, g, match):
    with pytest.raises(ValueError, match=match):
        givens_update(h, cs, sn, g)
