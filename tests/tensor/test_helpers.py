import itertools
import math

import numpy as np
import pytest

from orthla._testing import assert_close, to_host
from orthla.tensor import cp_to_tensor, match_components, random_low_rank, symmetrize


def _sym_reference(T):
    perms = list(itertools.permutations(range(T.ndim)))
    return sum(np.transpose(T, p) for p in perms) / len(perms)


@pytest.mark.parametrize("shape", [(4, 4), (3, 3, 3), (3, 3, 3, 3), (2,) * 5])
def test_symmetrize_matches_permutation_average(xp, shape):
    T = np.random.default_rng(0).standard_normal(shape)
    S = symmetrize(xp.asarray(T))
    ref = _sym_reference(T)
    assert_close(S, ref, xp=xp, rtol=0, atol=10 * len(shape) * np.finfo(float).eps * np.abs(T).max())
    # A projection: applying it twice changes nothing beyond rounding.
    assert np.abs(to_host(symmetrize(S)) - to_host(S)).max() <= 1e-15 * len(shape) ** 2 * np.abs(T).max()


@pytest.mark.parametrize("shape", [(3, 3), (5, 5, 5), (6,) * 4, (4,) * 5, (3,) * 6])
def test_asymmetry_kernel_matches_array_api(needs_numba, shape):
    import array_api_compat.numpy as npx

    from orthla.tensor._symmetric import asymmetry

    rng = np.random.default_rng(2)
    T = rng.standard_normal(shape)
    S = _sym_reference(T)
    for j, A in enumerate((T, S, np.asfortranarray(T), T.astype(np.float32), np.zeros(shape))):
        B = A.copy()
        if j == 1:
            B.flat[-7] += 1e-9  # one entry off: the kernel must see it through both generators
        assert asymmetry(B, npx, engine="numba") == asymmetry(B, npx, engine="xp")
    assert asymmetry(S, npx, engine="numba") <= 100 * len(shape) * np.finfo(float).eps  # the default rtol
    nan = T.copy()
    nan.flat[3] = np.nan
    assert math.isnan(asymmetry(nan, npx, engine="numba"))


def test_symmetrize_errors(xp):
    with pytest.raises(ValueError, match=r"`T` must be a tensor of order at least 2; got ndim=1"):
        symmetrize(xp.ones(3))
    with pytest.raises(ValueError, match=r"`T` must be cubical .* got shape \(2, 3\)"):
        symmetrize(xp.ones((2, 3)))
    bad = np.ones((2, 2, 2))
    bad[0, 1, 0] = np.inf
    with pytest.raises(ValueError, match="`T` must contain only finite values; found 1"):
        symmetrize(xp.asarray(bad))
    with pytest.raises(TypeError, match="`T` must be real"):
        symmetrize(np.ones((2, 2), dtype=complex))


def test_cp_to_tensor_symmetric_and_partial(xp):
    rng = np.random.default_rng(1)
    A, B, w = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    for order, spec in ((3, "ir,jr,kr->ijk"), (4, "ir,jr,kr,lr->ijkl")):
        ref = np.einsum("r," + spec, w, *([A] * order))
        out = cp_to_tensor(xp.asarray(w), xp.asarray(A), order=order)
        assert_close(out, ref, xp=xp, rtol=1e-13, atol=1e-14)
    ref = np.einsum("r,ir,jr,kr->ijk", w, A, A, B)
    out = cp_to_tensor(xp.asarray(w), [xp.asarray(A), xp.asarray(A), xp.asarray(B)])
    assert_close(out, ref, xp=xp, rtol=1e-13, atol=1e-14)
    assert_close(cp_to_tensor(xp.asarray(w), [xp.asarray(A)]), A @ w, xp=xp, rtol=1e-13)


def test_cp_to_tensor_errors():
    A = np.ones((3, 2))
    with pytest.raises(ValueError, match="`order` is required"):
        cp_to_tensor(np.ones(2), A)
    with pytest.raises(ValueError, match="`order` is only used with a single factor matrix"):
        cp_to_tensor(np.ones(2), [A, A], order=2)
    with pytest.raises(ValueError, match=r"`factors\[1\]` must have len\(weights\) = 2 columns; got shape \(3, 3\)"):
        cp_to_tensor(np.ones(2), [A, np.ones((3, 3))])
    with pytest.raises(ValueError, match="`order` must be an integer at least 1; got 0"):
        cp_to_tensor(np.ones(2), A, order=0)
    with pytest.raises(ValueError, match="`factors` must hold at least one matrix"):
        cp_to_tensor(np.ones(2), [])


