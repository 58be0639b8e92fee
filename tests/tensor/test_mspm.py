import importlib.util
import math

import numpy as np
import pytest

from orthla._testing import to_host
from orthla.tensor import (
    MSPMResult,
    TensorWarning,
    cp_to_tensor,
    match_components,
    mspm,
    random_low_rank,
    spm,
)
from orthla.tensor._mspm import _choose_split


def _modes(factors, symmetry):
    return [f for f, k in zip(factors, symmetry, strict=True) for _ in range(k)]


def _check_exact(res, w, factors, symmetry, *, angle_deg=1e-5):
    assert isinstance(res, MSPMResult)
    assert res.success and res.message == "" and res.rank == w.shape[0]
    got = [to_host(f) for f in res.factors]
    lam = to_host(res.weights)
    matches = [match_components(to_host(a), f) for a, f in zip(factors, got, strict=True)]
    # Every block must pair the same recovered component with each planted one.
    for mt in matches[1:]:
        np.testing.assert_array_equal(mt.index, matches[0].index)
    for mt, f in zip(matches, got, strict=True):
        assert mt.angle_deg.max() < angle_deg
        np.testing.assert_allclose(np.linalg.norm(f, axis=0), 1.0, rtol=1e-14)
    sign = np.prod([mt.sign**k for mt, k in zip(matches, symmetry, strict=True)], axis=0)
    np.testing.assert_allclose(lam[matches[0].index] * sign, w, rtol=0, atol=1e-9 * np.abs(w).max())
    T = cp_to_tensor(w, _modes([to_host(a) for a in factors], symmetry))
    rec = cp_to_tensor(lam, _modes(got, symmetry))
    assert np.linalg.norm(rec - T) <= 1e-12 * np.linalg.norm(T)
    assert res.residual <= 1e-12


@pytest.mark.parametrize(("symmetry", "dims", "R"), [
    ((2, 1), (8, 5), 6), ((1, 2), (4, 7), 6), ((2, 2), (6, 4), 9), ((3, 1), (5, 4), 7),
    ((2, 1, 1), (6, 3, 4), 5),
])
def test_exact_recovery_partial_symmetry(symmetry, dims, R):
    T, w, factors = random_low_rank(dims, R, symmetry=symmetry, rng=sum(dims))
    res = mspm(T, symmetry=symmetry, rng=0)
    _check_exact(res, w, factors, symmetry)
    if any(k % 2 for k in symmetry):
        assert np.all(res.weights > 0)  # the sign moves into an odd block


@pytest.mark.parametrize(("dims", "R"), [((5, 6, 7), 5), ((4, 10, 12), 10), ((9, 3, 8), 3)])
def test_general_order3_two_flattenings(dims, R):
    # No symmetric block: the smallest mode is shared by two flattenings; R may exceed it.
    T, w, factors = random_low_rank(dims, R, symmetry=(1, 1, 1), rng=sum(dims))
    res = mspm(T, symmetry=(1, 1, 1), rng=0)
    assert res.identifiable_limit == min(sorted(dims)[1:])
    _check_exact(res, w, factors, (1, 1, 1))
    assert np.all(res.weights > 0)


def test_general_order3_engines_and_backends(xp):
    T, w, factors = random_low_rank((4, 6, 5), 5, symmetry=(1, 1, 1), rng=8)
    res = mspm(xp.asarray(T), symmetry=(1, 1, 1), rng=0, engine="xp")
    _check_exact(res, w, factors, (1, 1, 1))
    if xp.__name__.endswith("numpy") and importlib.util.find_spec("numba"):
        rn = mspm(T, symmetry=(1, 1, 1), rng=0, engine="numba")
        for fn, fx in zip(rn.factors, res.factors, strict=True):
            np.testing.assert_allclose(fn, fx, rtol=0, atol=1e-11)


