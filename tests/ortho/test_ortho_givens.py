"""orthla.ortho.Givens: layers of plane rotations, against explicit dense rotation products."""

import importlib.util

import numpy as np
import pytest
import scipy.stats

from orthla._testing import to_host
from orthla.ortho import Givens
from orthla.ortho._givens import qr_layout, round_robin_pairs

HAVE_TORCH = importlib.util.find_spec("torch") is not None
DTYPES = ("float64", "float32")


def dense(pairs, angles, d):
    """R_{L-1} ... R_0 in float64 from explicit d x d rotations, batched over the angles' leading axes."""
    angles = np.asarray(angles, dtype=np.float64)
    out = np.empty((*angles.shape[:-2], d, d))
    for idx in np.ndindex(*angles.shape[:-2]):
        q = np.eye(d)
        for layer, th in zip(np.asarray(pairs), angles[idx], strict=True):
            r = np.eye(d)
            for (i, j), t in zip(layer, th, strict=True):
                r[i, i] = r[j, j] = np.cos(t)
                r[i, j], r[j, i] = -np.sin(t), np.sin(t)
            q = r @ q
        out[idx] = q
    return out


def make(xp, a, dtype):
    return xp.asarray(np.asarray(a, dtype=dtype))


def tol(dtype, d, c=10.0):
    return c * d * np.finfo(dtype).eps


@pytest.mark.parametrize("d", [1, 2, 3, 4, 7, 10])
def test_round_robin_layout_covers_every_pair_once(d):
    pairs = round_robin_pairs(d)
    n_layers = d - 1 if d % 2 == 0 else d
    assert pairs.shape == (max(n_layers, 1), d // 2, 2)
    flat = [tuple(p) for p in pairs.reshape(-1, 2)]
    assert sorted(flat) == [(i, j) for i in range(d) for j in range(i + 1, d)]
    for layer in pairs:
        assert len(set(layer.ravel())) == layer.size  # disjoint


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d,batch", [(2, ()), (5, ()), (8, (2,)), (9, (2, 2))])
def test_matrix_matches_the_dense_product_and_is_orthogonal(xp, dtype, d, batch):
    g = Givens.random(d, batch_shape=batch, rng=d, xp=xp, dtype=getattr(xp, dtype))
    q = to_host(g.matrix()).astype(np.float64)
    assert g.matrix().dtype == getattr(xp, dtype) and g.shape == (*batch, d, d)
    assert g.n_params == d * (d - 1) // 2
    ref = dense(to_host(g.pairs), to_host(g.angles), d)
    assert np.max(np.abs(q - ref)) <= tol(dtype, d)
    assert np.max(np.abs(np.swapaxes(q, -1, -2) @ q - np.eye(d))) <= tol(dtype, d)


@pytest.mark.parametrize("dtype", DTYPES)
def test_apply_both_sides_transposed_vectors_and_inverse(xp, dtype):
    d = 7
    rng = np.random.default_rng(3)
    pairs = np.array([[[0, 3], [5, 1]], [[2, 6], [1, 4]], [[6, 0], [3, 5]]])  # unordered, unsorted
    angles = rng.uniform(-3, 3, (2, 3, 2)).astype(dtype)
    g = Givens(xp.asarray(pairs), make(xp, angles, dtype))
    q = dense(pairs, angles, d)
    t = tol(dtype, d)
    for transpose in (False, True):
        qq = np.swapaxes(q, -1, -2) if transpose else q
        x = rng.standard_normal((2, d, 3)).astype(dtype)
        np.testing.assert_allclose(to_host(g.apply(make(xp, x, dtype), transpose=transpose)), qq @ x, atol=t)
        xr = np.swapaxes(x, -1, -2)
        np.testing.assert_allclose(to_host(g.apply(make(xp, xr, dtype), side="right", transpose=transpose)),
                                   xr @ qq, atol=t)
        # x without the batch broadcasts against the angles' batch
        x1 = rng.standard_normal((d, 2)).astype(dtype)
        np.testing.assert_allclose(to_host(g.apply(make(xp, x1, dtype), transpose=transpose)), qq @ x1, atol=t)
    x = make(xp, rng.standard_normal((2, d, 4)), dtype)
    np.testing.assert_allclose(to_host(g.inverse().apply(g.apply(x))), to_host(x), atol=t)
    np.testing.assert_allclose(to_host(g.T.matrix()), np.swapaxes(q, -1, -2), atol=t)
    single = Givens(xp.asarray(pairs), make(xp, angles[0], dtype))
    v = rng.standard_normal(d).astype(dtype)
    np.testing.assert_allclose(to_host(single.apply(make(xp, v, dtype))), q[0] @ v, atol=t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 2, 3, 6, 9])
