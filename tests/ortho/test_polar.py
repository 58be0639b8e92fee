"""orthla.ortho.polar against scipy.linalg.polar and an SVD reference in float64."""

import importlib.util
import warnings

import numpy as np
import pytest
import scipy.linalg as sla

from orthla._testing import to_host
from orthla.ortho import PolarResult, polar
from orthla.ortho._polar import newton_schulz_schedule, qdwh_schedule, qdwh_weights

HAVE_TORCH = importlib.util.find_spec("torch") is not None
METHODS = ("qdwh", "newton-schulz", "svd")


def with_condition(m, n, kappa, seed, complex_=False):
    rng = np.random.default_rng(seed)
    k = min(m, n)

    def basis(p):
        z = rng.standard_normal((p, k))
        if complex_:
            z = z + 1j * rng.standard_normal((p, k))
        return np.linalg.qr(z)[0]

    return (basis(m) * np.geomspace(1, 1 / kappa, k)) @ basis(n).conj().T


def polar_svd(a):
    w, _, vh = np.linalg.svd(a, full_matrices=False)
    return w @ vh


def check_decomposition(a, u, h, side="right", rtol=1e-14):
    m, n = a.shape
    eps = np.finfo(float).eps
    scale = np.linalg.norm(a)
    if side == "right":
        np.testing.assert_allclose(u @ h, a, rtol=0, atol=50 * eps * scale * np.sqrt(n))
        assert h.shape == (n, n)
    else:
        np.testing.assert_allclose(h @ u, a, rtol=0, atol=50 * eps * scale * np.sqrt(m))
        assert h.shape == (m, m)
    np.testing.assert_array_equal(h, h.conj().T)  # symmetrized exactly
    assert np.linalg.eigvalsh(h).min() >= -50 * eps * scale
    k = min(m, n)
    g = u.conj().T @ u if m >= n else u @ u.conj().T
    assert np.linalg.norm(g - np.eye(k)) <= 1e-14 * k


# ------------------------------------------------------------------ QDWH

def test_qdwh_weights_and_iteration_count():
    # l = 1: Halley's iteration (a, b, c) = (3, 1, 3).
    np.testing.assert_allclose(qdwh_weights(1.0), (3.0, 1.0, 3.0), rtol=1e-14)
    # NBG 2010: at most 6 iterations for kappa <= 1e16 in double precision.
    eps = np.finfo(float).eps
    counts = [len(qdwh_schedule(l0, eps)) for l0 in (1e-16, 1e-12, 1e-8, 1e-4, 1e-1, 0.9)]
    assert counts == sorted(counts, reverse=True) and max(counts) <= 6
    # The QR-based steps come first (c > 100), then the Cholesky-type ones.
    cs = [c for _, _, c in qdwh_schedule(1e-16, eps)]
    assert cs[0] > 100 and cs[-1] <= 100 and cs == sorted(cs, reverse=True)


@pytest.mark.parametrize("kappa", [1.0, 1e2, 1e5, 1e8, 1e12, 1e16])
@pytest.mark.parametrize("shape", [(60, 60), (80, 50), (50, 80)])
def test_qdwh_accuracy_up_to_kappa_1e16(kappa, shape):
    a = with_condition(*shape, kappa, seed=int(np.log10(kappa)) + shape[0])
    u, h = polar(a, method="qdwh")
    n = min(shape)
    assert np.linalg.norm(u - polar_svd(a)) <= 1e-13 * kappa
    check_decomposition(a, u, h)
    g = u.T @ u if shape[0] >= shape[1] else u @ u.T
    assert np.linalg.norm(g - np.eye(n)) <= 1e-14 * n