def _check_general(res, w, factors, *, angle_deg=1e-5):
    """Exact recovery of a general CP tensor: the tolerances of the brief (1e-10, 1e-5 deg, 1e-8)."""
    assert isinstance(res, MSPMResult)
    assert res.success and res.message == "" and res.rank == w.shape[0]
    got = [to_host(f) for f in res.factors]
    lam = to_host(res.weights)
    matches = [match_components(a, f) for a, f in zip(factors, got, strict=True)]
    for mt in matches[1:]:
        np.testing.assert_array_equal(mt.index, matches[0].index)
    for mt, f in zip(matches, got, strict=True):
        assert mt.angle_deg.max() < angle_deg
        np.testing.assert_allclose(np.linalg.norm(f, axis=0), 1.0, rtol=1e-14)
    sign = np.prod([mt.sign for mt in matches], axis=0)
    np.testing.assert_allclose(lam[matches[0].index] * sign, w, rtol=1e-8)
    T = cp_to_tensor(w, factors)
    assert np.linalg.norm(cp_to_tensor(lam, got) - T) <= 1e-10 * np.linalg.norm(T)
    assert res.residual <= 1e-10
    assert np.all(lam > 0)


@pytest.mark.parametrize(("dims", "R"), [
    ((4, 5, 6, 7), 6),      # distinct sizes
    ((5, 5, 5, 5), 8),      # R > d: the square flattening (12|34) allows up to d^2 - 2d + 1 = 16
    ((4, 3, 5, 4, 3), 7),   # order 5
])
def test_general_higher_order(xp, dims, R):
    m = len(dims)
    T, w, factors = random_low_rank(dims, R, symmetry=(1,) * m, rng=sum(dims))
    res = mspm(xp.asarray(T), symmetry=(1,) * m, rng=0)
    assert res.identifiable_limit >= R and sum(res.split) >= 2
    assert all(f.shape == (d, R) for f, d in zip(res.factors, dims, strict=True))
    _check_general(res, w, factors)


def test_general_higher_order_plan():
    from orthla.tensor._mspm_general import plan_general

    S, swaps, limit = plan_general((5, 5, 5, 5))
    assert len(S) == 2 and limit == 16  # square flattening, rank-one variety bound 25 - 8 - 1
    assert set(swaps) == set(range(4)) - set(S)
    S, _, limit = plan_general((4, 5, 6, 7))
    assert math.prod(4 + j for j in S) in (28, 30, 35) and limit >= 20


def test_general_higher_order_noise():
    sigma = 1e-3
    T, w, factors = random_low_rank((8, 7, 6, 9), 6, symmetry=(1, 1, 1, 1), noise=sigma, rng=1)
    res = mspm(T, symmetry=(1, 1, 1, 1), rng=0)
    assert res.rank == 6 and res.success
    clean = cp_to_tensor(w, factors)
    rec = cp_to_tensor(res.weights, res.factors)
    assert np.linalg.norm(rec - clean) <= 2 * sigma * np.linalg.norm(clean)


def test_general_higher_order_rank_beyond_limit():
    # d = 3: the square flattening is 9 x 9, so rank 10 cannot show; rank 9 is past the
    # rank-one variety bound 9 - 4 - 1 = 4.
    T, _, _ = random_low_rank((3, 3, 3, 3), 10, symmetry=(1, 1, 1, 1), rng=1)
    with pytest.warns(TensorWarning, match="exceeds the generic identifiability limit 4.*poor fit"):
        res = mspm(T, symmetry=(1, 1, 1, 1), rng=0)
    assert not res.success and res.rank == 9 and res.identifiable_limit == 4
    with pytest.raises(ValueError, match=r"`rank` must be an integer at least 1 and at most the flattenings' size = 9; got 10"):
        mspm(T, symmetry=(1, 1, 1, 1), rank=10)


