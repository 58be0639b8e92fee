"""orthla.ortho.expm_skew / ExpSkew: against scipy.linalg.expm and scipy.linalg.logm in float64."""

import importlib.util

import numpy as np
import pytest
import scipy.linalg

from orthla._testing import to_host
from orthla.ortho import ExpSkew, expm_skew

HAVE_TORCH = importlib.util.find_spec("torch") is not None
DTYPES = ("float64", "float32")


def skew(d, batch=(), seed=0, norm=None):
    g = np.random.default_rng(seed).standard_normal((*batch, d, d))
    s = g - np.swapaxes(g, -1, -2)
    if norm is not None:
        n = np.linalg.norm(s, 2, axis=(-2, -1))
        s = s * (norm / np.where(n > 0, n, 1.0))[..., None, None]
    return s


def ref_expm(s):
    s = np.asarray(s, dtype=np.float64)
    out = np.empty(s.shape)
    for idx in np.ndindex(*s.shape[:-2]):
        out[idx] = scipy.linalg.expm(s[idx])
    return out


def make(xp, a, dtype):
    return xp.asarray(np.asarray(a, dtype=dtype))


def tol(dtype, d, c=10.0):
    return c * d * np.finfo(dtype).eps


def orth_err(q):
    q = to_host(q).astype(np.float64)
    return np.max(np.abs(np.swapaxes(q, -1, -2) @ q - np.eye(q.shape[-1])))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d,batch,norm", [(1, (), 1.0), (2, (), 0.5), (7, (), 3.0), (6, (2, 3), 0.01),
                                          (16, (2,), 40.0)])
