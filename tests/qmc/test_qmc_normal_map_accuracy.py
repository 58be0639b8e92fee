"""Accuracy of the Numba normal map (AS241 with its own vectorizable logarithm) against mpmath,
over the whole range of probabilities: the central part, both tails, subnormals, 1 - 2^-53."""

import math

import numpy as np
import pytest

mpmath = pytest.importorskip("mpmath")


def _mp_ndtri(p: float) -> float:
    """Phi^{-1}(p) rounded from 50 digits: Newton on log Phi(-z) = log t, t = min(p, 1 - p) (exact)."""
    if p == 0.5:
        return 0.0
    with mpmath.workdps(50):
        lower = p < 0.5
        t = mpmath.mpf(p if lower else 1.0 - p)
        z = mpmath.sqrt(-2 * mpmath.log(t))  # start above the root; Newton on a concave log
        for _ in range(60):
            step = (mpmath.log(mpmath.ncdf(-z)) - mpmath.log(t)) * mpmath.ncdf(-z) / mpmath.npdf(z)
            z += step
            if abs(step) < mpmath.mpf(10) ** -40 * (1 + z):
                break
        return float(-z if lower else z)


def _probabilities() -> np.ndarray:
    rng = np.random.default_rng(11)
    boundary = math.exp(-25.0)  # AS241 switches tail formulas at sqrt(-log t) = 5
    return np.concatenate([
        rng.random(150),
        10.0 ** -rng.uniform(1.2, 307, 150),  # lower tail down to 1e-307
        1 - 10.0 ** -rng.uniform(1.2, 15.9, 60),  # upper tail up to 1 - 1e-16
        [5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, boundary, boundary * (1 + 1e-15),
         boundary * (1 - 1e-15), 1 - boundary, 0.075, 0.075 + 1e-17, 0.925, 0.925 - 1e-16,
         1 - 2**-53, 1 - 2**-52, 0.5, 0.5 + 2**-53, 0.5 - 2**-54],
    ])


def test_normal_map_matches_mpmath_to_as241_accuracy():
    # AS241 is good to a few ulps: 5 here for the array-API path (libm's log, no FMA); the kernel
    # (its own log, FMA contraction) must stay at that level on every probability, subnormal
    # ones included (their tail goes through libm's log)
    pytest.importorskip("numba")
    import array_api_compat.numpy as npx

    from orthla.qmc._measures import _ndtri_xp
    from orthla.qmc._measures_numba import normal_map

    p = _probabilities()
    ref = np.array([_mp_ndtri(float(x)) for x in p])
    u = np.resize(p, (p.size + 3) // 4 * 4).reshape(-1, 4)
    out = np.empty_like(u)
    normal_map(u, False, 0.0, 1.0, np.zeros(4), np.ones(4), out)
    got = out.reshape(-1)[: p.size]
    spacing = np.spacing(np.maximum(np.abs(ref), np.finfo(float).tiny))
    ulps = np.abs(got - ref) / spacing
    xp_ulps = np.abs(_ndtri_xp(p, npx) - ref) / spacing
    assert xp_ulps.max() <= 5  # the reference level (a check of this test's reference)
    assert ulps.max() <= 5, (p[np.argmax(ulps)], ulps.max())
    tail = np.abs(p - 0.5) > 0.425
    assert ulps[tail].mean() <= xp_ulps[tail].mean() + 0.1
    assert np.all(np.isfinite(got))
    assert got[p == 5e-324][0] < -38.4


def test_normal_map_edges_and_tails_sign():
    pytest.importorskip("numba")
    from orthla.qmc._measures_numba import normal_map

    p = np.array([[0.0, 1.0, 1e-300, 1 - 1e-16, 0.5, 0.075, 0.925, 1e-11]])
    out = np.empty_like(p)
    normal_map(p, False, 0.0, 1.0, np.zeros(8), np.ones(8), out)
    assert out[0, 0] == -math.inf and out[0, 1] == math.inf
    np.testing.assert_array_equal(np.sign(out[0, 2:]), [-1, 1, 0, -1, 1, -1])
    # symmetry Phi^{-1}(1 - t) = -Phi^{-1}(t) where 1 - t is exact
    t = 2.0 ** -np.arange(4, 53, dtype=float).reshape(-1, 1)
    both = np.hstack([t, 1 - t])
    z = np.empty_like(both)
    normal_map(both, False, 0.0, 1.0, np.zeros(2), np.ones(2), z)
    np.testing.assert_array_equal(z[:, 0], -z[:, 1])


def _log_ulps(t):
    from orthla.qmc._measures_numba import _log

    tiny = np.finfo(float).smallest_normal
    got = np.array([_log(float(x)) for x in t])
    with mpmath.workdps(40):
        ref = np.array([float(mpmath.log(mpmath.mpf(float(x)))) for x in t])
    return np.abs(got - ref) / np.spacing(np.abs(ref) + tiny)


def test_kernel_log_within_one_ulp_on_the_tails():
    # the branch-free log of the tail pass, on positive normal floats up to 0.075 (what it is
    # called on: min(p, 1 - p) in the tails; smaller than normal gives s > 26, libm's log)
    pytest.importorskip("numba")
    from orthla.qmc._measures_numba import _log

    rng = np.random.default_rng(5)
    tiny = np.finfo(float).smallest_normal
    t = np.concatenate([10.0 ** -rng.uniform(1.125, 307.6, 1500), rng.uniform(0, 0.075, 1500),
                        [tiny, 2 * tiny, 0.075, math.sqrt(0.5) / 16, np.nextafter(math.sqrt(2.0) / 32, 1.0)]])
    t = t[t >= tiny]
    ulps = _log_ulps(t)
    assert ulps.max() <= 1, (t[np.argmax(ulps)], ulps.max())
    assert _log(0.0) < -708 and _log(5e-324) < -708  # below the normal range: s > 26, the far path


def test_kernel_log_near_one():
    # near 1 the rounding of (m - 1) / (m + 1) costs up to 2 ulps of a small result (1.72 ulps
    # against mpmath at t = 1.1192166762000804): outside the tail pass's range, bounded anyway
    pytest.importorskip("numba")
    rng = np.random.default_rng(6)
    t = np.concatenate([rng.uniform(0.5, 2.0, 3000), [1.0, 1.1192166762000804, 1.0076773010017843,
                                                      math.sqrt(0.5), math.sqrt(2.0), np.finfo(float).max]])
    assert _log_ulps(t).max() <= 2
