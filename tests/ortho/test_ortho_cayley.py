"""orthla.ortho.cayley / Cayley: against the dense formula (I - S)(I + S)^{-1} in float64."""

import importlib.util

import numpy as np
import pytest

from orthla._testing import to_host
from orthla.ortho import Cayley, CayleyResult, cayley

HAVE_TORCH = importlib.util.find_spec("torch") is not None
DTYPES = ("float64", "float32")


def skew(d, batch=(), seed=0, norm=None):
    g = np.random.default_rng(seed).standard_normal((*batch, d, d))
    s = g - np.swapaxes(g, -1, -2)
    if norm is not None:
        n = np.linalg.norm(s, 2, axis=(-2, -1))
        s = s * (norm / np.where(n > 0, n, 1.0))[..., None, None]
    return s


def dense_cayley(s):
    s = np.asarray(s, dtype=np.float64)
    eye = np.eye(s.shape[-1])
    return (eye - s) @ np.linalg.inv(eye + s)


def make(xp, a, dtype):
    return xp.asarray(np.asarray(a, dtype=dtype))


def tol(dtype, d, c=20.0):
    return c * d * np.finfo(dtype).eps


def orth_err(q):
    q = to_host(q).astype(np.float64)
    eye = np.eye(q.shape[-1])
    return np.max(np.linalg.norm(np.swapaxes(q, -1, -2) @ q - eye, 2, axis=(-2, -1)))


# ------------------------------------------------------------------ the function


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d,batch", [(1, ()), (2, ()), (7, ()), (6, (2, 3))])
def test_exact_matches_the_dense_formula_and_is_orthogonal(xp, dtype, d, batch):
    s = skew(d, batch, seed=d, norm=1.5).astype(dtype)
    sx = make(xp, s, dtype)
    res = cayley(sx)
    assert isinstance(res, CayleyResult) and res.method == "exact" and res.terms is None
    assert res.Q.dtype == getattr(xp, dtype) and tuple(res.Q.shape) == (*batch, d, d)
    q = to_host(res.Q).astype(np.float64)
    assert np.max(np.abs(q - dense_cayley(s))) <= tol(dtype, d)
    assert orth_err(res.Q) <= tol(dtype, d)
    assert orth_err(res.Q) <= res.orth_bound
    np.testing.assert_array_equal(to_host(sx), s)  # input not modified


