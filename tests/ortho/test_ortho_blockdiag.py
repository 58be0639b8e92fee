"""orthla.ortho.BlockDiagonal (OFT): against the dense block-diagonal matrix built in NumPy."""

import importlib.util
import math

import numpy as np
import pytest
import scipy.linalg

from orthla._testing import assert_close, to_host
from orthla.ortho import BlockDiagonal
from orthla.ortho._param_base import OrthogonalParametrization, as_params

HAVE_TORCH = importlib.util.find_spec("torch") is not None
DTYPES = ("float64", "float32")


def haar(shape, b, seed):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((*shape, b, b)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def dense(blocks):
    """The independent reference: scipy's block_diag, per operator of a batch."""
    blocks = np.asarray(blocks, dtype=np.float64)
    d = blocks.shape[-3] * blocks.shape[-1]
    out = np.empty((*blocks.shape[:-3], d, d))
    for idx in np.ndindex(*blocks.shape[:-3]):
        out[idx] = scipy.linalg.block_diag(*blocks[idx])
    return out


def tol(dtype, d):
    return 1e-12 if dtype == "float64" else 10 * d * np.finfo(np.float32).eps


class CayleyForTests(OrthogonalParametrization):
    """Q = (I - A)(I + A)^{-1}, A = S - S^T: a parametrization of blocks for the tests (written here
    so these tests do not depend on orthla's own Cayley)."""

    def __init__(self, S):
        S, xp = as_params(S, "S", min_ndim=2)
        self._S, self._xp = S, xp
        self._d = S.shape[-1]
        self._batch_shape = tuple(S.shape[:-2])
        self._dtype, self._device = S.dtype, getattr(S, "device", "cpu")
        a = S - xp.matrix_transpose(S)
        eye = xp.eye(self._d, dtype=S.dtype)
        # Q^T = (I + A)^{-1}(I - A)... Q = (I - A)(I + A)^{-1} = (I + A)^{-1}(I - A) (they commute).
        self._Q = xp.linalg.solve(eye + a, eye - a)

    def _apply(self, x, transpose):
        q = self._Q
        if q.dtype != x.dtype:
            q = self._xp.astype(q, x.dtype)
        return self._xp.matmul(self._xp.matrix_transpose(q) if transpose else q, x)

    @property
    def n_params(self):
        return self._d * (self._d - 1) // 2


# ------------------------------------------------------------------ agreement with the dense matrix

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,b", [(1, 5), (4, 3), (6, 8)])
def test_matrix_and_orthogonality(xp, dtype, k, b):
    blocks = haar((k,), b, seed=k * b).astype(dtype)
    Q = BlockDiagonal(xp.asarray(blocks))
    assert (Q.d, Q.n_blocks, Q.block_size, Q.batch_shape) == (k * b, k, b, ())
    assert Q.n_params == k * b * (b - 1) // 2
    m = Q.matrix()
    assert_close(m, dense(blocks).astype(dtype), xp=xp, atol=0, rtol=0)
    mh = to_host(m).astype(np.float64)
    d = k * b
    assert np.abs(mh.T @ mh - np.eye(d)).max() <= 10 * d * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("transpose", [False, True])
def test_apply_matches_dense(xp, dtype, side, transpose):
    k, b, n = 5, 4, 7
    d = k * b
    blocks = haar((k,), b, seed=1).astype(dtype)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((d, n) if side == "left" else (n, d)).astype(dtype)
    v = rng.standard_normal(d).astype(dtype)
    q = dense(blocks)
    q = q.T if transpose else q
    Q = BlockDiagonal(xp.asarray(blocks))
    want = q @ x if side == "left" else x @ q
    got = Q.apply(xp.asarray(x), side=side, transpose=transpose)
    assert_close(got, want.astype(dtype), xp=xp, atol=tol(dtype, d), rtol=0)
    wantv = q @ v if side == "left" else v @ q
    assert_close(Q.apply(xp.asarray(v), side=side, transpose=transpose), wantv.astype(dtype), xp=xp,
                 atol=tol(dtype, d), rtol=0)
    if not transpose and side == "left":
        assert_close(Q @ xp.asarray(x), want.astype(dtype), xp=xp, atol=tol(dtype, d), rtol=0)


def test_inverse_round_trip(xp):
    Q = BlockDiagonal(xp.asarray(haar((6,), 4, seed=3)))
    x = xp.asarray(np.random.default_rng(4).standard_normal((3, 24, 2)))
    for inv in (Q.inverse(), Q.T):
        assert_close(inv.apply(Q.apply(x)), to_host(x), xp=xp, atol=1e-14, rtol=0)
        rows = xp.matrix_transpose(x)
        assert_close(Q.apply(inv.apply(rows, side="right"), side="right"), to_host(rows), xp=xp,
                     atol=1e-14, rtol=0)
    assert Q.T.T is Q
    assert_close(Q.T.matrix(), to_host(Q.matrix()).T, xp=xp, atol=0, rtol=0)


def test_batching_broadcasts(xp):
    blocks = haar((2, 3), 4, seed=5)                      # batch (2,), k = 3, b = 4
    x = np.random.default_rng(6).standard_normal((3, 1, 12, 5))
    Q = BlockDiagonal(xp.asarray(blocks))
    assert Q.batch_shape == (2,) and Q.shape == (2, 12, 12)
    got = Q.apply(xp.asarray(x))
    assert got.shape == (3, 2, 12, 5)
    want = dense(blocks) @ x
    assert_close(got, want, xp=xp, atol=1e-13, rtol=0)
    rows = np.swapaxes(x, -1, -2)
    assert_close(Q.apply(xp.asarray(rows), side="right", transpose=True),
                 rows @ np.swapaxes(dense(blocks), -1, -2), xp=xp, atol=1e-13, rtol=0)


def test_blocks_from_a_parametrization(xp):
    S = np.random.default_rng(7).standard_normal((2, 4, 3, 3)) * 0.5   # batch (2,), k = 4, b = 3
    inner = CayleyForTests(xp.asarray(S))
    Q = BlockDiagonal(inner)
    assert Q.parametrization is inner
    assert (Q.d, Q.batch_shape, Q.n_params) == (12, (2,), 4 * 3)
    qb = to_host(inner.matrix())
    x = np.random.default_rng(8).standard_normal((12, 2))
    assert_close(Q.apply(xp.asarray(x)), dense(qb) @ x, xp=xp, atol=1e-13, rtol=0)
    assert_close(Q.apply(xp.asarray(x.T), side="right"), x.T @ dense(qb), xp=xp, atol=1e-13, rtol=0)
    assert_close(Q.blocks, qb, xp=xp, atol=0, rtol=0)


# ------------------------------------------------------------------ constructors

def test_from_matrix_round_trip(xp):
    blocks = haar((2, 4), 3, seed=9)
    Q = BlockDiagonal.from_matrix(xp.asarray(dense(blocks)), block_size=3)
    assert Q.batch_shape == (2,) and Q.n_blocks == 4
    assert_close(Q.blocks, blocks, xp=xp, atol=0, rtol=0)
    R = BlockDiagonal.random(12, block_size=4, rng=1, xp=xp)
    assert_close(BlockDiagonal.from_matrix(R.matrix(), 4).blocks, to_host(R.blocks), xp=xp, atol=0, rtol=0)


def test_from_matrix_refuses_off_block_entries(xp):
    q = dense(haar((3,), 2, seed=10))
    q[0, 5] = 1e-6
    with pytest.raises(ValueError, match=r"`Q` must be block diagonal.*1e-06"):
        BlockDiagonal.from_matrix(xp.asarray(q), 2)
    with pytest.raises(ValueError, match="`block_size` must divide d = 6; got 4"):
        BlockDiagonal.from_matrix(xp.asarray(q), 4)
    with pytest.raises(ValueError, match="`Q` must be square"):
        BlockDiagonal.from_matrix(xp.asarray(q[:4]), 2)
    # A dense orthogonal matrix is not block diagonal; an identity with a non-orthogonal block
    # passes the off-block test and fails the orthogonality one, naming Q.
    bad = np.eye(4)
    bad[0, 1] = 0.5
    with pytest.raises(ValueError, match=r"`Q`'s diagonal blocks must hold orthogonal blocks"):
        BlockDiagonal.from_matrix(xp.asarray(bad), 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_random(xp, dtype):
    a = BlockDiagonal.random(32, block_size=8, batch_shape=(2,), rng=3, dtype=getattr(xp, dtype), xp=xp)
    b = BlockDiagonal.random(32, block_size=8, batch_shape=(2,), rng=np.random.default_rng(3),
                             dtype=dtype, xp=xp)
    assert a.dtype == getattr(xp, dtype) and a.shape == (2, 32, 32)
    assert_close(a.blocks, to_host(b.blocks), xp=xp, atol=0, rtol=0)
    m = to_host(a.matrix()).astype(np.float64)
    assert np.abs(np.swapaxes(m, -1, -2) @ m - np.eye(32)).max() <= 10 * 32 * np.finfo(dtype).eps


def test_random_haar_trace_moments():
    # Haar on O(b): E tr(B) = 0, E tr(B)^2 = 1 (for b >= 2).
    t = np.trace(to_host(BlockDiagonal.random(4 * 4000, block_size=4, rng=0).blocks), axis1=-2, axis2=-1)
    assert abs(t.mean()) < 0.05 and abs((t**2).mean() - 1) < 0.06


def cayley_np(S):
    """(I - A)(I + A)^{-1} for A = L - L^T, L the strictly lower triangle given row-major."""
    b = S.shape[-1]
    return np.linalg.solve((np.eye(b) + S).swapaxes(-1, -2), (np.eye(b) - S).swapaxes(-1, -2)).swapaxes(-1, -2)


def skew_from_params(p, b):
    r, c = np.tril_indices(b, -1)
    L = np.zeros((*p.shape[:-1], b, b))
    L[..., r, c] = p
    return L - np.swapaxes(L, -1, -2)


def test_from_params_cayley_blocks(xp):
    p = 0.4 * np.random.default_rng(18).standard_normal((2, 3, 6))    # batch (2,), k = 3, b = 4
    Q = BlockDiagonal.from_params(xp.asarray(p), 4)
    assert (Q.d, Q.batch_shape, Q.n_params) == (12, (2,), 3 * 6)
    want = dense(cayley_np(skew_from_params(p, 4)))
    assert_close(Q.matrix(), want, xp=xp, atol=1e-13, rtol=0)
    x = np.random.default_rng(19).standard_normal((5, 12))
    assert_close(Q.apply(xp.asarray(x), side="right"), x @ want, xp=xp, atol=1e-13, rtol=0)
    with pytest.raises(ValueError, match="`p` must have d\\(d-1\\)/2 = 6 entries"):
        BlockDiagonal.from_params(xp.asarray(p[..., :5]), 4)
    with pytest.raises(ValueError, match="`p` must have at least 2 dimension"):
        BlockDiagonal.from_params(xp.asarray(p[0, 0]), 4)


# ------------------------------------------------------------------ bad input

def test_bad_blocks(xp):
    good = haar((3,), 4, seed=11)
    not_orth = good.copy()
    not_orth[1, 0, 0] += 1e-6
    g = np.swapaxes(not_orth, -1, -2) @ not_orth - np.eye(4)
    dev = np.sqrt((g**2).sum(axis=(-2, -1)).max())                     # the deviation reported
    with pytest.raises(ValueError, match=rf"`blocks` must hold orthogonal blocks: max \|\|B\^T B - I\|\|_F = {dev:.3g}"):
        BlockDiagonal(xp.asarray(not_orth))
    assert BlockDiagonal(xp.asarray(not_orth), tol=1e-5).d == 12          # a looser tolerance
    assert BlockDiagonal(xp.asarray(2 * good), tol=math.inf).d == 12      # or no check at all
    with pytest.raises(ValueError, match=r"`blocks` must hold orthogonal blocks; an entry of magnitude [0-9.]+ > 1"):
        BlockDiagonal(xp.asarray(2 * good))
    nan = good.copy()
    nan[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="`blocks` must contain only finite values"):
        BlockDiagonal(xp.asarray(nan))
    with pytest.raises(ValueError, match="`blocks` must have at least 3 dimension"):
        BlockDiagonal(xp.asarray(good[0]))
    with pytest.raises(ValueError, match=r"`blocks` must have shape \(\.\.\., k, b, b\)"):
        BlockDiagonal(xp.asarray(good[:, :, :3]))
    with pytest.raises(ValueError, match="`blocks` must hold at least one block"):
        BlockDiagonal(xp.asarray(good[:0]))
    with pytest.raises(TypeError, match="`blocks`"):
        BlockDiagonal(xp.asarray(good > 0))
    with pytest.raises(ValueError, match="`tol` must be"):
        BlockDiagonal(xp.asarray(good), tol=-1.0)
    with pytest.raises(ValueError, match="`blocks` as a parametrization must have a batch_shape"):
        BlockDiagonal(CayleyForTests(xp.asarray(np.zeros((3, 3)))))


def test_bad_x_and_arguments(xp):
    Q = BlockDiagonal(xp.asarray(haar((3,), 4, seed=12)))
    with pytest.raises(ValueError, match=r"`x` must have d = 12 entries along axis -2"):
        Q.apply(xp.asarray(np.ones((8, 2))))
    with pytest.raises(ValueError, match=r"`x` must have d = 12 entries along axis -1"):
        Q.apply(xp.asarray(np.ones((12, 2))), side="right")
    with pytest.raises(ValueError, match="`x` must contain only finite values"):
        Q.apply(xp.asarray(np.full((12, 2), np.nan)))
    with pytest.raises(ValueError, match="`side` must be one of"):
        Q.apply(xp.asarray(np.ones((12, 2))), side="up")
    with pytest.raises(ValueError, match="`block_size` must divide d = 12; got 5"):
        BlockDiagonal.random(12, block_size=5)
    with pytest.raises(ValueError, match="`d` must be an integer at least 1"):
        BlockDiagonal.random(0, block_size=1)
    with pytest.raises(TypeError, match="`dtype` must be float32 or float64"):
        BlockDiagonal.random(4, block_size=2, dtype="float16")
    with pytest.raises(TypeError, match="`xp` must be an array-API namespace"):
        BlockDiagonal.random(4, block_size=2, xp="numpy")
    with pytest.raises(ValueError, match="`batch_shape` must be an integer at least 0"):
        BlockDiagonal.random(4, block_size=2, batch_shape=(-1,))


def test_inputs_not_modified():
    blocks = haar((3,), 4, seed=13)
    x = np.random.default_rng(14).standard_normal((5, 12))
    b0, x0 = blocks.copy(), x.copy()
    blocks.setflags(write=False)
    x.setflags(write=False)
    Q = BlockDiagonal(blocks)
    Q.apply(x, side="right")
    Q.T.apply(x.T)
    Q.matrix()
    BlockDiagonal.from_matrix(dense(blocks), 4)
    assert np.array_equal(blocks, b0) and np.array_equal(x, x0)
    assert Q.blocks is blocks                      # not copied


def test_input_side_is_a_view_of_the_activations():
    """side='right' on (n, d) activations: the reshape of the transposed view copies nothing."""
    blocks = haar((8,), 16, seed=15)
    x = np.random.default_rng(16).standard_normal((64, 128))
    xt = x.T
    assert np.shares_memory(np.reshape(xt, (8, 16, 64)), x)
    y = BlockDiagonal(blocks).apply(x, side="right")
    np.testing.assert_allclose(y, x @ dense(blocks), atol=1e-13)
    assert y.flags.c_contiguous                   # written in the activations' layout
    yt = BlockDiagonal(blocks).apply(x, side="right", transpose=True)
    np.testing.assert_allclose(yt, x @ dense(blocks).T, atol=1e-13)


# ------------------------------------------------------------------ torch autograd

@pytest.fixture
def one_torch_thread():
    """Tiny batched solves are 100x slower with torch's 2 intra-op threads on a loaded 2-core box."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_torch_gradcheck(one_torch_thread):
    import torch

    rng = np.random.default_rng(17)
    S = torch.tensor(0.3 * rng.standard_normal((2, 3, 3)), dtype=torch.float64, requires_grad=True)
    x = torch.tensor(rng.standard_normal((2, 6)), dtype=torch.float64, requires_grad=True)

    def via_dense_blocks(s, x):
        eye = torch.eye(3, dtype=s.dtype)
        a = s - s.mT
        q = torch.linalg.solve(eye + a, eye - a)
        return BlockDiagonal(q).apply(x, side="right")

    def via_parametrization(s, x):
        return BlockDiagonal(CayleyForTests(s)).apply(x.T, transpose=True)

    assert torch.autograd.gradcheck(via_dense_blocks, (S, x), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(via_parametrization, (S, x), eps=1e-6, atol=1e-7)
    p = torch.tensor(0.3 * rng.standard_normal((2, 3)), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, x: BlockDiagonal.from_params(p, 3).apply(x, side="right"),
                                    (p, x), eps=1e-6, atol=1e-7)
