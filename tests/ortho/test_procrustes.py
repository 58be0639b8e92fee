"""orthla.ortho.procrustes / generalized_procrustes against SciPy (orthogonal_procrustes,
Rotation.align_vectors), exhaustive and dense-optimization checks of the rotation constraint,
exact recovery of similarity transforms, batching, backends and autograd."""

import itertools

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.transform import Rotation

from orthla._testing import to_host as _to_host
from orthla.ortho import (
    GeneralizedProcrustesResult,
    ProcrustesResult,
    generalized_procrustes,
    procrustes,
)

EPS = np.finfo(np.float64).eps


def to_host(x):
    """NumPy copy of a result field (NumPy returns 0-d results as scalars)."""
    return np.asarray(x) if isinstance(x, np.generic | float) else _to_host(x)


def rand_orth(n, rng, det=None):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    if det is not None and np.sign(np.linalg.det(q)) != det:
        q[:, 0] = -q[:, 0]
    return q


def gap_tol(a, b):
    """Forward-error scale of R: eps ||a|| ||b|| / (smallest gap between singular values of a^T b)."""
    s = np.linalg.svd(a.T @ b, compute_uv=False)
    gaps = np.concatenate([np.abs(np.diff(s)), s[-1:]])
    return 100 * EPS * np.linalg.norm(a) * np.linalg.norm(b) / gaps.min()


@pytest.mark.parametrize(("m", "n"), [(20, 4), (3, 5), (50, 1), (8, 8)])
def test_matches_scipy(xp, m, n):
    rng = np.random.default_rng(m * 10 + n)
    a, b = rng.standard_normal((m, n)), rng.standard_normal((m, n))
    res = procrustes(xp.asarray(a), xp.asarray(b))
    assert isinstance(res, ProcrustesResult)
    r_ref, _ = scipy.linalg.orthogonal_procrustes(a, b)
    if m >= n:  # R is unique only when a^T b has full rank
        np.testing.assert_allclose(to_host(res.R), r_ref, rtol=0, atol=gap_tol(a, b))
    r = to_host(res.R)
    np.testing.assert_allclose(r.T @ r, np.eye(n), rtol=0, atol=20 * n * EPS)
    ref_res = np.linalg.norm(a @ r_ref - b)
    assert abs(float(to_host(res.residual)) - ref_res) <= 1e-12 * (np.linalg.norm(a) + np.linalg.norm(b))
    assert float(to_host(res.scale)) == 1.0 and np.all(to_host(res.translation) == 0)


def _best_signflip(a, b):
    """Exhaustive: the best rotation among U D V^T over all sign matrices D with det +1."""
    u, _, vt = np.linalg.svd(a.T @ b)
    best = np.inf
    for signs in itertools.product((1.0, -1.0), repeat=a.shape[1]):
        r = (u * np.array(signs)) @ vt
        if np.linalg.det(r) > 0:
            best = min(best, np.linalg.norm(a @ r - b))
    return best


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_rotation_det_and_optimality_exhaustive(n):
    rng = np.random.default_rng(40 + n)
    flipped = 0
    for _ in range(40):
        a, b = rng.standard_normal((n + 3, n)), rng.standard_normal((n + 3, n))
        res = procrustes(a, b, rotation=True)
        assert np.linalg.det(res.R) > 0  # det +1 exactly in sign
        np.testing.assert_allclose(np.linalg.det(res.R), 1.0, atol=20 * n * EPS)
        got = np.linalg.norm(a @ res.R - b)
        assert got <= _best_signflip(a, b) * (1 + 1e-12)
        assert abs(float(res.residual) - got) <= 1e-12 * got
        r_ref, _ = scipy.linalg.orthogonal_procrustes(a, b)
        if np.linalg.det(r_ref) > 0:  # the unconstrained optimum is already a rotation
            np.testing.assert_allclose(res.R, r_ref, rtol=0, atol=gap_tol(a, b))
        else:
            flipped += 1
    assert flipped >= 5  # the reflection case was exercised