def test_from_matrix_reproduces_so_d(xp, dtype, d):
    qs = np.stack([np.atleast_2d(scipy.stats.special_ortho_group.rvs(d, random_state=s)) if d > 1 else np.eye(1)
                   for s in range(3)]).astype(dtype)
    g = Givens.from_matrix(make(xp, qs, dtype))
    assert g.pairs.shape == (max(2 * d - 3, 0), d // 2, 2) and g.batch_shape == (3,)
    np.testing.assert_allclose(to_host(g.matrix()), qs, atol=tol(dtype, d, 20))
    # Only the d(d-1)/2 rotations of the elimination carry angles; the fillers stay at zero.
    _, cols = qr_layout(d)
    filler = cols[::-1] < 0
    assert np.all(to_host(g.angles)[..., filler] == 0)


def test_round_robin_reproduces_from_the_angles():
    angles = np.random.default_rng(0).uniform(-1, 1, (3, 2))
    g = Givens.round_robin(4, angles)
    np.testing.assert_allclose(g.matrix(), dense(round_robin_pairs(4), angles, 4), atol=1e-15)
    np.testing.assert_array_equal(Givens.round_robin(5).matrix(), np.eye(5))


def test_from_matrix_refuses_det_minus_one_and_non_orthogonal():
    with pytest.raises(ValueError, match="`Q` has determinant -1"):
        Givens.from_matrix(np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match="`Q` must be orthogonal"):
        Givens.from_matrix(2 * np.eye(3))


def test_bad_input_names_the_argument():
    angles = np.zeros((1, 2))
    with pytest.raises(ValueError, match="`pairs` must hold disjoint pairs"):
        Givens(np.array([[[0, 1], [1, 2]]]), angles, d=5)
    with pytest.raises(ValueError, match="`pairs` must hold disjoint pairs"):
        Givens(np.array([[[0, 0], [1, 2]]]), angles, d=4)
    with pytest.raises(ValueError, match="`pairs` has 2 pairs per layer"):
        Givens(np.array([[[0, 1], [1, 2]]]), angles)
    with pytest.raises(ValueError, match=r"`pairs` must hold row indices in \[0, d\)"):
        Givens(np.array([[[0, 1], [2, 5]]]), angles, d=4)
    with pytest.raises(ValueError, match="`pairs` must hold row indices"):
        Givens(np.array([[[0, 1], [-1, 2]]]), angles)
    with pytest.raises(TypeError, match="`pairs` must be an integer array"):
        Givens(np.array([[[0.0, 1.0], [2.0, 3.0]]]), angles)
    with pytest.raises(ValueError, match="`pairs` must have shape"):
        Givens(np.array([[0, 1], [2, 3]]), angles)
    with pytest.raises(ValueError, match="`angles` must have shape"):
        Givens(np.array([[[0, 1], [2, 3]]]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="`angles` must contain only finite"):
        Givens(np.array([[[0, 1], [2, 3]]]), np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="`angles`"):
        Givens.round_robin(4, np.zeros((2, 2)))
    g = Givens.round_robin(4)
    with pytest.raises(ValueError, match="`x`"):
        g.apply(np.ones((3, 2)))


def test_inputs_not_modified():
    pairs = round_robin_pairs(6)
    angles = np.random.default_rng(1).uniform(-1, 1, pairs.shape[:2])
    p0, a0 = pairs.copy(), angles.copy()
    x = np.ones((6, 2))
    Givens(pairs, angles).apply(x)
    np.testing.assert_array_equal(pairs, p0)
    np.testing.assert_array_equal(angles, a0)
    np.testing.assert_array_equal(x, np.ones((6, 2)))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_gradients_match_finite_differences():
    import torch

    d = 5
    pairs = torch.asarray(round_robin_pairs(d))
    angles = torch.tensor(np.random.default_rng(2).uniform(-2, 2, (2, *pairs.shape[:2])), requires_grad=True)
    x = torch.tensor(np.random.default_rng(3).standard_normal((2, d, 3)))

    def f(a):
        g = Givens(pairs, a)
        return g.apply(x), g.apply(x.mT, side="right", transpose=True), g.matrix()

    assert torch.autograd.gradcheck(f, (angles,))