def test_convention_rotates_by_minus_two_arctan():
    # S = [[0, -t], [t, 0]] gives the rotation by -2 atan(t): Q = (I - S)(I + S)^{-1}.
    t = 0.3
    q = cayley(np.array([[0.0, -t], [t, 0.0]])).Q
    a = -2 * np.arctan(t)
    np.testing.assert_allclose(q, [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], atol=1e-15)
    # Every path follows it: the Neumann series and the class agree with the function.
    np.testing.assert_allclose(cayley(np.array([[0.0, -t], [t, 0.0]]), method="neumann", terms=16).Q, q,
                               atol=1e-8)
    np.testing.assert_allclose(Cayley.from_params(np.array([t]), 2).matrix(), q, atol=1e-15)
    np.testing.assert_allclose(Cayley(np.array([[0.0, -t], [t, 0.0]])).apply(np.eye(2)[:, :1])[:, 0], q[:, 0],
                               atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("terms", [1, 2, 3, 4, 5, 6])
def test_exact_and_neumann_agree_within_the_bound(xp, dtype, terms):
    d = 16
    s = skew(d, (3,), seed=terms, norm=0.4).astype(dtype)
    ex = cayley(make(xp, s, dtype))
    ne = cayley(make(xp, s, dtype), method="neumann", terms=terms)
    assert ne.method == "neumann" and ne.terms == terms
    diff = to_host(ne.Q).astype(np.float64) - to_host(ex.Q).astype(np.float64)
    measured = np.max(np.linalg.norm(diff, 2, axis=(-2, -1)))
    assert measured <= ne.error_bound + ex.error_bound
    # Rigorous, and with an even power computed (terms >= 2) within d^(1/4) of ||S||_2.
    assert 0.4 <= ne.norm_bound <= 0.4 * (d ** 0.25 if terms >= 2 else (d / 2) ** 0.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_neumann_bound_covers_the_measured_error_over_a_sweep(dtype):
    d = 32
    worst_ratio = 0.0
    for norm in (0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9):
        s = skew(d, (4,), seed=int(100 * norm), norm=norm).astype(dtype)
        exact = dense_cayley(s)
        for terms in (1, 2, 3, 4, 5, 6, 8):
            res = cayley(s, method="neumann", terms=terms)
            if res.method != "neumann":  # only where the bound on ||S||_2 reaches 1
                assert res.norm_bound >= 1.0 or norm >= 0.5
                continue
            assert res.norm_bound >= norm * (1 - 1e-6)
            oe = orth_err(res.Q)
            assert oe <= res.orth_bound, (norm, terms, oe, res.orth_bound)
            de = np.max(np.linalg.norm(res.Q.astype(np.float64) - exact, 2, axis=(-2, -1)))
            assert de <= res.error_bound, (norm, terms, de, res.error_bound)
            if oe > 1e-3 * np.finfo(dtype).eps ** 0.5:
                worst_ratio = max(worst_ratio, oe / res.orth_bound)
    assert worst_ratio > 1e-3  # the bound is not vacuous


def test_neumann_odd_terms_square_the_orthogonality_error():
    s = skew(8, seed=3, norm=0.3)
    e3, e4 = (orth_err(cayley(s, method="neumann", terms=k).Q) for k in (3, 4))
    np.testing.assert_allclose(e3, 0.3**6, rtol=1e-6)       # s^(2K), K odd
    np.testing.assert_allclose(e4, 2 * 0.3**4 - 0.3**8, rtol=1e-6)  # K = 0 mod 4: 2 s^K - s^(2K)
    assert e3 < e4


def test_tol_falls_back_to_exact_and_reports_it():
    s = skew(8, (2,), seed=5, norm=0.5)
    loose = cayley(s, method="neumann", terms=3, tol=0.5)
    assert loose.method == "neumann" and loose.orth_bound <= 0.5
    strict = cayley(s, method="neumann", terms=3, tol=1e-12)
    assert strict.method == "exact" and strict.terms is None
    np.testing.assert_allclose(strict.Q, dense_cayley(s), atol=1e-14)
    # ||S||_2 >= 1: the series has no useful bound, the fallback engages even without tol.
    big = cayley(skew(8, seed=6, norm=1.5), method="neumann", terms=5)
    assert big.method == "exact"
    # The class follows the same rule.
    c = Cayley(s, method="neumann", terms=3, tol=1e-12)
    assert c.result.method == "exact"
    np.testing.assert_allclose(c.matrix(), dense_cayley(s), atol=1e-14)


def test_scaled_inputs_give_finite_orthogonal_results():
    s = skew(5, seed=2)
    for scale in (2.0**-500, 1e6):
        for method in ("exact", "neumann"):
            res = cayley(s * scale, method=method)
            assert np.all(np.isfinite(res.Q)) and orth_err(res.Q) <= 1e-9
            assert np.isfinite(res.orth_bound) and np.isfinite(res.error_bound)
    np.testing.assert_allclose(cayley(s * 2.0**-500).Q, np.eye(5), atol=1e-15)
    # Beyond ||S||_2 ~ 1/sqrt(eps), I + S is too ill-conditioned (odd d: S is singular and the I is
    # rounded away), refused by name instead of returning a non-orthogonal Q.
    with pytest.raises(ValueError, match="`S` is too large"):
        cayley(s * 2.0**500)
    with pytest.raises(ValueError, match="`S` is too large"):
        cayley(s.astype(np.float32) * 1e5)


# ------------------------------------------------------------------ the class


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["exact", "neumann"])
def test_class_apply_both_sides_matches_the_matrix(xp, dtype, method):
    d = 12
    s = skew(d, (2,), seed=7, norm=0.3).astype(dtype)
    rng = np.random.default_rng(8)
    c = Cayley(make(xp, s, dtype), method=method)
    q = to_host(c.matrix()).astype(np.float64)
    assert orth_err(c.matrix()) <= max(tol(dtype, d), c.result.orth_bound)
    t = tol(dtype, d)
    for k in (1, 2, 12):  # k <= d/4 takes the solve path on a fresh object
        x = rng.standard_normal((2, d, k)).astype(dtype)
        for transpose in (False, True):
            fresh = Cayley(make(xp, s, dtype), method=method)
            qq = np.swapaxes(q, -1, -2) if transpose else q
            got = to_host(fresh.apply(make(xp, x, dtype), transpose=transpose))
            np.testing.assert_allclose(got, qq @ x, atol=t * 10)
            got_r = to_host(fresh.apply(make(xp, np.swapaxes(x, -1, -2), dtype), side="right", transpose=transpose))
            np.testing.assert_allclose(got_r, np.swapaxes(x, -1, -2) @ qq, atol=t * 10)
    v = rng.standard_normal(d).astype(dtype)
    np.testing.assert_allclose(to_host(Cayley(make(xp, s[0], dtype)).apply(make(xp, v, dtype))),
                               dense_cayley(s[0]) @ v, atol=t * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inverse_round_trip_and_transpose(xp, dtype):
    d = 9
    c = Cayley.random(d, batch_shape=(3,), scale=0.4, rng=1, dtype=getattr(xp, dtype), xp=xp)
    x = make(xp, np.random.default_rng(2).standard_normal((3, d, 4)), dtype)
    back = c.inverse().apply(c.apply(x))
    np.testing.assert_allclose(to_host(back), to_host(x), atol=tol(dtype, d))
    np.testing.assert_allclose(to_host(c.T.matrix()), np.swapaxes(to_host(c.matrix()), -1, -2), atol=tol(dtype, d))
    assert c.T.T is c and c.n_params == d * (d - 1) // 2 and c.batch_shape == (3,)


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_params_and_from_matrix_round_trip(xp, dtype):
    d = 6
    p = np.random.default_rng(3).standard_normal((2, d * (d - 1) // 2)).astype(dtype)
    c = Cayley.from_params(make(xp, p, dtype), d)
    s = to_host(c.skew)
    r, col = np.tril_indices(d, -1)
    np.testing.assert_array_equal(s[..., r, col], p)
    np.testing.assert_array_equal(s, -np.swapaxes(s, -1, -2))
    np.testing.assert_array_equal(to_host(c.params), p)
    back = Cayley.from_matrix(c.matrix())
    np.testing.assert_allclose(to_host(back.skew), s, atol=50 * tol(dtype, d) * (1 + np.abs(s).max()))


def test_from_matrix_refuses_eigenvalue_minus_one_and_non_orthogonal():
    with pytest.raises(ValueError, match="`Q`.*eigenvalue -1"):
        Cayley.from_matrix(np.diag([1.0, 1.0, -1.0]))  # det = -1
    with pytest.raises(ValueError, match="`Q`.*eigenvalue -1"):
        Cayley.from_matrix(-np.eye(2))
    a = np.pi - 1e-12
    with pytest.raises(ValueError, match="`Q`.*eigenvalue -1"):
        Cayley.from_matrix(np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]))
    with pytest.raises(ValueError, match="`Q` must be orthogonal"):
        Cayley.from_matrix(np.eye(3) * 1.01)


def test_bad_input_names_the_argument():
    s = skew(4)
    with pytest.raises(ValueError, match=r"`S` must be skew-symmetric \(S\^T = -S\); max\|S \+ S\^T\| / max\|S\| = "):
        cayley(s + 1e-6 * np.eye(4))
    with pytest.raises(ValueError, match="`S` must be skew"):
        Cayley(np.ones((3, 3)))
    with pytest.raises(ValueError, match="`S` must be square"):
        cayley(np.zeros((3, 4)))
    bad = s.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="`S` must contain only finite"):
        cayley(bad)
    with pytest.raises(TypeError, match="`S`"):
        cayley(s.astype(complex))
    with pytest.raises(ValueError, match="`method`"):
        cayley(s, method="pade")
    with pytest.raises(ValueError, match="`terms`"):
        cayley(s, method="neumann", terms=0)
    with pytest.raises(ValueError, match="`terms`"):
        cayley(s, terms=3)
    with pytest.raises(ValueError, match="`tol`"):
        cayley(s, method="neumann", tol=-1.0)
    with pytest.raises(ValueError, match="`p`"):
        Cayley.from_params(np.zeros(5), 4)
    c = Cayley(s)
    with pytest.raises(ValueError, match="`x`"):
        c.apply(np.ones((5, 2)))
    with pytest.raises(ValueError, match="`x`"):
        Cayley(np.stack([s, s])).apply(np.ones((3, 4, 2)))
    with pytest.raises(TypeError, match="`rng`"):
        Cayley.random(3, rng="seed")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("method", ["exact", "neumann"])
def test_torch_gradients_match_finite_differences(method):
    import torch

    d = 5
    p = torch.tensor(np.random.default_rng(4).standard_normal((2, d * (d - 1) // 2)) * 0.1, requires_grad=True)
    x = torch.tensor(np.random.default_rng(5).standard_normal((2, d, 3)))

    def f(p):
        c = Cayley.from_params(p, d, method=method, terms=4 if method == "neumann" else None)
        return c.apply(x), c.apply(x.mT, side="right", transpose=True), c.matrix()

    assert torch.autograd.gradcheck(f, (p,))