def test_rotation_optimal_against_dense_optimization_2d():
    """In 2-D every rotation is an angle: a fine grid plus a local refinement is the truth."""
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(5)
    for _ in range(10):
        a = rng.standard_normal((6, 2))
        b = a @ np.diag([1.0, -1.0]) + 0.3 * rng.standard_normal((6, 2))  # favours a reflection

        def f(t, a=a, b=b):
            c, s = np.cos(t), np.sin(t)
            return np.linalg.norm(a @ np.array([[c, s], [-s, c]]) - b)

        grid = np.linspace(-np.pi, np.pi, 2001)
        t0 = grid[np.argmin([f(t) for t in grid])]
        best = minimize_scalar(f, bracket=(t0 - 0.01, t0, t0 + 0.01), tol=1e-12).fun
        got = procrustes(a, b, rotation=True)
        assert float(got.residual) <= best * (1 + 1e-9)
        assert np.linalg.det(got.R) > 0


def test_rotation_3d_matches_align_vectors():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((50, 10, 3))
    b = a @ np.diag([1.0, 1.0, -1.0]) + 0.5 * rng.standard_normal((50, 10, 3))
    res = procrustes(a, b, rotation=True)
    for i in range(50):
        rot, _ = Rotation.align_vectors(b[i], a[i])  # b_i ≈ C a_i, i.e. b = a C^T
        np.testing.assert_allclose(res.R[i], rot.as_matrix().T, rtol=0, atol=gap_tol(a[i], b[i]))


@pytest.mark.parametrize("n", [2, 3, 6])
def test_similarity_recovered_exactly(xp, n):
    rng = np.random.default_rng(60 + n)
    a = rng.standard_normal((4 * n, n)) + 3.0
    r_true = rand_orth(n, rng, det=1.0)
    s_true, t_true = 2.5, rng.standard_normal(n)
    b = s_true * a @ r_true + t_true
    res = procrustes(xp.asarray(a), xp.asarray(b), rotation=True, scale=True, center=True)
    tol = 1e3 * EPS
    np.testing.assert_allclose(to_host(res.R), r_true, rtol=0, atol=tol)
    np.testing.assert_allclose(float(to_host(res.scale)), s_true, rtol=tol)
    np.testing.assert_allclose(to_host(res.translation), t_true, rtol=0, atol=tol * np.abs(b).max())
    assert float(to_host(res.residual)) <= tol * np.linalg.norm(b)


def test_scale_without_center_and_reflection():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((9, 3))
    r_true = rand_orth(3, rng, det=-1.0)
    b = 0.25 * a @ r_true
    res = procrustes(a, b, scale=True)
    np.testing.assert_allclose(res.R, r_true, atol=1e3 * EPS)
    np.testing.assert_allclose(res.scale, 0.25, rtol=1e3 * EPS)
    res = procrustes(a, b, rotation=True)  # the best rotation cannot reproduce a reflection
    assert np.linalg.det(res.R) > 0 and float(res.residual) > 0.1 * np.linalg.norm(b)


def test_batched_and_broadcast(xp):
    rng = np.random.default_rng(8)
    a = rng.standard_normal((7, 3))
    b = rng.standard_normal((4, 5, 7, 3))
    res = procrustes(xp.asarray(a), xp.asarray(b), rotation=True, scale=True, center=True)
    assert res.R.shape == (4, 5, 3, 3) and res.scale.shape == (4, 5)
    assert res.translation.shape == (4, 5, 3) and res.residual.shape == (4, 5)
    for idx in np.ndindex(4, 5):
        one = procrustes(a, b[idx], rotation=True, scale=True, center=True)
        np.testing.assert_allclose(to_host(res.R)[idx], one.R, atol=1e-12)
        np.testing.assert_allclose(to_host(res.scale)[idx], one.scale, rtol=1e-12)
        np.testing.assert_allclose(to_host(res.translation)[idx], one.translation, atol=1e-12)
        np.testing.assert_allclose(to_host(res.residual)[idx], one.residual, rtol=1e-12)