@pytest.mark.parametrize("factor", [3.0, 1e2, 1e8])
def test_qdwh_with_a_too_large_lower_bound_never_returns_a_wrong_u(monkeypatch, factor):
    """l0 overestimating sigma_min (as rounding in the explicit inverse can) leaves the smallest
    singular values unconverged: the orthogonality check must catch it (SVD route)."""
    import orthla.ortho._polar as mod

    orig = mod.qdwh_schedule
    monkeypatch.setattr(mod, "qdwh_schedule", lambda l0, eps: orig(min(l0 * factor, 1.0), eps))
    for kappa in (1e2, 1e8, 1e12):
        a = with_condition(30, 20, kappa, seed=31)
        u, h = polar(a, method="qdwh")
        check_decomposition(a, u, h)
        np.testing.assert_allclose(u, polar_svd(a), rtol=0, atol=1e-13 * kappa)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("shape", [(7, 4), (4, 7), (5, 5), (1, 3), (3, 1), (1, 1)])
def test_matches_scipy(method, side, shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape)
    res = polar(a, method=method, side=side)
    assert isinstance(res, PolarResult)
    u, h = res
    u_ref, h_ref = sla.polar(a, side=side)
    np.testing.assert_allclose(u, u_ref, atol=1e-13)
    np.testing.assert_allclose(h, h_ref, atol=1e-13)
    check_decomposition(a, u, h, side=side)


@pytest.mark.parametrize("method", METHODS)
def test_complex(method, xp):
    a = with_condition(9, 6, 1e3, seed=3, complex_=True)
    u, h = polar(xp.asarray(a), method=method)
    assert u.dtype == xp.complex128
    u, h = to_host(u), to_host(h)
    np.testing.assert_allclose(u, sla.polar(a)[0], atol=1e-11)
    check_decomposition(a, u, h)


@pytest.mark.parametrize("method", METHODS)
def test_float32(method):
    a = with_condition(30, 20, 1e2, seed=4).astype(np.float32)
    u, h = polar(a, method=method)
    assert u.dtype == h.dtype == np.float32
    eps = np.finfo(np.float32).eps
    assert np.linalg.norm(u.T.astype(float) @ u - np.eye(20)) <= 10 * 20 * eps
    np.testing.assert_allclose(u, polar_svd(a.astype(float)), atol=1e2 * 100 * eps)


def test_newton_schulz_schedule_lengths():
    # documented: 21 quintics in float64, 11 in float32
    assert len(newton_schulz_schedule(np.finfo(np.float64).eps)) == 21
    assert len(newton_schulz_schedule(float(np.finfo(np.float32).eps))) == 11


def test_newton_schulz_float64_moderate_condition():
    a = with_condition(40, 30, 1e6, seed=5)
    u, h = polar(a, method="newton-schulz")
    assert np.linalg.norm(u - polar_svd(a)) <= 1e-13 * 1e6
    check_decomposition(a, u, h)


# ------------------------------------------------------------------ rank deficiency, zero

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (3, 3)])
def test_zero_gives_identity_like(method, shape):
    u, h = polar(np.zeros(shape), method=method)
    np.testing.assert_array_equal(u, np.eye(*shape))
    np.testing.assert_array_equal(h, np.zeros((shape[1], shape[1])))
    u, h = polar(np.zeros(shape), method=method, side="left")
    np.testing.assert_array_equal(u, np.eye(*shape))
    assert h.shape == (shape[0], shape[0]) and not h.any()


@pytest.mark.parametrize("method", METHODS)
def test_rank_deficient_is_documented_and_basis_independent(method):
    rng = np.random.default_rng(6)
    b = rng.standard_normal((8, 3)) @ rng.standard_normal((3, 5))  # rank 3 of 5
    u, h = polar(b, method=method)
    check_decomposition(b, u, h)
    # On the range: the partial isometry W_r V_r^T.
    w, _s, vh = np.linalg.svd(b, full_matrices=True)
    np.testing.assert_allclose(u @ vh[:3].T, w[:, :3], atol=1e-12)
    if method != "svd":
        return  # iterative methods: a valid factor, its completion set by rounding (documented)
    # Off the range: the polar factor of P_L I P_R, which no choice of null-space basis changes.
    pl = np.eye(8) - w[:, :3] @ w[:, :3].T
    pr = np.eye(5) - vh[:3].T @ vh[:3]
    m = pl @ np.eye(8, 5) @ pr
    wm, _sm, vhm = np.linalg.svd(m)
    np.testing.assert_allclose(u @ pr, wm[:, :2] @ vhm[:2], atol=1e-12)
    u2, _ = polar(b.copy(), method=method)
    np.testing.assert_array_equal(u, u2)


