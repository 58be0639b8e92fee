"""orthla.ortho.msign and its schedules, against an SVD reference in float64."""

import importlib.util
import math

import numpy as np
import pytest

from orthla._testing import to_host
from orthla.ortho import MsignInfo, msign
from orthla.ortho._polar_bench import reference_muon_numpy as reference_muon
from orthla.ortho._polar_bench import reference_muon_torch
from orthla.ortho._schedules import (
    CUBIC,
    MUON,
    band,
    optimal_quintic,
    polar_express_coefficients,
    resolve_schedule,
)

HAVE_TORCH = importlib.util.find_spec("torch") is not None

# Amsel, Persson, Musco, Gower (2025), arXiv:2505.16932, Algorithm 1 (before the safety factor).
PAPER_TABLE = [
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
]


def polar_svd(a):
    w, _, vh = np.linalg.svd(np.asarray(a, dtype=np.result_type(a.dtype, np.float64)), full_matrices=False)
    return w @ vh


def with_singular_values(s, m, n, seed):
    rng = np.random.default_rng(seed)
    w, _ = np.linalg.qr(rng.standard_normal((m, len(s))))
    v, _ = np.linalg.qr(rng.standard_normal((n, len(s))))
    return (w * s) @ v.T


# ------------------------------------------------------------------ schedules

def test_polar_express_coefficients_match_paper_table():
    got = np.array(polar_express_coefficients(8, safety=1.0))
    np.testing.assert_allclose(got, PAPER_TABLE, rtol=1e-8)
    # With the safety factor: every step but the limiting last one is p(x / 1.01).
    safe = np.array(polar_express_coefficients(8))
    want = [(a / 1.01, b / 1.01**3, c / 1.01**5) for a, b, c in PAPER_TABLE[:-1]] + [PAPER_TABLE[-1]]
    np.testing.assert_allclose(safe, want, rtol=1e-8)


def test_optimal_quintic_equioscillates():
    lo, hi = 0.02407327424182761, 1.0
    (a, b, c), limiting = optimal_quintic(lo, hi)
    assert not limiting
    x = np.linspace(lo, hi, 200001)
    err = 1 - (a * x + b * x**3 + c * x**5)
    e = np.max(np.abs(err))
    # Four alternation points: both ends and the two interior extrema, all at |1 - p| = E.
    q, r = np.sqrt((-3 * b + np.array([-1, 1]) * math.sqrt(9 * b * b - 20 * a * c)) / (10 * c))
    pts = np.array([lo, q, r, hi])
    errs = 1 - (a * pts + b * pts**3 + c * pts**5)
    np.testing.assert_allclose(np.abs(errs), e, rtol=1e-9)
    assert np.all(np.sign(errs) == [1, -1, 1, -1])


@pytest.mark.parametrize("name,steps", [("polar-express", 5), ("polar-express", 8), ("muon", 5), ("cubic", 24),
                                        ("polar-express", 3)])
def test_band_is_exact_image_of_the_interval(name, steps):
    sched = resolve_schedule(name, steps)
    lo, hi = sched.band(1e-3)
    x = np.concatenate([np.geomspace(1e-3, 1, 100001), np.linspace(1e-3, 1, 100001)]) / sched.divisor
    for a, b, c in sched.coefficients:
        x = a * x + b * x**3 + c * x**5
    assert lo - 1e-12 <= x.min() and x.max() <= hi + 1e-12
    # and it is tight: the dense grid reaches both ends
    assert x.min() <= lo + 1e-4 * (hi - lo) + 1e-15 and x.max() >= hi - 1e-4 * (hi - lo) - 1e-15