def test_expm_skew_matches_scipy_and_is_orthogonal(xp, dtype, d, batch, norm):
    s = skew(d, batch, seed=d, norm=norm).astype(dtype)
    sx = make(xp, s, dtype)
    q = expm_skew(sx)
    assert q.dtype == getattr(xp, dtype) and tuple(q.shape) == (*batch, d, d)
    assert orth_err(q) <= tol(dtype, d)  # orthogonal to working precision at any norm
    # Forward error ~ eps * ||S|| (the condition number of exp on skew matrices).
    assert np.max(np.abs(to_host(q).astype(np.float64) - ref_expm(s))) <= tol(dtype, d) * max(1.0, norm)
    np.testing.assert_array_equal(to_host(sx), s)  # input not modified
    if d > 1:
        assert np.all(np.linalg.det(to_host(q).astype(np.float64)) > 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_class_apply_both_sides_inverse_and_transpose(xp, dtype):
    d = 10
    rng = np.random.default_rng(1)
    e = ExpSkew(make(xp, skew(d, (2,), seed=2, norm=2.0), dtype))
    q = to_host(e.matrix()).astype(np.float64)
    t = tol(dtype, d)
    for transpose in (False, True):
        qq = np.swapaxes(q, -1, -2) if transpose else q
        x = rng.standard_normal((2, d, 3)).astype(dtype)
        np.testing.assert_allclose(to_host(e.apply(make(xp, x, dtype), transpose=transpose)), qq @ x, atol=t)
        xr = np.swapaxes(x, -1, -2)
        np.testing.assert_allclose(to_host(e.apply(make(xp, xr, dtype), side="right", transpose=transpose)),
                                   xr @ qq, atol=t)
    x = make(xp, rng.standard_normal((2, d, 4)), dtype)
    np.testing.assert_allclose(to_host(e.inverse().apply(e.apply(x))), to_host(x), atol=t)
    np.testing.assert_allclose(to_host(e.T.matrix()), np.swapaxes(q, -1, -2), atol=t)
    assert e.n_params == d * (d - 1) // 2 and e.batch_shape == (2,) and e.T.T is e


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_params_from_matrix_round_trip(xp, dtype):
    d = 7
    e = ExpSkew.random(d, batch_shape=(3,), scale=0.3, rng=4, xp=xp, dtype=getattr(xp, dtype))
    p = to_host(e.params)
    np.testing.assert_array_equal(to_host(ExpSkew.from_params(e.params, d).skew), to_host(e.skew))
    r, c = np.tril_indices(d, -1)
    np.testing.assert_array_equal(to_host(e.skew)[..., r, c], p)
    back = ExpSkew.from_matrix(e.matrix())
    np.testing.assert_allclose(to_host(back.skew), to_host(e.skew), atol=tol(dtype, d, 50))
    np.testing.assert_allclose(to_host(back.matrix()), to_host(e.matrix()), atol=tol(dtype, d, 50))


def test_from_matrix_is_the_principal_logarithm():
    # Angles up to 3 (< pi): logm of expm(S) is S itself only for the principal branch.
    d = 8
    s = skew(d, seed=5, norm=3.0)
    q = scipy.linalg.expm(s)
    log = ExpSkew.from_matrix(q).skew
    np.testing.assert_allclose(log, np.real(scipy.linalg.logm(q)), atol=1e-10)
    np.testing.assert_allclose(log, s, atol=1e-10)
    # Angles past pi wrap to the principal branch: the logarithm differs from S, exp(log) == q.
    s2 = skew(d, seed=6, norm=4.5)
    q2 = scipy.linalg.expm(s2)
    log2 = ExpSkew.from_matrix(q2).skew
    assert np.max(np.abs(log2 - s2)) > 0.1
    np.testing.assert_allclose(scipy.linalg.expm(log2), q2, atol=1e-12)
    assert np.max(np.abs(np.linalg.eigvals(log2).imag)) < np.pi


def test_from_matrix_refuses_eigenvalue_minus_one_and_non_orthogonal():
    with pytest.raises(ValueError, match="`Q` has the eigenvalue -1"):
        ExpSkew.from_matrix(np.diag([1.0, -1.0, 1.0]))  # det = -1
    with pytest.raises(ValueError, match="`Q` has the eigenvalue -1"):
        ExpSkew.from_matrix(-np.eye(4))
    with pytest.raises(ValueError, match="`Q` must be orthogonal"):
        ExpSkew.from_matrix(np.ones((3, 3)))


def test_bad_input_names_the_argument():
    s = skew(5)
    with pytest.raises(ValueError, match="`S` must be skew-symmetric"):
        expm_skew(s + 1e-3 * np.ones((5, 5)))
    with pytest.raises(ValueError, match="`S` must be square"):
        expm_skew(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="`S` must contain only finite"):
        expm_skew(np.full((2, 2), np.inf))
    with pytest.raises(ValueError, match="`S` is too large"):
        expm_skew(s * 1e20)
    with pytest.raises(ValueError, match="`p` is too large"):
        ExpSkew.from_params(np.full(3, 1e20), 3).matrix()
    with pytest.raises(TypeError, match="`S`"):
        ExpSkew(s.astype(bool))
    with pytest.raises(ValueError, match="`x`"):
        ExpSkew(s).apply(np.ones(4))


def test_small_input_and_identity():
    s = skew(4, seed=1) * 2.0**-500
    np.testing.assert_allclose(expm_skew(s), np.eye(4) + s, rtol=1e-14, atol=0)  # exp(S) = I + S here
    np.testing.assert_array_equal(expm_skew(np.zeros((3, 3))), np.eye(3))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_gradients_match_finite_differences():
    import torch

    d = 4
    p = torch.tensor(np.random.default_rng(4).standard_normal((2, d * (d - 1) // 2)) * 1.5, requires_grad=True)
    x = torch.tensor(np.random.default_rng(5).standard_normal((2, d, 3)))

    def f(p):
        e = ExpSkew.from_params(p, d)
        return e.apply(x), e.apply(x, transpose=True), e.matrix()

    assert torch.autograd.gradcheck(f, (p,))