DEGENERATE = {
    # P_L I P_R = 0: the complement of the range and the null space are orthogonal, so the
    # completion's singular vectors are arbitrary (the old code returned [[1, 1], [0, 0]]).
    "jordan2": [[0.0, 1.0], [0.0, 0.0]],
    "tall": [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]],
    "jordan3": [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]],
    "wide": [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]],
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("name", list(DEGENERATE))
def test_rank_deficient_degenerate_completion_is_orthonormal(name, side, method):
    a = np.array(DEGENERATE[name])
    u, h = polar(a, method=method, side=side)
    check_decomposition(a, u, h, side=side)


def test_rank_deficient_degenerate_completion_on_backends(xp):
    a = np.array(DEGENERATE["jordan2"])
    u, h = polar(xp.asarray(np.stack([a, np.zeros((2, 2)), a.T])))
    u, h = to_host(u), to_host(h)
    for i, ai in enumerate((a, np.zeros((2, 2)), a.T)):
        check_decomposition(ai, u[i], h[i])
    np.testing.assert_array_equal(u[1], np.eye(2))  # the zero matrix keeps its documented U


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cos", [1e-2, 1e-4, 1e-6, 1e-8])
def test_rank_deficient_nearly_degenerate_completion(dtype, cos):
    """a = w v^T with w = e1, v = (cos, sin): P_L I P_R has the single singular value cos, so
    rounding tilted the completion by eps / cos (orthogonality 4e-12 in float64 at cos = 1e-4,
    1e-4 in float32; U H - a as large).  The completion is the rotation [[c, s], [-s, c]]."""
    sin = np.sqrt(1.0 - cos**2)
    a = np.outer([1.0, 0.0], [cos, sin]).astype(dtype)
    eps = np.finfo(dtype).eps
    u, h = polar(a)
    assert u.dtype == dtype and h.dtype == dtype
    u, h = u.astype(np.float64), h.astype(np.float64)
    assert np.linalg.norm(u.T @ u - np.eye(2)) <= 20 * eps
    assert np.linalg.norm(u @ h - a) <= 20 * eps
    np.testing.assert_allclose(u, [[cos, sin], [-sin, cos]], rtol=0, atol=20 * eps)


def test_rank_one_square_and_scipy_differs_only_off_range():
    a = np.outer([1.0, 2.0, 2.0], [2.0, 1.0, 2.0])
    u, h = polar(a)
    check_decomposition(a, u, h)
    u_sp, h_sp = sla.polar(a)
    np.testing.assert_allclose(h, h_sp, atol=1e-14)
    np.testing.assert_allclose(u @ a.T, u_sp @ a.T, atol=1e-13)  # same on the range


# ------------------------------------------------------------------ shapes, scales, bad input

@pytest.mark.parametrize("method", METHODS)
def test_batched_equals_loop(method):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, 3, 6, 4))
    a[1, 2] = 0
    u, h = polar(a, method=method)
    for i in range(2):
        for j in range(3):
            ui, hi = polar(a[i, j], method=method)
            np.testing.assert_allclose(u[i, j], ui, atol=1e-13)
            np.testing.assert_allclose(h[i, j], hi, atol=1e-13)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scale", [2.0**-500, 2.0**500, 1e-300, 1e300])
