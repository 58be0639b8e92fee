import itertools

import numpy as np
import pytest

from orthla._testing import assert_close, to_host
from orthla.pivoting import JacobiConvergenceWarning, pivot_potential, random_pivot_factorize
from orthla.pivoting._random_pivot import _State

KINDS = ("eigh", "svd", "cholesky", "qr")


def spd(rng, n, complex_=False):
    g = rng.standard_normal((n, n))
    if complex_:
        g = g + 1j * rng.standard_normal((n, n))
    return g @ g.conj().T + 0.5 * np.eye(n)


def start_matrix(kind, rng, n=6, complex_=False):
    if kind in ("eigh", "cholesky"):
        return spd(rng, n, complex_)
    a = rng.standard_normal((n + 3, n))
    return a + 1j * rng.standard_normal((n + 3, n)) if complex_ else a


def dense_potential(b):
    return float(np.real(np.sum(np.diag(b) * np.diag(np.linalg.inv(b))))) - b.shape[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("complex_", [False, True])
def test_expected_potential_identity_over_all_subsets(kind, k, complex_):
    # E[Gamma'] = (1 - k(k-1)/(n(n-1))) Gamma, averaging one step over every k-subset
    import array_api_compat.numpy as xp

    n = 6
    a = start_matrix(kind, np.random.default_rng(10 + k), n, complex_)
    gamma = float(_State(a, kind, xp).potential())
    after = []
    for subset in itertools.combinations(range(n), k):
        state = _State(a, kind, xp)
        state.step(np.array(subset))
        after.append(float(state.potential()))
    rho = 1 - k * (k - 1) / (n * (n - 1))
    assert gamma > 1.0
    assert abs(np.mean(after) - rho * gamma) <= 1e-12 * gamma
    assert min(after) < rho * gamma < max(after)  # a genuine average, not a constant


def test_pivot_potential(xp):
    rng = np.random.default_rng(0)
    b_np = spd(rng, 7)
    b = xp.asarray(b_np)
    g = pivot_potential(b)
    assert_close(g, np.asarray(dense_potential(b_np)), xp=xp, rtol=1e-12)
    assert float(g) > 0
    d = np.logspace(0, -8, 7)
    scaled = pivot_potential(xp.asarray(d[:, None] * b_np * d[None, :]))  # invariant to D b D
    assert abs(float(scaled) - float(g)) <= 1e-8 * float(g)
    assert float(pivot_potential(xp.asarray(np.diag([1.0, 1e-30, 7.0])))) == 0.0
    herm = spd(rng, 4, complex_=True)
    assert abs(float(pivot_potential(xp.asarray(herm))) - dense_potential(herm)) <= 1e-12 * dense_potential(herm)


def test_pivot_potential_errors(xp):
    with pytest.raises(ValueError, match=r"`b` must be a square matrix; got shape \(2, 3\)"):
        pivot_potential(xp.ones((2, 3)))
    with pytest.raises(ValueError, match="`b` must contain only finite values"):
        pivot_potential(xp.asarray(np.array([[1.0, np.nan], [0.0, 1.0]])))


def test_cholesky_limit_is_unpivoted_cholesky(xp):
    for complex_ in (False, True):
        a_np = spd(np.random.default_rng(1), 7, complex_)
        (low,), pot, steps, ok = random_pivot_factorize(xp.asarray(a_np), "cholesky", rng=2)
        assert ok and pot is None and steps > 0
        assert_close(low, np.linalg.cholesky(a_np), xp=xp, rtol=0, atol=1e-12 * np.abs(a_np).max())


def test_qr_limit_is_householder_q_up_to_signs(xp):
    a_np = start_matrix("qr", np.random.default_rng(2), 6)
    (q, r), _, _, ok = random_pivot_factorize(xp.asarray(a_np), "qr", block=3, rng=3)
    q_ref, r_ref = np.linalg.qr(a_np)
    assert ok
    assert_close(xp.abs(q), np.abs(q_ref), xp=xp, rtol=0, atol=1e-12)
    assert_close(xp.abs(r), np.abs(r_ref), xp=xp, rtol=0, atol=1e-12 * np.abs(r_ref).max())
    rh = to_host(r)
    assert np.all(np.tril(rh, -1) == 0) and np.all(np.diag(rh) > 0)


def test_eigh_and_svd_limits(xp):
    rng = np.random.default_rng(4)
    a_np = start_matrix("eigh", rng, 7, complex_=True)
    (w, v), _, _, ok = random_pivot_factorize(xp.asarray(a_np), "eigh", rng=5)
    assert ok
    assert_close(w, np.linalg.eigvalsh(a_np), xp=xp, rtol=1e-12)
    vh_ = to_host(v)
    assert np.linalg.norm(a_np @ vh_ - vh_ * to_host(w)) <= 1e-12 * np.linalg.norm(a_np)
    for shape in ((9, 6), (5, 8)):
        b_np = rng.standard_normal(shape)
        (u, s, vh), _, _, ok = random_pivot_factorize(xp.asarray(b_np), "svd", block=3, rng=6)
        assert ok and u.shape == (shape[0], min(shape)) and vh.shape == (min(shape), shape[1])
        assert_close(s, np.linalg.svd(b_np, compute_uv=False), xp=xp, rtol=1e-12)
        assert np.linalg.norm((to_host(u) * to_host(s)) @ to_host(vh) - b_np) <= 1e-13 * np.linalg.norm(b_np)


@pytest.mark.parametrize("kind", KINDS)
def test_recorded_potential_decays_to_zero(kind):
    a = start_matrix(kind, np.random.default_rng(7), 8)
    res = random_pivot_factorize(a, kind, rng=8, record_potential=True)
    pot = res.potential
    assert res.converged and pot.shape == (res.steps + 1,)
    assert pot[0] > 1.0 and abs(pot[-1]) < 1e-18 * pot[0] + 1e-12
    assert abs(pot[0] - dense_potential(a if kind in ("eigh", "cholesky") else a.T @ a)) <= 1e-10 * pot[0]


def test_seeded_reproducibility():
    a = spd(np.random.default_rng(0), 6)
    r1 = random_pivot_factorize(a, "eigh", rng=3, record_potential=True)
    r2 = random_pivot_factorize(a, "eigh", rng=np.random.default_rng(3), record_potential=True)
    np.testing.assert_array_equal(r1.potential, r2.potential)
    np.testing.assert_array_equal(r1.factors[1], r2.factors[1])


def test_non_convergence_is_reported(xp):
    a = xp.asarray(spd(np.random.default_rng(5), 6))
    with pytest.warns(JacobiConvergenceWarning, match=r"kind='eigh'\) did not converge in max_steps=3"):
        res = random_pivot_factorize(a, "eigh", max_steps=3, rng=0)
    assert not res.converged and res.steps == 3


def test_one_by_one(xp):
    (low,), pot, steps, ok = random_pivot_factorize(xp.asarray(np.array([[4.0]])), "cholesky", record_potential=True)
    assert ok and steps == 0
    assert_close(low, np.array([[2.0]]), xp=xp, rtol=0)
    assert_close(pot, np.array([0.0]), xp=xp, rtol=0)


def test_input_not_modified():
    a = spd(np.random.default_rng(6), 5)
    a.setflags(write=False)
    before = a.copy()
    for kind in KINDS:
        random_pivot_factorize(a, kind, rng=0)
    np.testing.assert_array_equal(a, before)


def test_errors(xp):
    with pytest.raises(ValueError, match=r"`kind` must be one of \('eigh', 'svd', 'cholesky', 'qr'\); got 'lu'"):
        random_pivot_factorize(xp.eye(3), "lu")
    with pytest.raises(ValueError, match="`block` must be an integer at least 2 and at most n = 3; got 4"):
        random_pivot_factorize(xp.eye(3), block=4)
    with pytest.raises(ValueError, match="`block` must be an integer at least 2"):
        random_pivot_factorize(xp.eye(3), block=1)
    with pytest.raises(ValueError, match=r"at least as many rows as columns for kind='qr'; got shape \(2, 3\)"):
        random_pivot_factorize(xp.ones((2, 3)), "qr")
    with pytest.raises(ValueError, match="`a` must be symmetric"):
        random_pivot_factorize(xp.asarray(np.array([[1.0, 2.0], [0.0, 1.0]])), "eigh")
    with pytest.raises(ValueError, match="`a` must be a square matrix"):
        random_pivot_factorize(xp.ones((3, 2)), "cholesky")
    with pytest.raises(np.linalg.LinAlgError, match=r"Cholesky pivot 1 \(0-based\) is not positive"):
        random_pivot_factorize(xp.asarray(np.array([[1.0, 2.0], [2.0, 1.0]])), "cholesky")
    rankdef = np.ones((4, 3))
    with pytest.raises(ValueError, match="`a` must have full column rank for kind='qr'"):
        random_pivot_factorize(xp.asarray(rankdef), "qr", rng=0)
    with pytest.raises(ValueError, match=r"`tol` must be a finite real number > 0; got 0.0"):
        random_pivot_factorize(xp.eye(3), tol=0.0)
    with pytest.raises(ValueError, match="`a` must contain only finite values"):
        random_pivot_factorize(xp.asarray(np.array([[np.inf, 0.0], [0.0, 1.0]])))