def test_general_higher_order_seeded_and_engines():
    T, _, _ = random_low_rank((4, 5, 4, 3), 5, symmetry=(1, 1, 1, 1), rng=6)
    a = mspm(T, symmetry=(1, 1, 1, 1), rng=11, engine="xp")
    b = mspm(T, symmetry=(1, 1, 1, 1), rng=np.random.default_rng(11), engine="xp")
    for fa, fb in zip(a.factors, b.factors, strict=True):
        np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(a.weights, b.weights)
    if importlib.util.find_spec("numba"):
        n = mspm(T, symmetry=(1, 1, 1, 1), rng=11, engine="numba")
        for fn, fx in zip(n.factors, a.factors, strict=True):
            np.testing.assert_allclose(fn, fx, rtol=0, atol=1e-11)
        np.testing.assert_allclose(n.weights, a.weights, rtol=1e-11)


def test_general_higher_order_not_converged_is_reported():
    T, _, _ = random_low_rank((5, 5, 5, 5), 8, symmetry=(1, 1, 1, 1), rng=3)
    with pytest.warns(TensorWarning, match="did not converge"):
        res = mspm(T, symmetry=(1, 1, 1, 1), rng=0, max_iter=2, max_restarts=0)
    assert not res.success and not res.converged.all()


def test_on_every_backend(xp):
    T, w, factors = random_low_rank((6, 4), 5, symmetry=(2, 1), rng=3)
    Tx = xp.asarray(T)
    res = mspm(Tx, symmetry=(2, 1), rng=0)
    assert all(type(f) is type(Tx) and f.device == Tx.device for f in res.factors)
    assert res.weights.dtype == Tx.dtype
    _check_exact(res, w, factors, (2, 1))


def test_symmetric_block_agrees_with_spm():
    T, _w, _A = random_low_rank(6, 7, order=4, rng=4)
    a = mspm(T, symmetry=(4,), rng=0)
    b = spm(T, rng=0)
    assert a.split == (2,)
    mt = match_components(b.factors, a.factors[0])
    assert mt.angle_deg.max() < 1e-8
    np.testing.assert_allclose(a.weights[mt.index], b.weights, rtol=1e-9)


def test_noise_two_one():
    sigma = 1e-2
    T, w, (A, B) = random_low_rank((20, 10), 15, symmetry=(2, 1), noise=sigma, rng=5)
    res = mspm(T, symmetry=(2, 1), rng=0)
    assert res.rank == 15 and res.success
    clean = cp_to_tensor(w, [A, A, B])
    rec = cp_to_tensor(res.weights, _modes(res.factors, (2, 1)))
    assert np.linalg.norm(rec - clean) <= sigma * np.linalg.norm(clean)
    # Directions are determined to about noise / |weight|: within 5 degrees wherever the
    # weight stands clear of the noise (one planted weight here is 0.056).
    strong = np.abs(w) > 0.1
    assert match_components(A, res.factors[0]).angle_deg[strong].max() < 5
    assert match_components(B, res.factors[1]).angle_deg[strong].max() < 5


def test_split_choice():
    assert _choose_split((2, 1), (100, 50))[:2] == ((1, 1), (1, 0))
    assert _choose_split((4,), (10,))[:2] == ((2,), (2,))
    assert _choose_split((3,), (10,))[:2] == ((2,), (1,))
    assert _choose_split((2, 1), (100, 50))[2] == 100  # limited by the right side, Sym^1(R^100)


def test_rank_beyond_flattening_is_reported():
    # symmetry (2, 1) with d = (8, 5): the right side is R^8, so rank 12 cannot show.
    T, _, _ = random_low_rank((8, 5), 12, symmetry=(2, 1), rng=1)
    with pytest.warns(TensorWarning, match="poor fit"):
        res = mspm(T, symmetry=(2, 1), rng=0)
    assert not res.success and res.rank == 8


def test_input_not_modified():
    T, _, _ = random_low_rank((5, 3), 3, symmetry=(2, 1), rng=1)
    T.setflags(write=False)
    before = T.copy()
    mspm(T, symmetry=(2, 1), rng=0)
    np.testing.assert_array_equal(T, before)