def test_random_low_rank_is_seeded_and_well_formed(xp):
    T, w, A = random_low_rank(5, 4, order=3, rng=7, xp=xp)
    T2, w2, _A2 = random_low_rank(5, 4, order=3, rng=np.random.default_rng(7))
    assert_close(T, T2, xp=xp, rtol=0, atol=0)
    assert_close(w, w2, xp=xp, rtol=0, atol=0)
    np.testing.assert_allclose(np.linalg.norm(to_host(A), axis=0), 1.0, rtol=1e-15)
    ref = np.einsum("r,ir,jr,kr->ijk", to_host(w), *([to_host(A)] * 3))
    np.testing.assert_allclose(to_host(T), ref, rtol=0, atol=1e-14)
    Tn, wn, An = random_low_rank(5, 4, order=3, noise=0.05, rng=7)
    clean = cp_to_tensor(wn, An, order=3)
    assert math.isclose(np.linalg.norm(Tn - clean) / np.linalg.norm(clean), 0.05, rel_tol=1e-12)
    assert np.abs(Tn - _sym_reference(Tn)).max() < 1e-15


def test_random_low_rank_errors():
    with pytest.raises(ValueError, match=r"`noise` must be a finite real number >= 0; got -1.0"):
        random_low_rank(3, 2, order=3, noise=-1.0)
    with pytest.raises(ValueError, match="`order` must be an integer at least 2; got 1"):
        random_low_rank(3, 2, order=1)
    with pytest.raises(TypeError, match="`rank` must be an integer"):
        random_low_rank(3, 2.5, order=3)
    with pytest.raises(TypeError, match="`rng` must be"):
        random_low_rank(3, 2, order=3, rng="seed")


def test_match_components_recovers_permutation_and_sign(xp):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 5))
    perm = np.array([3, 0, 4, 1, 2])
    signs = np.array([1.0, -1.0, -1.0, 1.0, 1.0])
    B = np.empty_like(A)
    B[:, perm] = A * signs * 2.5  # column i of A sits at perm[i], scaled and sign-flipped
    tilt = 1e-7 * rng.standard_normal(B.shape)
    res = match_components(xp.asarray(A), xp.asarray(B + tilt))
    np.testing.assert_array_equal(to_host(res.index), perm)
    np.testing.assert_array_equal(to_host(res.sign), signs)
    # Reference angles from arccos on well-separated moderate angles below.
    An, Bn = A / np.linalg.norm(A, axis=0), (B + tilt) / np.linalg.norm(B + tilt, axis=0)
    cosines = np.abs(np.sum(An * Bn[:, perm], axis=0))
    assert_close(res.abs_cos, cosines, xp=xp, rtol=1e-14)
    assert np.all(to_host(res.angle_deg) < 1e-4) and np.all(to_host(res.angle_deg) > 0)


def test_match_components_angles_and_unmatched(xp):
    theta = np.deg2rad(np.array([10.0, 40.0]))
    A = np.eye(3)[:, :2]
    B = np.array([[np.cos(theta[0]), 0.0], [np.sin(theta[0]), -np.cos(theta[1])], [0.0, np.sin(theta[1])]])
    res = match_components(xp.asarray(A), xp.asarray(B))
    assert_close(res.angle_deg, np.array([10.0, 40.0]), xp=xp, rtol=1e-12)
    assert to_host(res.sign).tolist() == [1.0, -1.0]
    res = match_components(xp.asarray(np.eye(3)), xp.asarray(np.eye(3)[:, :2]))
    assert to_host(res.index).tolist() == [0, 1, -1]
    assert to_host(res.angle_deg)[2] == 90.0


def test_match_components_errors():
    with pytest.raises(ValueError, match="same number of rows"):
        match_components(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="`B` must not have zero columns; found 1"):
        match_components(np.ones((3, 2)), np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="`A` must be a 2-D array"):
        match_components(np.ones(3), np.ones((3, 2)))