def test_documented_bands():
    assert band(polar_express_coefficients(8), 1e-3, divisor=1.01)[0] >= 1 - 4e-15
    lo, hi = resolve_schedule("polar-express", 5).band(1e-3)
    assert (round(lo, 4), round(hi, 4)) == (0.8401, 1.1236)
    lo, hi = resolve_schedule("muon", 5).band(1e-3)
    assert (round(lo, 4), round(hi, 4)) == (0.4705, 1.2024)
    # the Muon quintic does not converge: from 8 steps on the band stays [0.6818, 1.1344]
    for steps in (8, 20, 100):
        lo, hi = resolve_schedule("muon", steps).band(1e-3)
        assert (round(lo, 4), round(hi, 4)) == (0.6818, 1.1344)
    lo, hi = resolve_schedule("cubic", 24).band(1e-3)
    assert lo >= 1 - 1e-15 and hi <= 1


@pytest.mark.parametrize("name,steps", [("polar-express", 5), ("polar-express", 8), ("muon", 5), ("cubic", 24),
                                        ("muon", 8), ("polar-express", 2)])
def test_output_singular_values_in_band(name, steps):
    """Singular values spread over [1e-3, 1] after normalization land inside the band."""
    s = np.geomspace(2e-3, 1, 24)
    s[0] = 1e-3 * np.linalg.norm(s) * 1.0000001  # the smallest one right at the design end
    a = with_singular_values(s, 40, 24, seed=1)
    sv_in = np.linalg.svd(a, compute_uv=False) / np.linalg.norm(a)
    assert sv_in.min() >= 1e-3 and sv_in.max() <= 1
    u = msign(a, schedule=name, steps=steps)
    sv = np.linalg.svd(u, compute_uv=False)
    lo, hi = resolve_schedule(name, steps).band(1e-3)
    tol = 50 * steps * np.finfo(float).eps
    assert lo - tol <= sv.min() and sv.max() <= hi + tol