def test_errors(xp):
    T = xp.asarray(random_low_rank((4, 3), 2, symmetry=(2, 1), rng=0).tensor)
    with pytest.raises(ValueError, match=r"`symmetry` must sum to T.ndim = 3; got \(2, 2\)"):
        mspm(T, symmetry=(2, 2))
    with pytest.raises(ValueError, match=r"must have a block of size at least 2, or be all ones of length at least 3"):
        mspm(xp.ones((2, 2)), symmetry=(1, 1))
    with pytest.raises(ValueError, match=r"block 0 of `symmetry`=\(2, 1\) must have equal dimensions; got \(4, 5\)"):
        mspm(xp.ones((4, 5, 3)), symmetry=(2, 1))
    bad = np.random.default_rng(0).standard_normal((4, 4, 3))
    asym = np.abs(bad - np.transpose(bad, (1, 0, 2))).max() / np.abs(bad).max()
    with pytest.raises(ValueError, match=rf"symmetric within block 0 .* measured asymmetry {asym:.3g}"):
        mspm(xp.asarray(bad), symmetry=(2, 1))
    with pytest.raises(ValueError, match=r"`rank` must be an integer at least 1 and at most the flattening size = 4; got 5"):
        mspm(T, symmetry=(2, 1), rank=5)
    with pytest.raises(ValueError, match="`engine` must be one of"):
        mspm(T, symmetry=(2, 1), engine="gpu")
    with pytest.raises(TypeError, match="`symmetry` must be a tuple of block sizes"):
        mspm(T, symmetry=3)
    with pytest.raises(ValueError, match=r"`grad_tol` must be a finite real number > 0; got 0.0"):
        mspm(T, symmetry=(2, 1), grad_tol=0.0)


def test_numba_engine_refuses_other_backends():
    strict = pytest.importorskip("array_api_strict")
    T = random_low_rank((3, 2), 2, symmetry=(2, 1), rng=0, xp=strict).tensor
    with pytest.raises(ValueError, match="engine='numba' needs NumPy input"):
        mspm(T, symmetry=(2, 1), engine="numba")


def test_engines_agree(needs_numba):
    T, _, _ = random_low_rank((6, 3, 4), 6, symmetry=(2, 1, 1), rng=2)
    rn = mspm(T, symmetry=(2, 1, 1), rng=3, engine="numba")
    rx = mspm(T, symmetry=(2, 1, 1), rng=3, engine="xp")
    for fn, fx in zip(rn.factors, rx.factors, strict=True):
        np.testing.assert_allclose(fn, fx, rtol=0, atol=1e-11)
    np.testing.assert_allclose(rn.weights, rx.weights, rtol=1e-11)


def test_numba_kernel_matches_xp_block_loop(needs_numba):
    import array_api_compat.numpy as npx

    from orthla.tensor._mspm import _power_blocks, _power_blocks_numba, _Side

    rng = np.random.default_rng(0)
    dims = [5, 3, 4]
    left = _Side((2, 1, 1), dims, npx, np.float64, "cpu")
    V, _ = np.linalg.qr(rng.standard_normal((left.size, 12)))
    X0 = []
    for d in dims:
        x = rng.standard_normal((d, 3))
        X0.append(x / np.linalg.norm(x, axis=0))
    for adaptive in (True, False):
        opts = {"max_iter": 30, "tol": 1e-13, "adaptive": adaptive, "stall_limit": 50}
        out_n = _power_blocks_numba(V, left, X0, **opts)
        out_x = _power_blocks(V, left, [x.copy() for x in X0], **opts)
        for xn, xx in zip(out_n[0], out_x[0], strict=True):
            np.testing.assert_allclose(xn, xx, rtol=0, atol=1e-12)
        np.testing.assert_allclose(out_n[1], out_x[1], rtol=1e-13)
        np.testing.assert_array_equal(out_n[2], out_x[2])
        np.testing.assert_array_equal(out_n[3], out_x[3])
