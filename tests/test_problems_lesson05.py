"""The test problems added for lesson 05: a diffusion coefficient with jumps,
and the finite-element matrices that ship with pyamg."""

import numpy as np
import pytest
import scipy.sparse as sp

from krylov_ref import cg
from krylov_ref.precond import jacobi
from krylov_ref.problems import (PYAMG_SPD_EXAMPLES, jump_diffusion2d, poisson2d, pyamg_example,
                                 variable_diffusion2d)


# --- jump_diffusion2d --------------------------------------------------------------

def test_jump_diffusion_is_spd_with_a_known_solution():
    p = jump_diffusion2d(12, contrast=1e4, blocks=3, seed=1)
    A = p.A.toarray()
    assert sp.issparse(p.A) and p.A.format == "csr" and p.n == 144
    np.testing.assert_array_equal(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0
    np.testing.assert_allclose(p.A @ p.x_true, p.b)
    assert p.symmetric and p.spd and "contrast=10000" in p.name


def test_jump_diffusion_coefficient_takes_two_values_in_squares():
    # Away from the squares' edges a point's four faces are in one material,
    # so its diagonal is 4 kappa: 4 or 4e4, and both occur.
    m, blocks = 16, 4
    d = jump_diffusion2d(m, contrast=1e4, blocks=blocks, seed=2).A.diagonal().reshape(m, m)
    inside = (np.arange(m) % 4 == 1) | (np.arange(m) % 4 == 2)
    values = np.round(d[np.ix_(inside, inside)], 9)
    assert set(np.unique(values)) == {4.0, 4e4}
    # Across an edge the harmonic mean of 1 and 1e4 is about 2: in between.
    assert np.any((d > 4.0 + 1e-9) & (d < 4e4 - 1e-9))


def test_jump_diffusion_reduces_to_poisson_and_is_seeded():
    flat = jump_diffusion2d(8, contrast=1.0, blocks=2)
    assert abs(flat.A - poisson2d(8).A).max() < 1e-12
    a, b = jump_diffusion2d(10, seed=5), jump_diffusion2d(10, seed=5)
    assert (a.A != b.A).nnz == 0 and np.array_equal(a.b, b.b)
    layouts = {jump_diffusion2d(8, blocks=2, seed=s).A.diagonal().tobytes() for s in range(6)}
    assert len(layouts) > 1


def test_jump_diffusion_always_mixes_both_materials():
    for seed in range(40):
        d = jump_diffusion2d(4, contrast=1e4, blocks=2, seed=seed).A.diagonal()
        assert d.max() / d.min() > 100, seed


def test_jacobi_repairs_what_the_jumps_add():
    p = jump_diffusion2d(32, contrast=1e4, blocks=4, seed=0)
    plain = cg(p.A, p.b, rtol=1e-8, maxiter=10_000)
    pre = cg(p.A, p.b, rtol=1e-8, M=jacobi(p.A))
    assert plain.converged and pre.converged
    assert pre.iterations < plain.iterations / 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(m=8, contrast=0.5), "contrast must be a finite number >= 1"),
    (dict(m=8, blocks=1), "blocks must be an integer >= 2"),
    (dict(m=3, blocks=4), "m must be an integer >= 4"),
    (dict(m=8, contrast=np.inf), "contrast must be a finite number"),
])
def test_jump_diffusion_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        jump_diffusion2d(**kwargs)


def test_jump_and_variable_diffusion_share_the_discretisation():
    # With a constant coefficient both are kappa times the Poisson matrix.
    assert abs(variable_diffusion2d(6, contrast=1.0).A - jump_diffusion2d(6, 1.0, 2).A).max() < 1e-12


# --- pyamg_example --------------------------------------------------------------------

@pytest.mark.parametrize("name", PYAMG_SPD_EXAMPLES)
def test_the_listed_pyamg_examples_are_spd(name):
    p = pyamg_example(name)
    assert p.symmetric and p.spd
    A = p.A.toarray()
    np.testing.assert_array_equal(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0
    np.testing.assert_allclose(p.A @ p.x_true, p.b)


@pytest.mark.parametrize("name, symmetric", [("unit_square", True), ("recirc_flow", False)])
def test_pyamg_examples_that_are_not_spd_say_so(name, symmetric):
    p = pyamg_example(name)
    assert p.symmetric is symmetric and p.spd is False


def test_pyamg_example_refuses_unknown_and_complex_examples():
    with pytest.raises(ValueError, match="no example 'nothing'"):
        pyamg_example("nothing")
    with pytest.raises(ValueError, match="complex"):
        pyamg_example("helmholtz_2D")


def test_pyamg_example_is_seeded():
    a, b, c = pyamg_example("knot", seed=1), pyamg_example("knot", seed=1), pyamg_example("knot", seed=2)
    assert np.array_equal(a.b, b.b) and not np.array_equal(a.b, c.b)


@pytest.mark.parametrize("m", [1, 2, 3, 5, 6, 12])
def test_poisson2d_stores_no_explicit_zeros(m):
    # 5 entries per row, minus one for each missing neighbour on the boundary.
    from krylov_ref.problems import poisson2d

    A = poisson2d(m).A
    assert A.nnz == 5 * m * m - 4 * m
    assert np.all(A.data != 0)
