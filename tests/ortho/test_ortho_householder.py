"""orthla.ortho.Householder: compact WY products of reflectors, against explicit dense reflectors."""

import importlib.util

import numpy as np
import pytest

from orthla._testing import to_host
from orthla.ortho import Householder, random_orthogonal

HAVE_TORCH = importlib.util.find_spec("torch") is not None
DTYPES = ("float64", "float32")


def dense_product(v):
    """H_1 H_2 ... H_r in float64 from explicit d x d reflectors (batched over leading axes)."""
    v = np.asarray(v, dtype=np.float64)
    d, r = v.shape[-2:]
    out = np.empty((*v.shape[:-2], d, d))
    for idx in np.ndindex(*v.shape[:-2]):
        q = np.eye(d)
        for j in range(r):
            w = v[idx][:, j]
            q = q @ (np.eye(d) - 2.0 * np.outer(w, w) / (w @ w))
        out[idx] = q
    return out


def tol(dtype, d, c=10.0):
    return c * d * np.finfo(dtype).eps


def make(xp, a, dtype):
    return xp.asarray(np.asarray(a, dtype=dtype))


# ------------------------------------------------------------------ the operator


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d,r,batch", [(9, 4, ()), (9, 9, ()), (6, 1, (2,)), (5, 3, (2, 3))])
def test_matrix_is_orthogonal_and_equals_the_dense_product(xp, dtype, d, r, batch):
    v = np.random.default_rng(d * 10 + r).standard_normal((*batch, d, r)).astype(dtype)
    h = Householder(make(xp, v, dtype))
    q = h.matrix()
    assert q.dtype == getattr(xp, dtype) and tuple(q.shape) == (*batch, d, d) == h.shape
    qh = to_host(q).astype(np.float64)
    eye = np.eye(d)
    assert np.max(np.abs(np.swapaxes(qh, -1, -2) @ qh - eye)) <= tol(dtype, d)
    assert np.max(np.abs(qh - dense_product(v))) <= tol(dtype, d)
    assert h.d == d and h.r == r and h.batch_shape == batch and h.n_params == d * r


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transpose", [False, True])
def test_apply_both_sides_and_vectors_match_the_dense_product(xp, dtype, transpose):
    rng = np.random.default_rng(1)
    d, r, k = 10, 4, 3
    v = rng.standard_normal((d, r)).astype(dtype)
    x = rng.standard_normal((d, k)).astype(dtype)
    y = rng.standard_normal((k, d)).astype(dtype)
    z = rng.standard_normal(d).astype(dtype)
    q = dense_product(v)
    q = q.T if transpose else q
    h = Householder(make(xp, v, dtype))
    t = tol(dtype, d)
    scale = lambda a: max(1.0, np.max(np.abs(a)))  # noqa: E731
    got = to_host(h.apply(make(xp, x, dtype), transpose=transpose))
    assert np.max(np.abs(got - q @ x)) <= t * scale(x)
    got = to_host(h.apply(make(xp, y, dtype), side="right", transpose=transpose))
    assert np.max(np.abs(got - y @ q)) <= t * scale(y)
    got = to_host(h.apply(make(xp, z, dtype), transpose=transpose))
    assert got.shape == (d,) and np.max(np.abs(got - q @ z)) <= t * scale(z)
    got = to_host(h.apply(make(xp, z, dtype), side="right", transpose=transpose))
    assert np.max(np.abs(got - z @ q)) <= t * scale(z)
    # .T and inverse() are the transpose
    other = h.T if transpose else h.T.T
    assert np.max(np.abs(to_host(other.apply(make(xp, x, dtype))) - q @ x)) <= t * scale(x)
    assert np.max(np.abs(to_host(h @ make(xp, x, dtype)) - dense_product(v) @ x)) <= t * scale(x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inverse_undoes_apply(xp, dtype):
    rng = np.random.default_rng(2)
    d = 12
    v = rng.standard_normal((d, 5))
    x = rng.standard_normal((d, 4)).astype(dtype)
    h = Householder(make(xp, v, dtype))
    xx = make(xp, x, dtype)
    back = to_host(h.inverse().apply(h.apply(xx)))
    assert np.max(np.abs(back - x)) <= tol(dtype, d) * np.max(np.abs(x))
    xt = make(xp, x.T, dtype)
    back = to_host(h.apply(h.apply(xt, side="right"), side="right", transpose=True))
    assert np.max(np.abs(back - x.T)) <= tol(dtype, d) * np.max(np.abs(x))


def test_batching_over_v_and_x(xp):
    rng = np.random.default_rng(3)
    d, r, k = 6, 3, 2
    v = rng.standard_normal((3, 1, d, r))
    x = rng.standard_normal((2, d, k))
    h = Householder(xp.asarray(v))
    got = to_host(h.apply(xp.asarray(x)))
    assert got.shape == (3, 2, d, k)
    q = dense_product(v)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(got[i, j], q[i, 0] @ x[j], atol=tol(np.float64, d))
    # one x for the whole batch, and a batch of x for one operator
    got = to_host(h.apply(xp.asarray(x[0])))
    assert got.shape == (3, 1, d, k)
    got = to_host(Householder(xp.asarray(v[0, 0])).apply(xp.asarray(x)))
    np.testing.assert_allclose(got, q[0, 0] @ x, atol=tol(np.float64, d))


def test_only_directions_matter(xp):
    rng = np.random.default_rng(4)
    v = rng.standard_normal((7, 3))
    ref = to_host(Householder(xp.asarray(v)).matrix())
    for s in (2.0**500, 2.0**-500, np.array([-1.0, 3.0, 2.0**-1000])):
        w = v * s
        got = to_host(Householder(xp.asarray(w)).matrix())
        assert np.max(np.abs(got - ref)) <= tol(np.float64, 7), s


def test_zero_reflectors_is_the_identity(xp):
    h = Householder(xp.zeros((2, 5, 0), dtype=xp.float64))
    assert h.r == 0 and h.n_params == 0
    x = np.random.default_rng(5).standard_normal((5, 3))
    np.testing.assert_array_equal(to_host(h.apply(xp.asarray(x))), np.broadcast_to(x, (2, 5, 3)))
    np.testing.assert_array_equal(to_host(h.matrix()), np.broadcast_to(np.eye(5), (2, 5, 5)))


def test_integer_parameters_promote_and_repr(xp):
    h = Householder(xp.asarray(np.array([[1, 0], [1, 1], [0, 2]])))
    assert h.dtype == xp.float64
    np.testing.assert_allclose(to_host(h.matrix()), dense_product([[1, 0], [1, 1], [0, 2]]), atol=1e-15)
    assert "Householder(d=3, r=2" in repr(h) and repr(h.T).endswith(".T")


# ------------------------------------------------------------------ constructors


def test_from_params_is_the_constructor(xp):
    v = np.random.default_rng(6).standard_normal((5, 2))
    a = Householder.from_params(xp.asarray(v))
    assert isinstance(a, Householder)
    np.testing.assert_array_equal(to_host(a.matrix()), to_host(Householder(xp.asarray(v)).matrix()))
    assert a.V is not None and tuple(a.V.shape) == (5, 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_matrix_reproduces_lower_trapezoidal_reflectors(xp, dtype):
    rng = np.random.default_rng(7)
    d, r = 8, 3
    w = np.tril(rng.standard_normal((2, d, r)))
    w[..., 0, 0] = -w[..., 0, 0]  # a negative w_j[j]: the sign is normalized away
    h = Householder(make(xp, w, dtype))
    back = Householder.from_matrix(h.matrix(), r=r)
    want = w * np.sign(np.diagonal(w, axis1=-2, axis2=-1))[..., None, :] / np.linalg.norm(w, axis=-2, keepdims=True)
    assert np.max(np.abs(to_host(back.V) - want)) <= tol(dtype, d, c=100)
    assert np.max(np.abs(to_host(back.matrix()) - to_host(h.matrix()))) <= tol(dtype, d)


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_matrix_of_generic_products_and_haar_matrices(xp, dtype):
    rng = np.random.default_rng(8)
    d = 7
    v = rng.standard_normal((d, 3))
    q = dense_product(v)
    back = Householder.from_matrix(make(xp, q, dtype), r=3)
    vh = to_host(back.V)
    assert np.all(vh[np.triu_indices(d, 1, 3)] == 0)  # lower trapezoidal
    assert np.all(np.diagonal(vh) >= 0)
    np.testing.assert_allclose(np.linalg.norm(vh, axis=0), 1.0, atol=tol(dtype, d))
    assert np.max(np.abs(to_host(back.matrix()) - q)) <= tol(dtype, d, c=100)
    # Haar matrices of both determinants: d - 1 reflectors for det (-1)^(d-1), d otherwise
    qs = random_orthogonal(d, batch_shape=(40,), rng=9)
    dets = np.sign(np.linalg.det(qs))
    for sign, r_want in ((1.0, d - 1), (-1.0, d)):
        sel = qs[dets == sign][:5]
        back = Householder.from_matrix(make(xp, sel, dtype))
        assert back.r == r_want
        assert np.max(np.abs(to_host(back.matrix()) - sel)) <= tol(dtype, d, c=100)


def test_from_matrix_identity_and_structured(xp):
    for d in (1, 2, 5, 6):
        back = Householder.from_matrix(xp.eye(d, dtype=xp.float64))
        assert back.r == (0 if d == 1 else d - 1 if (d - 1) % 2 == 0 else d)
        np.testing.assert_allclose(to_host(back.matrix()), np.eye(d), atol=1e-15)
    m = np.diag([1.0, -1.0, 1.0, 1.0])
    back = Householder.from_matrix(xp.asarray(m), r=1)
    np.testing.assert_allclose(to_host(back.V)[:, 0], [0, 1, 0, 0])
    np.testing.assert_allclose(to_host(back.matrix()), m, atol=1e-15)


def test_from_matrix_errors(xp):
    q = random_orthogonal(5, batch_shape=(20,), rng=10)
    dets = np.sign(np.linalg.det(q))
    with pytest.raises(ValueError, match="`Q` mixes determinants"):
        Householder.from_matrix(xp.asarray(q))
    with pytest.raises(ValueError, match=r"`Q` is not a product of r = 2 reflectors"):
        Householder.from_matrix(xp.asarray(q[dets > 0][0]), r=2)
    with pytest.raises(ValueError, match="`Q` must be orthogonal"):
        Householder.from_matrix(xp.asarray(2.0 * q[0]))
    with pytest.raises(ValueError, match="`Q` must be square"):
        Householder.from_matrix(xp.asarray(q[0, :, :3]))
    with pytest.raises(ValueError, match="`r` must be an integer at least 0 and at most d = 5"):
        Householder.from_matrix(xp.asarray(q[0]), r=6)
    with pytest.raises(ValueError, match="`Q` must contain only finite"):
        Householder.from_matrix(xp.asarray(np.full((3, 3), np.nan)))


def test_random_is_seeded_and_typed(xp):
    a = Householder.random(6, 2, batch_shape=(3,), rng=11, xp=xp)
    b = Householder.random(6, 2, batch_shape=(3,), rng=np.random.default_rng(11), xp=xp)
    np.testing.assert_array_equal(to_host(a.V), to_host(b.V))
    np.testing.assert_array_equal(to_host(a.V), np.random.default_rng(11).standard_normal((3, 6, 2)))
    c = Householder.random(6, 2, rng=11, dtype="float32", xp=xp)
    assert c.dtype == xp.float32 and c.V.dtype == xp.float32
    assert Householder.random(4, 4, rng=0).shape == (4, 4)
    with pytest.raises(ValueError, match="`r` must be an integer"):
        Householder.random(4, 5)
    with pytest.raises(TypeError, match="`dtype`"):
        Householder.random(4, 2, dtype="float16", xp=xp)


# ------------------------------------------------------------------ input checks


def test_bad_parameters_name_the_argument(xp):
    v = np.random.default_rng(12).standard_normal((5, 3))
    z = v.copy()
    z[:, 1] = 0.0
    with pytest.raises(ValueError, match="`V` must have nonzero columns.*1 zero column"):
        Householder(xp.asarray(z))
    with pytest.raises(ValueError, match=r"`V` must have shape \(\.\.\., d, r\) with r <= d"):
        Householder(xp.asarray(v.T))
    n = v.copy()
    n[2, 2] = np.nan
    with pytest.raises(ValueError, match="`V` must contain only finite"):
        Householder(xp.asarray(n))
    with pytest.raises(ValueError, match="`V` must have at least 2"):
        Householder(xp.asarray(v[:, 0]))
    with pytest.raises(TypeError, match="`V`"):
        Householder(xp.asarray(v > 0))
    h = Householder(xp.asarray(v))
    with pytest.raises(ValueError, match="`x` must have d = 5"):
        h.apply(xp.asarray(np.ones((4, 2))))
    with pytest.raises(ValueError, match="`x` must have d = 5"):
        h.apply(xp.asarray(np.ones((5, 2))), side="right")
    with pytest.raises(ValueError, match="`x` must contain only finite"):
        h.apply(xp.asarray(np.full((5, 2), np.inf)))
    with pytest.raises(ValueError, match="`side`"):
        h.apply(xp.asarray(np.ones(5)), side="up")


def test_complex_parameters_are_refused():
    with pytest.raises(TypeError, match="`V` must be real"):
        Householder(np.ones((3, 2), dtype=complex))


def test_inputs_are_not_modified(xp):
    rng = np.random.default_rng(13)
    v = rng.standard_normal((2, 6, 3))
    x = rng.standard_normal((6, 4))
    q = random_orthogonal(6, rng=1)
    vv, xx, qq = xp.asarray(v.copy()), xp.asarray(x.copy()), xp.asarray(q.copy())
    h = Householder(vv)
    h.apply(xx)
    h.apply(xp.asarray(x.T.copy()), side="right", transpose=True)
    h.matrix()
    Householder.from_matrix(qq)
    np.testing.assert_array_equal(to_host(vv), v)
    np.testing.assert_array_equal(to_host(xx), x)
    np.testing.assert_array_equal(to_host(qq), q)


def test_mixed_precision_promotes(xp):
    v = np.random.default_rng(14).standard_normal((5, 2))
    h = Householder(make(xp, v, "float32"))
    x = np.random.default_rng(15).standard_normal((5, 2))
    out = h.apply(xp.asarray(x))
    assert out.dtype == xp.float64
    np.testing.assert_allclose(to_host(out), dense_product(v.astype(np.float32)) @ x, atol=1e-6)


# ------------------------------------------------------------------ autograd (torch)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_gradients_match_finite_differences():
    import torch

    gen = torch.Generator().manual_seed(0)
    v = torch.randn(6, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    x = torch.randn(6, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v, x: Householder(v).apply(x), (v, x))
    assert torch.autograd.gradcheck(lambda v, x: Householder(v).apply(x.T, side="right", transpose=True),
                                    (v, x), fast_mode=True)
    vb = torch.randn(2, 5, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: Householder(v).matrix(), (vb,), fast_mode=True)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_gradient_equals_the_dense_products_gradient():
    import torch

    gen = torch.Generator().manual_seed(1)
    v = torch.randn(8, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    x = torch.randn(8, 3, dtype=torch.float64, generator=gen)
    w = torch.randn(8, 3, dtype=torch.float64, generator=gen)
    (g1,) = torch.autograd.grad((Householder(v).apply(x) * w).sum(), v)
    q = torch.eye(8, dtype=torch.float64)
    for j in range(4):
        c = v[:, j]
        q = q @ (torch.eye(8, dtype=torch.float64) - 2 * torch.outer(c, c) / (c @ c))
    (g2,) = torch.autograd.grad(((q @ x) * w).sum(), v)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)