def test_residual_cancellation_switches_to_direct():
    """A near-perfect fit: the residual is exact to working precision, not to sqrt(eps)."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal((30, 3))
    noise = 1e-9 * rng.standard_normal((30, 3))
    b = a @ rand_orth(3, rng, det=1.0) + noise
    res = procrustes(a, b, rotation=True)
    direct = np.linalg.norm(a @ res.R - b)
    assert abs(float(res.residual) - direct) <= 1e-6 * direct


@pytest.mark.parametrize("s", [2.0**500, 2.0**-500])
def test_extreme_scales(s):
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    ref = procrustes(a, b, scale=True, center=True)
    res = procrustes(a * s, b, scale=True, center=True)
    np.testing.assert_allclose(res.R, ref.R, atol=1e-14)
    np.testing.assert_allclose(res.scale, ref.scale / s, rtol=1e-13)
    np.testing.assert_allclose(res.translation, ref.translation, atol=1e-13)
    np.testing.assert_allclose(res.residual, ref.residual, rtol=1e-13)
    res = procrustes(a * s, b * s)
    np.testing.assert_allclose(res.R, procrustes(a, b).R, atol=1e-14)
    np.testing.assert_allclose(res.residual, procrustes(a, b).residual * s, rtol=1e-13)


def test_complex_matches_scipy():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((10, 3)) + 1j * rng.standard_normal((10, 3))
    b = rng.standard_normal((10, 3)) + 1j * rng.standard_normal((10, 3))
    r_ref, _ = scipy.linalg.orthogonal_procrustes(a, b)
    res = procrustes(a, b)
    np.testing.assert_allclose(res.R, r_ref, atol=1e-12)
    np.testing.assert_allclose(res.residual, np.linalg.norm(a @ r_ref - b), rtol=1e-12)
    with pytest.raises(TypeError, match="rotation=True"):
        procrustes(a, b, rotation=True)


def test_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    a0, b0 = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    s = np.linalg.svd(a0.T @ b0, compute_uv=False)
    assert np.min(np.abs(np.diff(s))) > 0.1 and s[-1] > 0.1  # distinct singular values
    a = torch.tensor(a0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(b0, dtype=torch.float64, requires_grad=True)

    def f(a, b):
        res = procrustes(a, b, rotation=True, scale=True, center=True)
        return res.R, res.scale, res.translation, res.residual

    assert torch.autograd.gradcheck(f, (a, b), eps=1e-6, atol=1e-7)

    def g(a, b):
        return procrustes(a, b).R

    assert torch.autograd.gradcheck(g, (a, b), eps=1e-6, atol=1e-7)


def test_empty():
    res = procrustes(np.zeros((4, 0)), np.zeros((4, 0)))
    assert res.R.shape == (0, 0) and res.translation.shape == (0,)
    res = procrustes(np.zeros((0, 5, 2)), np.zeros((0, 5, 2)))
    assert res.R.shape == (0, 2, 2) and res.residual.shape == (0,)
    with pytest.raises(ValueError, match="at least one point"):
        procrustes(np.zeros((0, 3)), np.zeros((0, 3)))


def test_zero_input_is_deterministic():
    res = procrustes(np.zeros((5, 3)), np.ones((5, 3)), scale=True, center=True)
    np.testing.assert_allclose(res.R @ res.R.T, np.eye(3), atol=1e-15)
    assert float(res.scale) == 0.0
    np.testing.assert_allclose(res.translation, np.ones(3))


def test_inputs_not_modified():
    rng = np.random.default_rng(13)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    a0, b0 = a.copy(), b.copy()
    procrustes(a, b, rotation=True, scale=True, center=True)
    procrustes(a * 2.0**600, b, rotation=True, scale=True, center=True)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize(("a", "b", "exc", "match"), [
    (np.ones((4, 3)), np.ones((4, 2)), ValueError, r"`b` must have the point-set shape"),
    (np.ones((2, 4, 3)), np.ones((3, 4, 3)), ValueError, r"batch shapes of `a`"),
    (np.ones(3), np.ones(3), ValueError, r"`a` must be a matrix"),
    (np.ones((4, 3)), np.full((4, 3), np.nan), ValueError, r"`b` must contain only finite"),
    (np.full((4, 3), np.inf), np.ones((4, 3)), ValueError, r"`a` must contain only finite"),
    (np.ones((4, 3), bool), np.ones((4, 3)), TypeError, r"`a`"),
    (np.ones((4, 3)), np.ones((4, 3), object), TypeError, r"`b`"),
    (np.ones((4, 3)), np.ones((4, 3), np.float16), TypeError, r"`b`"),
])
def test_bad_input(a, b, exc, match):
    with pytest.raises(exc, match=match):
        procrustes(a, b)


def test_mixed_libraries_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="one array library"):
        procrustes(np.ones((4, 3)), torch.ones((4, 3), dtype=torch.float64))


# ---------------------------------------------------------------- generalized procrustes

def _configs(k, m, d, rng, *, noise=0.0, scales=True):
    base = rng.standard_normal((m, d))
    out, truth = [], []
    for _ in range(k):
        r = rand_orth(d, rng, det=1.0)
        s = rng.uniform(0.5, 2.0) if scales else 1.0
        t = rng.standard_normal(d)
        out.append(s * base @ r + t + noise * rng.standard_normal((m, d)))
        truth.append((r, s, t))
    return np.stack(out), truth


@pytest.mark.parametrize("scale", [False, True])
def test_gpa_recovers_noise_free_configurations(xp, scale):
    rng = np.random.default_rng(20)
    x, _ = _configs(6, 12, 3, rng, scales=scale)
    res = generalized_procrustes(xp.asarray(x), rotation=True, scale=scale)
    assert isinstance(res, GeneralizedProcrustesResult)
    assert res.converged and res.iterations <= 5
    al = to_host(res.aligned)
    size = np.abs(al).max()
    for i in range(6):
        np.testing.assert_allclose(al[i], to_host(res.mean), rtol=0, atol=1e-12 * size)
    # aligned_i = s_i x_i R_i + t_i in the original coordinates
    R, s, t = to_host(res.R), to_host(res.scale), to_host(res.translation)
    for i in range(6):
        np.testing.assert_allclose(s[i] * x[i] @ R[i] + t[i], al[i], rtol=0, atol=1e-12 * size)
        assert np.linalg.det(R[i]) > 0
    assert res.residual <= 1e-10 * size


def test_gpa_noisy_is_stationary():
    rng = np.random.default_rng(21)
    x, _ = _configs(8, 15, 3, rng, noise=0.05)
    res = generalized_procrustes(x, rotation=True, scale=True)
    assert res.converged
    np.testing.assert_allclose(res.mean, res.aligned.mean(axis=0) * np.linalg.norm(res.mean)
                               / np.linalg.norm(res.aligned.mean(axis=0)), atol=1e-8)
    xc = x - x.mean(axis=1, keepdims=True)
    for i in range(8):  # each R_i is the Procrustes solution onto the final mean
        one = procrustes(xc[i], res.mean, rotation=True, scale=True)
        np.testing.assert_allclose(res.R[i], one.R, atol=1e-8)
        np.testing.assert_allclose(res.scale[i], one.scale, rtol=1e-8)
    # Without scaling the objective is comparable: lower than aligning all to the first one.
    plain = generalized_procrustes(x, rotation=True)
    first = procrustes(xc, xc[0], rotation=True)
    al0 = xc @ first.R
    assert plain.residual**2 <= np.sum((al0 - al0.mean(axis=0)) ** 2) * (1 + 1e-12)


def test_gpa_nonconvergence_is_reported():
    rng = np.random.default_rng(22)
    x, _ = _configs(5, 10, 3, rng, noise=0.3)
    res = generalized_procrustes(x, scale=True, max_iter=1, tol=1e-15)
    assert not res.converged and res.iterations == 1


def test_gpa_extreme_scale_and_input_unmodified():
    rng = np.random.default_rng(23)
    x, _ = _configs(4, 6, 2, rng, noise=0.1)
    x0 = x.copy()
    ref = generalized_procrustes(x, rotation=True)
    big = generalized_procrustes(x * 2.0**600, rotation=True)
    np.testing.assert_allclose(big.R, ref.R, atol=1e-12)
    np.testing.assert_allclose(big.aligned, ref.aligned * 2.0**600, rtol=1e-12)
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize(("x", "kw", "exc", "match"), [
    (np.ones((4, 3)), {}, ValueError, r"`shapes` must be a 3-D"),
    (np.ones((1, 4, 3)), {}, ValueError, r"at least 2 configurations"),
    (np.ones((2, 0, 3)), {}, ValueError, r"at least one point"),
    (np.full((2, 4, 3), np.nan), {}, ValueError, r"`shapes` must contain only finite"),
    (np.ones((2, 4, 3), bool), {}, TypeError, r"`shapes`"),
    (np.ones((2, 4, 3)) * 1j, {}, TypeError, r"`shapes` must be real"),
    (np.ones((2, 4, 3)), {"max_iter": 0}, ValueError, r"`max_iter`"),
    (np.ones((2, 4, 3)), {"max_iter": 2.5}, TypeError, r"`max_iter`"),
    (np.ones((2, 4, 3)), {"tol": float("nan")}, ValueError, r"`tol`"),
])
def test_gpa_bad_input(x, kw, exc, match):
    with pytest.raises(exc, match=match):
        generalized_procrustes(x, **kw)


# ---------------------------------------------------------------- stacks of tiny problems

def _hard_batch(n, count, rng):
    """Random problems plus the awkward ones: zero, rank one, repeated singular values,
    exact reflections, a per-problem scale of 2**+-300."""
    a = rng.standard_normal((count, 6, n))
    b = a @ np.stack([rand_orth(n, rng) for _ in range(count)]) + 0.3 * rng.standard_normal((count, 6, n))
    a[0] = 0.0
    a[1] = np.outer(np.ones(6), np.arange(n))
    b[2] = a[2] @ np.diag([1.0] * (n - 1) + [-1.0])
    b[3] = a[3]
    a[4] *= 2.0**300
    b[5] *= 2.0**-300
    return a, b


def _paths(monkeypatch, which):
    from orthla.ortho import _procrustes as mod

    if which == "lapack":
        monkeypatch.setattr(mod, "SMALL_BATCH", 10**9)
    elif which == "vectorized":
        monkeypatch.setattr(mod, "numba_available", lambda: False)
        import orthla.ortho._procrustes_small as small

        monkeypatch.setattr(small, "numba_available", lambda: False)


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("flags", [dict(rotation=True), dict(), dict(rotation=True, scale=True, center=True),
                                   dict(scale=True, center=True)])
def test_small_batch_paths_agree_with_lapack(monkeypatch, n, flags):
    rng = np.random.default_rng(70 + n)
    a, b = _hard_batch(n, 64, rng)
    with monkeypatch.context() as mp:
        _paths(mp, "lapack")
        ref = procrustes(a, b, **flags)
    outs = {"numba": procrustes(a, b, **flags)}
    with monkeypatch.context() as mp:
        _paths(mp, "vectorized")
        outs["vectorized"] = procrustes(a, b, **flags)
    keep = np.ones(64, bool)
    keep[[0, 1]] = False  # R is not unique for rank-deficient M (compared through the residual)
    for name, res in outs.items():
        r = np.asarray(res.R)
        np.testing.assert_allclose(np.swapaxes(r, -1, -2) @ r, np.broadcast_to(np.eye(n), r.shape),
                                   atol=50 * EPS, err_msg=name)
        if flags.get("rotation"):
            assert np.all(np.linalg.det(r) > 0), name
        np.testing.assert_allclose(r[keep], ref.R[keep], atol=1e-9, err_msg=name)
        np.testing.assert_allclose(res.scale, ref.scale, rtol=1e-9, err_msg=name)
        tt = np.abs(np.asarray(res.translation) - ref.translation)
        assert np.all(tt <= 1e-9 * np.abs(ref.translation) + 1e-9 * np.abs(b).max(axis=(-2, -1))[:, None]), name
        rr = np.abs(np.asarray(res.residual) - ref.residual)
        assert np.all(rr <= 1e-8 * ref.residual + 1e-12 * np.linalg.norm(b, axis=(-2, -1))), (name, rr.max())


def test_small_batch_on_backends(xp):
    rng = np.random.default_rng(80)
    a, b = _hard_batch(3, 40, rng)
    res = procrustes(xp.asarray(a), xp.asarray(b), rotation=True, scale=True, center=True)
    ref = procrustes(a, b, rotation=True, scale=True, center=True)
    np.testing.assert_allclose(to_host(res.R)[2:], ref.R[2:], atol=1e-9)
    got, want = to_host(res.residual), ref.residual
    assert np.all(np.abs(got - want) <= 1e-8 * want + 1e-12 * np.linalg.norm(b, axis=(-2, -1)))


def test_small_batch_float32_and_bad_entries():
    rng = np.random.default_rng(81)
    a, b = rng.standard_normal((50, 4, 3)), rng.standard_normal((50, 4, 3))
    res = procrustes(a.astype(np.float32), b.astype(np.float32), rotation=True)
    assert res.R.dtype == np.float32 and res.residual.dtype == np.float32
    np.testing.assert_allclose(res.R, procrustes(a, b, rotation=True).R, atol=1e-5)
    a[17, 2, 1] = np.nan
    with pytest.raises(ValueError, match="`a` must contain only finite"):
        procrustes(a, b)
    a[17, 2, 1] = 0.0
    b[3, 0, 0] = -np.inf
    with pytest.raises(ValueError, match="`b` must contain only finite"):
        procrustes(a, b, rotation=True)


def test_host_syncs_bounded(torch_host_syncs):
    """Host synchronisations on torch: a constant for the LAPACK path, one per Jacobi sweep on
    the vectorized path -- never one per problem of the batch."""
    torch = pytest.importorskip("torch")
    from orthla.ortho._procrustes_small import MAX_SWEEPS

    counts = torch_host_syncs
    rng = np.random.default_rng(90)
    for shape in ((5, 3), (20, 5, 3), (5000, 5, 3)):
        a, b = torch.tensor(rng.standard_normal(shape)), torch.tensor(rng.standard_normal(shape))
        counts["n"] = 0
        procrustes(a, b, rotation=True, scale=True, center=True)
        assert counts["n"] <= 6 + (MAX_SWEEPS if len(shape) == 3 and shape[0] >= 32 else 0), shape


@pytest.mark.parametrize("batch", [1, 64])  # 64: the batched small-problem (Numba) path
def test_translation_with_a_much_larger_than_b(batch, recwarn):
    # Review: t = mean(b) - mean(a) R was formed as 2**eb (mu_b' - 2**(ea - eb) mu_a' R); with
    # |a| ~ 1e300 and |b| ~ 1e-300 the factor 2**(ea - eb) overflowed and the (finite, ~1e300)
    # translation came back inf/NaN.  Reference: the same problem in units scaled by 2**-ea.
    rng = np.random.default_rng(90)
    a = rng.standard_normal((batch, 6, 3))
    b = rng.standard_normal((batch, 6, 3))
    s_a, s_b = 2.0**996, 2.0**-996
    res = procrustes(a * s_a, b * s_b, center=True)
    ref_r = procrustes(a, b, center=True).R                     # R does not see the scales
    want = (b * s_b).mean(axis=-2) - ((a * s_a).mean(axis=-2)[..., None, :] @ res.R)[..., 0, :]
    assert np.all(np.isfinite(res.translation)) and np.all(np.isfinite(res.residual))
    np.testing.assert_allclose(res.translation, want, rtol=1e-13, atol=1e-13 * s_a)
    np.testing.assert_allclose(res.R, ref_r, atol=1e-12)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("batch", [1, 64])
def test_scale_overflow_is_refused(batch):
    # The least-squares scale ||b|| / ||a|| ~ 1e600 is not a float64: refused by name, never inf.
    rng = np.random.default_rng(91)
    a = rng.standard_normal((batch, 6, 3)) * 1e-300
    b = rng.standard_normal((batch, 6, 3)) * 1e300
    with pytest.raises(ValueError, match="scale.*overflows"):
        procrustes(a, b, scale=True)
    res = procrustes(a, b)                                       # no scale: finite
    assert np.all(np.isfinite(res.residual)) and np.all(np.isfinite(res.R))


@pytest.mark.parametrize("flag", ["rotation", "scale", "center"])
@pytest.mark.parametrize("value", ["no", None, 0, np.array([True])])
def test_flags_must_be_booleans(flag, value):
    # Review: the flags went through bool(), so rotation="no" silently meant rotation=True.
    a = np.eye(3)
    with pytest.raises(TypeError, match=f"`{flag}` must be True or False"):
        procrustes(a, a, **{flag: value})
    with pytest.raises(TypeError, match=f"`{flag}` must be True or False"):
        generalized_procrustes(np.stack([a, a]), **{flag: value})
    assert procrustes(a, a, **{flag: np.bool_(True)}).residual <= 10 * EPS


@pytest.mark.parametrize("which", ["numba", "vectorized"])
def test_small_batch_jacobi_nonconvergence_falls_back(monkeypatch, which):
    # One Jacobi sweep cannot converge on random 3 x 3 problems: the small path must say so and
    # the result must come from LAPACK (never a half-diagonalized R).
    import orthla.ortho._procrustes_small as small

    rng = np.random.default_rng(92)
    a, b = _hard_batch(3, 64, rng)
    with monkeypatch.context() as mp:
        _paths(mp, "lapack")
        ref = procrustes(a, b, rotation=True)
    m = np.swapaxes(a, -1, -2) @ b
    with monkeypatch.context() as mp:
        if which == "vectorized":
            _paths(mp, "vectorized")
        mp.setattr(small, "MAX_SWEEPS", 1)
        assert small.signed_svd_small(m, np) is None
        res = procrustes(a, b, rotation=True)
    keep = np.ones(64, bool)
    keep[[0, 1]] = False
    np.testing.assert_allclose(res.R[keep], ref.R[keep], atol=1e-9)
    assert np.all(np.linalg.det(res.R) > 0)


@pytest.mark.parametrize("s", [1e-15, 1e15])
def test_float32_moderate_scales_on_the_array_api_paths(monkeypatch, xp, s):
    # Review: float32 inputs of size 1e-15 were not rescaled (threshold 2**-64), so the entries of
    # M = a^T b (~1e-30) squared underflowed in the vectorized Jacobi SVD, every pair looked
    # "converged", and R came back wrong without any report.  Reference: float64 LAPACK.
    rng = np.random.default_rng(93)
    a = rng.standard_normal((40, 10, 3))
    b = a @ np.stack([rand_orth(3, rng, det=1) for _ in range(40)]) + 0.1 * rng.standard_normal((40, 10, 3))
    ref = procrustes(a, b, rotation=True, scale=True, center=True)
    _paths(monkeypatch, "vectorized")                  # NumPy: the vectorized Jacobi, not Numba
    a32, b32 = (a * s).astype(np.float32), (b * s).astype(np.float32)
    res = procrustes(xp.asarray(a32), xp.asarray(b32), rotation=True, scale=True, center=True)
    np.testing.assert_allclose(to_host(res.R), ref.R, atol=1e-4)
    np.testing.assert_allclose(to_host(res.residual), ref.residual * s, rtol=1e-3)


@pytest.mark.parametrize("which", ["numba", "vectorized"])
def test_small_batch_tiny_cross_covariance(monkeypatch, which):
    # Review: a and b of moderate size whose product M = a^T b is ~1e-150 (the large entries of a
    # meet zeros of b): squared entries of M underflowed in the Jacobi SVD -- the Numba kernel
    # raised ZeroDivisionError, the vectorized one could not converge.  Now each M is scaled by a
    # power of two inside the small SVD.  Reference: LAPACK on the same problems.
    rng = np.random.default_rng(94)
    a, b = rng.standard_normal((40, 6, 3)), rng.standard_normal((40, 6, 3))
    a[:, 0, :] = 1.0
    a[:, 1:, :] *= 1e-150
    b[:, 0, :] = 0.0
    with monkeypatch.context() as mp:
        _paths(mp, "lapack")
        ref = procrustes(a, b, rotation=True)
    if which == "vectorized":
        _paths(monkeypatch, "vectorized")
    res = procrustes(a, b, rotation=True)
    np.testing.assert_allclose(res.R, ref.R, atol=1e-9)
    np.testing.assert_allclose(res.residual, ref.residual, rtol=1e-12)
    m = (np.swapaxes(a, -1, -2) @ b)
    out = __import__("orthla.ortho._procrustes_small", fromlist=["x"]).signed_svd_small(m, np)
    assert out is not None                             # converged, no LAPACK fallback needed
    np.testing.assert_allclose(np.abs(out[1]), np.linalg.svd(m, compute_uv=False), rtol=1e-12)