def test_extreme_scales(method, scale):
    a = with_condition(6, 4, 10.0, seed=8)
    u, h = polar(a, method=method)
    us, hs = polar(a * scale, method=method)
    np.testing.assert_allclose(us, u, atol=1e-14)
    np.testing.assert_allclose(hs / scale, h, atol=1e-14)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (2, 0, 3)])
@pytest.mark.parametrize("side", ["right", "left"])
def test_empty(shape, side):
    u, h = polar(np.zeros(shape), side=side)
    k = shape[-1] if side == "right" else shape[-2]
    assert u.shape == shape and h.shape == (*shape[:-2], k, k)


def test_bad_input():
    good = np.ones((3, 2))
    for bad in (np.nan, np.inf):
        a = good.copy()
        a[1, 1] = bad
        with pytest.raises(ValueError, match="`a` must contain only finite"):
            polar(a)
    with pytest.raises(ValueError, match="`a`.*ndim=1"):
        polar(np.ones(3))
    for bad in (good > 0, good.astype(object), good.astype(np.float16), np.array([["x"]])):
        with pytest.raises(TypeError, match="`a`"):
            polar(bad)
    with pytest.raises(ValueError, match="`method`"):
        polar(good, method="halley")
    with pytest.raises(ValueError, match="`side`"):
        polar(good, side="both")
    with pytest.raises(TypeError, match="`check_finite`"):
        polar(good, check_finite="yes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        mat = np.asmatrix(good)
    with pytest.raises(TypeError):
        polar(mat)


def test_integer_promoted_and_input_untouched():
    a = np.array([[1, 2], [3, 4], [5, 7]])
    u, _h = polar(a)
    assert u.dtype == np.float64
    np.testing.assert_allclose(u, sla.polar(a.astype(float))[0], atol=1e-14)
    b = with_condition(5, 4, 10.0, seed=9)
    b.setflags(write=False)
    before = b.copy()
    for method in METHODS:
        polar(b, method=method, side="left")
    np.testing.assert_array_equal(b, before)


# ------------------------------------------------------------------ backends

@pytest.mark.parametrize("method", ["auto", *METHODS])
def test_backends(xp, method):
    a = with_condition(7, 5, 1e3, seed=10)
    u, h = polar(xp.asarray(a), method=method)
    u_ref, h_ref = sla.polar(a)
    np.testing.assert_allclose(to_host(u), u_ref, atol=1e-12)
    np.testing.assert_allclose(to_host(h), h_ref, atol=1e-12)
    u, h = polar(xp.asarray(np.stack([a.T, 2 * a.T])), method=method, side="left")
    np.testing.assert_allclose(to_host(u)[1], sla.polar(a.T, side="left")[0], atol=1e-12)
    np.testing.assert_allclose(to_host(h)[1], 2 * sla.polar(a.T, side="left")[1], atol=1e-12)
    z, _hz = polar(xp.zeros((2, 3)), method=method)
    np.testing.assert_array_equal(to_host(z), np.eye(2, 3))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_gradcheck_svd():
    import torch

    a = torch.tensor(with_condition(5, 3, 4.0, seed=11), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: polar(x, method="svd").U, (a,), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(lambda x: polar(x, method="svd").H, (a,), eps=1e-6, atol=1e-7)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_qdwh_host_syncs_do_not_grow_with_iterations(torch_host_syncs):
    """The weights are fixed on the host from l0: the syncs are the finite check, l0 and the
    final orthogonality check, whatever the number of iterations."""
    import torch

    counts = torch_host_syncs
    seen = []
    for kappa in (1.0, 1e12):
        counts["n"] = 0
        polar(torch.tensor(with_condition(20, 12, kappa, seed=12)), method="qdwh")
        seen.append(counts["n"])
    eps = np.finfo(float).eps
    assert len(qdwh_schedule(0.9, eps)) < len(qdwh_schedule(1e-13, eps))
    assert seen[0] == seen[1] <= 4