def test_muon_matches_reference_loop():
    rng = np.random.default_rng(3)
    for shape in [(30, 50), (50, 30)]:
        g = rng.standard_normal(shape)
        # The recipe's "+ 1e-7" in the normalization guards zero input; msign handles zero apart.
        np.testing.assert_allclose(msign(g, schedule="muon"), reference_muon(g, eps=0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(msign(g, schedule=[MUON] * 5), reference_muon(g, eps=0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(msign(g, schedule="muon"), reference_muon(g), rtol=0, atol=1e-7)


def test_custom_schedules():
    rng = np.random.default_rng(4)
    g = rng.standard_normal((8, 12))
    np.testing.assert_allclose(msign(g, schedule=[(1.5, -0.5)], steps=24), msign(g, schedule="cubic"), atol=1e-14)
    np.testing.assert_allclose(msign(g, schedule=[CUBIC] * 3), msign(g, schedule="cubic", steps=3), atol=1e-14)
    # steps shorter than the sequence truncates it
    np.testing.assert_allclose(msign(g, schedule=[MUON] * 9, steps=2), msign(g, schedule="muon", steps=2), atol=1e-14)
    np.testing.assert_allclose(msign(g, schedule="muon", steps=0), g / np.linalg.norm(g), atol=1e-15)
    # Polar Express divides by 1.01 ||g||_F (Algorithm 1 of the paper)
    np.testing.assert_allclose(msign(g, steps=0), g / (1.01 * np.linalg.norm(g)), atol=1e-15)
    with pytest.raises(ValueError, match="`schedule`"):
        msign(g, schedule="newton")
    with pytest.raises(ValueError, match=r"`schedule\[0\]`"):
        msign(g, schedule=[(1.0,)])
    with pytest.raises(ValueError, match=r"`schedule\[1\]`"):
        msign(g, schedule=[(1.0, 0.0, 0.0), (float("nan"), 0.0, 0.0)])
    with pytest.raises(ValueError, match="`schedule`"):
        msign(g, schedule=[])
    with pytest.raises(TypeError, match="`schedule`"):
        msign(g, schedule=3)
    with pytest.raises(ValueError, match="`steps`"):
        msign(g, steps=-1)
    with pytest.raises(TypeError, match="`steps`"):
        msign(g, steps=True)
    with pytest.raises(ValueError, match="`norm`"):
        msign(g, norm="spectral")


# ------------------------------------------------------------------ accuracy

def test_polar_express_float32_accuracy_small():
    """256 x 1024 float32: the band says 3e-15 in exact arithmetic, so rounding dominates;
    tolerance steps * eps32 * sqrt(min(m, n)) (measured 4e-6)."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((256, 1024)).astype(np.float32)
    u = msign(a)
    assert u.dtype == np.float32
    p = polar_svd(a)
    err = np.linalg.norm(u - p) / np.linalg.norm(p)
    assert err <= 8 * np.finfo(np.float32).eps * math.sqrt(256)


@pytest.mark.slow
def test_polar_express_float32_accuracy_issue_size():
    """The issue's target: 8 steps, float32, 1024 x 4096 Gaussian, distance <= 1e-5."""
    rng = np.random.default_rng(6)
    a = rng.standard_normal((1024, 4096)).astype(np.float32)
    u = msign(a, steps=8)
    p = polar_svd(a)
    assert np.linalg.norm(u - p) / np.linalg.norm(p) <= 1e-5


def test_polar_express_beats_muon_at_equal_gemms():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((64, 256))
    p = polar_svd(a)
    e_pe = np.linalg.norm(msign(a, steps=5) - p)
    e_mu = np.linalg.norm(msign(a, schedule="muon", steps=5) - p)
    assert e_pe < e_mu / 2  # measured 0.67 against 1.71


def test_schatten4_normalization_is_not_worse():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((64, 256))
    p = polar_svd(a)
    e_fro = np.linalg.norm(msign(a, steps=5) - p)
    e_s4 = np.linalg.norm(msign(a, steps=5, norm="schatten4") - p)
    assert e_s4 <= e_fro
    # Schatten-4 >= spectral norm: the band guarantee still holds (no singular value above 1).
    u = msign(a, steps=8, norm="schatten4")
    assert np.linalg.norm(u - p) / np.linalg.norm(p) <= 1e-13


def test_complex_input(xp):
    rng = np.random.default_rng(9)
    a = rng.standard_normal((6, 9)) + 1j * rng.standard_normal((6, 9))
    u = msign(xp.asarray(a))
    assert u.dtype == xp.complex128
    np.testing.assert_allclose(to_host(u), polar_svd(a), atol=1e-13)
    np.testing.assert_allclose(to_host(msign(xp.asarray(a.T), norm="schatten4", gram=True)), polar_svd(a.T),
                               atol=1e-13)


# ------------------------------------------------------------------ shapes, scales, dtypes

def test_tall_is_transpose_of_wide_and_batched_is_loop():
    rng = np.random.default_rng(10)
    a = rng.standard_normal((3, 2, 7, 5))
    u = msign(a)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(u[i, j], msign(a[i, j]), atol=1e-14)
            np.testing.assert_allclose(u[i, j], msign(a[i, j].T).T, atol=1e-14)
            np.testing.assert_allclose(u[i, j], polar_svd(a[i, j]), atol=1e-12)


def test_zero_input_gives_zero_and_does_not_spoil_the_batch():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((3, 4, 6))
    a[1] = 0
    u = msign(a)
    assert np.all(u[1] == 0)
    np.testing.assert_allclose(u[0], polar_svd(a[0]), atol=1e-12)
    np.testing.assert_allclose(u[2], polar_svd(a[2]), atol=1e-12)
    u, info = msign(np.zeros((4, 4)), return_info=True)
    assert np.all(u == 0) and info.orthogonality == pytest.approx(2.0)  # ||0 - I||_F, reported, not hidden


@pytest.mark.parametrize("scale", [2.0**-500, 2.0**500, 1e-300, 1e300, 3.0])
def test_scale_invariance(scale):
    rng = np.random.default_rng(12)
    a = rng.standard_normal((5, 8))
    np.testing.assert_allclose(msign(a * scale), msign(a), rtol=0, atol=1e-14)


@pytest.mark.parametrize("scale", [1e300, 1e-50, 1e-300, 2.0**-1000])
def test_scale_invariance_with_a_lower_working_precision(scale):
    """float64 input with dtype=float32: scaled in float64 before the cast (1e300 gave NaN,
    1e-50 and 1e-300 an all-zero result, from the cast to float32)."""
    rng = np.random.default_rng(13)
    a = rng.standard_normal((5, 8))
    u = msign(a * scale, dtype=np.float32)
    assert u.dtype == np.float64
    np.testing.assert_allclose(u, msign(a), rtol=0, atol=1e-5)
    u = msign(np.asarray(a * scale, dtype=np.complex128), dtype=np.complex64)
    np.testing.assert_allclose(u, msign(a), rtol=0, atol=1e-5)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_float64_input_in_bfloat16_working_precision_at_extreme_scales():
    import torch

    rng = np.random.default_rng(14)
    a = rng.standard_normal((6, 16))
    ref = polar_svd(a)
    for scale in (1e300, 1e-300):
        u = msign(torch.tensor(a * scale), dtype=torch.bfloat16)
        assert u.dtype == torch.float64 and bool(torch.isfinite(u).all())
        assert np.linalg.norm(u.numpy() - ref) / np.linalg.norm(ref) < 0.1  # bf16 products


def test_bad_input():
    good = np.ones((3, 4))
    for bad in (np.nan, np.inf, -np.inf):
        a = good.copy()
        a[1, 2] = bad
        with pytest.raises(ValueError, match="`a` must contain only finite"):
            msign(a)
    a = good.copy()
    a[0, 0] = np.nan
    assert np.isnan(msign(a, check_finite=False)).any()  # documented: no check, no silent zeros
    with pytest.raises(ValueError, match="`a`.*ndim=1"):
        msign(np.ones(3))
    with pytest.raises(ValueError, match="`a`.*ndim=0"):
        msign(np.float64(1.0))
    for bad in (good > 0, good.astype(object), np.array([["a", "b"]])):
        with pytest.raises(TypeError, match="`a`"):
            msign(bad)
    with pytest.raises(TypeError, match="`dtype`"):
        msign(good, dtype=np.int32)
    with pytest.raises(TypeError, match="`dtype`"):
        msign(good, dtype=np.complex128)
    with pytest.raises(TypeError, match="`check_finite`"):
        msign(good, check_finite=1)
    with pytest.raises(TypeError):
        msign(np.ma.masked_array(good))


def test_integer_input_is_promoted_and_inputs_untouched():
    a = np.arange(12).reshape(3, 4)
    u = msign(a)
    assert u.dtype == np.float64
    np.testing.assert_allclose(u, msign(a.astype(float)), atol=0)
    b = np.random.default_rng(13).standard_normal((4, 5))
    b.setflags(write=False)
    before = b.copy()
    msign(b, norm="schatten4", return_info=True, exact_distance=True)
    np.testing.assert_array_equal(b, before)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (0, 2, 2), (2, 0, 3)])
def test_empty(shape):
    u, info = msign(np.zeros(shape), return_info=True)
    assert u.shape == shape and u.dtype == np.float64
    assert info.orthogonality.shape == shape[:-2]


def test_working_precision_and_float16():
    rng = np.random.default_rng(14)
    a = rng.standard_normal((10, 20)).astype(np.float32)
    u64 = msign(a, dtype=np.float64)
    assert u64.dtype == np.float32
    np.testing.assert_allclose(u64, polar_svd(a), atol=1e-6)
    h = a.astype(np.float16)
    u = msign(h)  # computed in float32, returned in float16
    assert u.dtype == np.float16
    np.testing.assert_allclose(u.astype(float), polar_svd(h), atol=2e-3)


def test_info_diagnostics_differ_as_documented():
    # Singular values below the design end are not mapped to 1 yet: both numbers see it.
    s = np.array([1.0, 0.5, 1e-6])
    a = with_singular_values(s, 6, 3, seed=15)
    u, info = msign(a, steps=5, return_info=True, exact_distance=True)
    assert isinstance(info, MsignInfo) and info.gemms == 15 and info.steps == 5
    p = polar_svd(a)
    assert info.distance == pytest.approx(np.linalg.norm(u - p) / np.linalg.norm(p), rel=1e-10)
    assert info.orthogonality == pytest.approx(np.linalg.norm(u.T @ u - np.eye(3)), rel=1e-10)
    # The orthogonality is measured on the output; the distance needs the exact factor (an SVD).
    assert info.orthogonality > 0.5 and info.distance > 0.3


# ------------------------------------------------------------------ backends

def test_backends(xp):
    rng = np.random.default_rng(16)
    a = rng.standard_normal((2, 6, 9))
    u = msign(xp.asarray(a))
    assert u.shape == (2, 6, 9)
    np.testing.assert_allclose(to_host(u), np.stack([polar_svd(x) for x in a]), atol=1e-12)
    u, info = msign(xp.asarray(a[0].T), schedule="muon", norm="schatten4", return_info=True, exact_distance=True)
    np.testing.assert_allclose(to_host(u), msign(a[0].T, schedule="muon", norm="schatten4"), atol=1e-13)
    assert float(info.distance) == pytest.approx(
        np.linalg.norm(to_host(u) - polar_svd(a[0].T)) / np.sqrt(6), rel=1e-8)
    z = msign(xp.zeros((3, 4), dtype=xp.float32))
    assert z.dtype == xp.float32 and float(xp.max(xp.abs(z))) == 0.0


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("dt", ["bfloat16", "float16"])
def test_torch_low_precision(dt):
    import torch

    rng = np.random.default_rng(17)
    a = rng.standard_normal((32, 64))
    t = torch.tensor(a, dtype=getattr(torch, dt))
    u = msign(t)
    assert u.dtype == t.dtype
    uf = u.double().numpy()
    assert np.isfinite(uf).all()
    eps = float(torch.finfo(t.dtype).eps)
    p = polar_svd(t.double().numpy())
    # computed in float32; the only large error is the final rounding to the low precision
    assert np.linalg.norm(uf - p) / np.linalg.norm(p) <= eps
    # large entries would overflow float16 in a low-precision Gram matrix: not here
    big = torch.tensor(a * 1e4, dtype=torch.float16) if dt == "float16" else torch.tensor(a * 1e30, dtype=torch.bfloat16)
    ub = msign(big)
    assert torch.isfinite(ub).all() and float(ub.double().abs().max()) > 0.05


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_gradcheck():
    import torch

    rng = np.random.default_rng(18)
    a = torch.tensor(rng.standard_normal((4, 6)), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: msign(x, steps=5), (a,), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(lambda x: msign(x, schedule="muon", norm="schatten4"), (a,), eps=1e-6, atol=1e-7)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_no_host_sync_in_the_loop(torch_host_syncs):
    """One sync for the NaN/inf check, none per step (bool/float/int/item on tensors counted)."""
    import torch

    a = torch.tensor(np.random.default_rng(19).standard_normal((2, 8, 12)))
    counts = torch_host_syncs
    msign(a, steps=3)
    few = counts["n"]
    counts["n"] = 0
    msign(a, steps=30)
    assert counts["n"] == few <= 2
    counts["n"] = 0
    msign(a, steps=30, check_finite=False)
    assert counts["n"] == 0


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_bfloat16_working_precision():
    """dtype=bfloat16 runs the products in bf16 (as the paper's GPU code does); norms stay float32."""
    import torch

    a = torch.tensor(np.random.default_rng(20).standard_normal((64, 128)), dtype=torch.float32)
    u = msign(a, dtype=torch.bfloat16)
    assert u.dtype == torch.float32 and torch.isfinite(u).all()
    p = polar_svd(a.double().numpy())
    # bf16 rounding (eps = 2**-7) per product, a few products per step: 8 steps stay within 0.1
    assert np.linalg.norm(u.double().numpy() - p) / np.linalg.norm(p) <= 0.1


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_gemm_count_equals_reference_muon_loop(monkeypatch):
    """Counted matrix products: msign at 5 steps does exactly what the Muon recipe does (15),
    cubic steps cost 2, and the diagnostics add one."""
    import torch

    calls = {"n": 0}
    orig = torch.Tensor.__matmul__

    def counting(self, other):
        calls["n"] += 1
        return orig(self, other)

    monkeypatch.setattr(torch.Tensor, "__matmul__", counting)
    g = torch.tensor(np.random.default_rng(21).standard_normal((6, 10)))

    def count(fn):
        calls["n"] = 0
        fn()
        return calls["n"]

    ref = count(lambda: reference_muon_torch(g))
    assert ref == 15
    assert count(lambda: msign(g, schedule="muon", check_finite=False)) == ref
    assert count(lambda: msign(g.T, steps=5)) == ref  # tall input: transposed, same count
    assert count(lambda: msign(g, schedule="cubic", steps=5)) == 10
    assert count(lambda: msign(g, steps=5, return_info=True)) == ref + 1


@pytest.mark.parametrize("name,steps", [("polar-express", 5), ("polar-express", 8), ("muon", 3), ("cubic", 7)])
@pytest.mark.parametrize("norm", ["fro", "schatten4"])
def test_gram_side_equals_plain_iteration(name, steps, norm):
    rng = np.random.default_rng(22)
    a = rng.standard_normal((2, 12, 70))
    plain = msign(a, schedule=name, steps=steps, norm=norm)
    np.testing.assert_allclose(msign(a, schedule=name, steps=steps, norm=norm, gram=True), plain, atol=1e-12)
    np.testing.assert_allclose(msign(np.swapaxes(a, -1, -2), schedule=name, steps=steps, norm=norm, gram="auto"),
                               np.swapaxes(plain, -1, -2), atol=1e-12)


def test_gram_side_keeps_small_singular_values_in_float32():
    """Singular values down to 1e-3 ||a||_F: squaring them in G would cost float32 accuracy;
    the restart every two steps keeps the plain iteration's accuracy (measured 3.6e-6 vs 3.7e-6;
    without restarts 2e-4)."""
    s = np.geomspace(1, 1e-3 * np.sqrt(128) / 3, 128)
    a = with_singular_values(s, 128, 1024, seed=23).astype(np.float32)
    p = polar_svd(a)
    e_plain = np.linalg.norm(msign(a) - p) / np.linalg.norm(p)
    e_gram = np.linalg.norm(msign(a, gram=True) - p) / np.linalg.norm(p)
    assert e_plain <= 1e-5 and e_gram <= 2 * e_plain


def test_gram_argument():
    a = np.ones((3, 40))
    _, info = msign(a + np.eye(3, 40), gram="auto", steps=5, return_info=True)
    assert info.gemms == 17  # 6 of size m x m x n (start, two restarts of two, end), 11 of size m^3
    _, info = msign(np.ones((3, 6)) + np.eye(3, 6), gram="auto", steps=5, return_info=True)
    assert info.gemms == 15  # aspect 2 < 4: plain iteration
    with pytest.raises(ValueError, match="`gram`"):
        msign(a, gram="yes")


def test_bench_cases_and_their_reference_loop():
    """The benchmark's reference Muon loop is the recipe msign(schedule="muon") reproduces."""
    from orthla.ortho._polar_bench import cases, reference_muon_numpy

    names = [c.name for c in cases()]
    assert len(names) == len(set(names)) == 9
    g = np.random.default_rng(24).standard_normal((2, 20, 50)).astype(np.float32)
    np.testing.assert_allclose(reference_muon_numpy(g), msign(g, schedule="muon"), atol=2e-5)
    np.testing.assert_allclose(reference_muon_numpy(np.swapaxes(g, -1, -2)),
                               msign(np.swapaxes(g, -1, -2), schedule="muon"), atol=2e-5)
