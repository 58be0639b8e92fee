"""orthla.ortho.Butterfly (BOFT): against the dense-permutation construction of BOFT, in NumPy.

The reference builds each permutation matrix from BOFT's index map (chunks of ``b 2^i`` indices,
half-blocks of ``b/2`` reordered evens then odds; written here from the paper's description,
independently of the library), each block-diagonal factor with ``scipy.linalg.block_diag``, and
multiplies ``Q = prod_i P_i D_i P_i^T`` densely, as BOFT's reference code does.
"""

import importlib.util
import math

import numpy as np
import pytest
import scipy.linalg

from orthla._testing import assert_close, to_host
from orthla.ortho import BlockDiagonal, Butterfly
from orthla.ortho._param_base import OrthogonalParametrization, as_params

HAVE_TORCH = importlib.util.find_spec("torch") is not None
DTYPES = ("float64", "float32")


def haar(shape, b, seed):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((*shape, b, b)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def boft_perm(d, b, i):
    """BOFT's ``p_i`` (``(P_i x)[j] = x[p_i[j]]``) by the paper's recipe, with explicit loops."""
    if i == 0:
        return np.arange(d)                                       # plain OFT, any block size
    r, size = b // 2, b << i
    seq = [*range(0, size // r, 2), *range(1, size // r, 2)]     # half-blocks: evens, then odds
    out = []
    for start in range(0, d, size):
        for t in seq:
            out.extend(range(start + t * r, start + t * r + r))
    return np.array(out)


def perm_matrix(p):
    m = np.zeros((len(p), len(p)))
    m[np.arange(len(p)), p] = 1.0
    return m


def dense_butterfly(blocks):
    """Q = P_{m-1} D_{m-1} P_{m-1}^T ... P_0 D_0 P_0^T, dense, for one operator (m, k, b, b)."""
    blocks = np.asarray(blocks, dtype=np.float64)
    m, k, b, _ = blocks.shape
    d = k * b
    q = np.eye(d)
    for i in range(m):
        p = perm_matrix(boft_perm(d, b, i))
        q = p @ scipy.linalg.block_diag(*blocks[i]) @ p.T @ q
    return q


def dense_batch(blocks):
    out = np.empty((*blocks.shape[:-4], blocks.shape[-3] * blocks.shape[-1], blocks.shape[-3] * blocks.shape[-1]))
    for idx in np.ndindex(*blocks.shape[:-4]):
        out[idx] = dense_butterfly(blocks[idx])
    return out


def tol(dtype, d, m):
    return 1e-12 if dtype == "float64" else 4 * m * d * np.finfo(np.float32).eps


class CayleyForTests(OrthogonalParametrization):
    """Q = (I - A)(I + A)^{-1}, A = S - S^T (independent of orthla's own Cayley)."""

    def __init__(self, S):
        S, xp = as_params(S, "S", min_ndim=2)
        self._xp, self._d = xp, S.shape[-1]
        self._batch_shape = tuple(S.shape[:-2])
        self._dtype, self._device = S.dtype, getattr(S, "device", "cpu")
        a = S - xp.matrix_transpose(S)
        eye = xp.eye(self._d, dtype=S.dtype)
        self._Q = xp.linalg.solve(eye + a, eye - a)

    def _apply(self, x, transpose):
        q = self._Q if self._Q.dtype == x.dtype else self._xp.astype(self._Q, x.dtype)
        return self._xp.matmul(self._xp.matrix_transpose(q) if transpose else q, x)

    @property
    def n_params(self):
        return self._d * (self._d - 1) // 2


def test_reference_permutations_are_butterflies():
    """Sanity of the reference: P_0 = I, and D_i of P_i couples indices b 2^(i-1) apart."""
    assert np.array_equal(boft_perm(16, 4, 0), np.arange(16))
    # b = 2 (r = 1), i = 1: chunks of 4 reordered 0, 2, 1, 3: the pair (0, 2) forms the first block.
    assert boft_perm(8, 2, 1).tolist() == [0, 2, 1, 3, 4, 6, 5, 7]
    assert boft_perm(8, 2, 2).tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert boft_perm(16, 4, 1).tolist() == [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]


# ------------------------------------------------------------------ agreement with the dense product

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d,b,m", [(16, 2, 4), (32, 4, 4), (48, 4, 3), (24, 6, 2), (15, 3, 1), (64, 8, 3)])
def test_matrix_matches_dense_permutation_construction(xp, dtype, d, b, m):
    blocks = haar((m, d // b), b, seed=d + b + m).astype(dtype)
    Q = Butterfly(xp.asarray(blocks))
    assert (Q.d, Q.block_size, Q.n_factors, Q.batch_shape) == (d, b, m, ())
    assert Q.n_params == m * (d // b) * b * (b - 1) // 2
    want = dense_butterfly(blocks)
    assert_close(Q.matrix(), want.astype(dtype), xp=xp, atol=tol(dtype, d, m), rtol=0)
    mh = to_host(Q.matrix()).astype(np.float64)
    assert np.abs(mh.T @ mh - np.eye(d)).max() <= 10 * d * np.finfo(dtype).eps
    for i in range(m):
        assert np.array_equal(to_host(Q.permutation(i)), boft_perm(d, b, i))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("transpose", [False, True])
def test_apply_matches_dense(xp, dtype, side, transpose):
    d, b, m, n = 32, 4, 4, 5
    blocks = haar((m, d // b), b, seed=3).astype(dtype)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((d, n) if side == "left" else (n, d)).astype(dtype)
    v = rng.standard_normal(d).astype(dtype)
    q = dense_butterfly(blocks)
    q = q.T if transpose else q
    Q = Butterfly(xp.asarray(blocks))
    want = q @ x if side == "left" else x @ q
    assert_close(Q.apply(xp.asarray(x), side=side, transpose=transpose), want.astype(dtype), xp=xp,
                 atol=tol(dtype, d, m), rtol=0)
    wantv = q @ v if side == "left" else v @ q
    assert_close(Q.apply(xp.asarray(v), side=side, transpose=transpose), wantv.astype(dtype), xp=xp,
                 atol=tol(dtype, d, m), rtol=0)


def test_full_butterfly_mixes_everything_and_fewer_factors_do_not():
    full = Butterfly.random(32, block_size=2, rng=0)
    assert full.n_factors == 5 == Butterfly.max_factors(32, 2)
    assert np.all(full.matrix() != 0)
    part = Butterfly.random(32, block_size=2, n_factors=3, rng=0)
    # m factors mix chunks of b 2^(m-1) = 8 indices: block diagonal with 8 x 8 blocks.
    mat = part.matrix()
    assert np.all(mat.reshape(4, 8, 4, 8)[np.arange(4), :, np.arange(4), :] != 0)
    off = mat.reshape(4, 8, 4, 8).transpose(0, 2, 1, 3)[~np.eye(4, dtype=bool)]
    assert np.all(off == 0)


def test_inverse_round_trip(xp):
    Q = Butterfly(xp.asarray(haar((3, 8), 4, seed=5)))
    x = xp.asarray(np.random.default_rng(6).standard_normal((2, 32, 3)))
    for inv in (Q.inverse(), Q.T):
        assert_close(inv.apply(Q.apply(x)), to_host(x), xp=xp, atol=1e-14, rtol=0)
        assert_close(Q.apply(inv.apply(x)), to_host(x), xp=xp, atol=1e-14, rtol=0)
    assert_close(Q.T.matrix(), to_host(Q.matrix()).T, xp=xp, atol=1e-15, rtol=0)


def test_batching_broadcasts(xp):
    blocks = haar((2, 3, 4), 2, seed=7)                   # batch (2,), m = 3, k = 4, b = 2
    x = np.random.default_rng(8).standard_normal((3, 1, 8, 5))
    Q = Butterfly(xp.asarray(blocks))
    assert Q.batch_shape == (2,) and Q.shape == (2, 8, 8)
    got = Q.apply(xp.asarray(x))
    assert got.shape == (3, 2, 8, 5)
    assert_close(got, dense_batch(blocks) @ x, xp=xp, atol=1e-13, rtol=0)
    rows = np.swapaxes(x, -1, -2)
    assert_close(Q.apply(xp.asarray(rows), side="right", transpose=True),
                 rows @ np.swapaxes(dense_batch(blocks), -1, -2), xp=xp, atol=1e-13, rtol=0)


def test_factors_from_parametrizations(xp):
    rng = np.random.default_rng(9)
    S = [0.5 * rng.standard_normal((4, 4, 4)) for _ in range(3)]    # m = 3 factors, k = 4, b = 4
    inner = [CayleyForTests(xp.asarray(s)) for s in S]
    mixed = [inner[0], BlockDiagonal(inner[1]), to_host(inner[2].matrix())]
    mixed[2] = BlockDiagonal(xp.asarray(mixed[2]))
    blocks = np.stack([to_host(c.matrix()) for c in inner])
    want = dense_butterfly(blocks)
    x = rng.standard_normal((16, 2))
    for factors in (inner, tuple(mixed)):
        Q = Butterfly(factors)
        assert Q.n_factors == 3 and Q.d == 16
        assert_close(Q.apply(xp.asarray(x)), want @ x, xp=xp, atol=1e-13, rtol=0)
        assert_close(Q.apply(xp.asarray(x), transpose=True), want.T @ x, xp=xp, atol=1e-13, rtol=0)
    assert Butterfly(inner).n_params == 3 * 4 * 6
    assert all(isinstance(f, BlockDiagonal) for f in Butterfly(inner).factors)


@pytest.mark.parametrize("dtype", DTYPES)
def test_random(xp, dtype):
    a = Butterfly.random(64, block_size=8, batch_shape=(2,), rng=3, dtype=dtype, xp=xp)
    b = Butterfly.random(64, block_size=8, batch_shape=(2,), rng=np.random.default_rng(3), dtype=dtype, xp=xp)
    assert a.n_factors == 4 and a.shape == (2, 64, 64) and a.dtype == getattr(xp, dtype)
    assert_close(a.matrix(), to_host(b.matrix()), xp=xp, atol=0, rtol=0)
    m = to_host(a.matrix()).astype(np.float64)
    assert np.abs(np.swapaxes(m, -1, -2) @ m - np.eye(64)).max() <= 10 * 64 * np.finfo(dtype).eps
    assert Butterfly.random(64, block_size=8, n_factors=2, rng=0, xp=xp).n_factors == 2


def test_max_factors():
    assert Butterfly.max_factors(4096, 8) == 10        # k = 512 = 2^9: 1 + 9
    assert Butterfly.max_factors(768, 8) == 6          # k = 96 = 3 * 2^5
    assert Butterfly.max_factors(30, 3) == 1           # odd block size: OFT only
    assert Butterfly.max_factors(16, 16) == 1          # one block


def test_from_params_cayley_blocks(xp):
    rng = np.random.default_rng(20)
    p = 0.4 * rng.standard_normal((3, 4, 1))                   # m = 3, k = 4, b = 2 (one angle each)
    Q = Butterfly.from_params(xp.asarray(p), 2)
    assert (Q.d, Q.n_factors, Q.n_params) == (8, 3, 12)
    r, c = np.tril_indices(2, -1)
    L = np.zeros((3, 4, 2, 2))
    L[..., r, c] = p
    S = L - np.swapaxes(L, -1, -2)
    blocks = np.linalg.solve(np.swapaxes(np.eye(2) + S, -1, -2), np.swapaxes(np.eye(2) - S, -1, -2))
    want = dense_butterfly(np.swapaxes(blocks, -1, -2))
    assert_close(Q.matrix(), want, xp=xp, atol=1e-13, rtol=0)
    with pytest.raises(ValueError, match="`p` has 4 factors of k = 4 blocks; .* at most 3"):
        Butterfly.from_params(xp.asarray(0.1 * rng.standard_normal((4, 4, 1))), 2)
    with pytest.raises(ValueError, match="`p`: a butterfly of 2 factors needs an even `block_size`"):
        Butterfly.from_params(xp.asarray(np.zeros((2, 4, 3))), 3)
    with pytest.raises(ValueError, match="`p` must have at least 3 dimension"):
        Butterfly.from_params(xp.asarray(p[0]), 2)


# ------------------------------------------------------------------ bad input

def test_bad_blocks(xp):
    good = haar((3, 4), 2, seed=10)
    with pytest.raises(ValueError, match=r"`blocks` has 4 factors of k = 4 blocks of size 2; .* at most 3"):
        Butterfly(xp.asarray(haar((4, 4), 2, seed=11)))
    with pytest.raises(ValueError, match="needs an even block size"):
        Butterfly(xp.asarray(haar((2, 4), 3, seed=12)))
    assert Butterfly(xp.asarray(haar((1, 4), 3, seed=12))).d == 12       # one factor: any b
    not_orth = good.copy()
    not_orth[2, 1, 0, 1] += 1e-5
    with pytest.raises(ValueError, match=r"`blocks` must hold orthogonal blocks: max \|\|B\^T B - I\|\|_F = 1"):
        Butterfly(xp.asarray(not_orth))
    assert Butterfly(xp.asarray(not_orth), tol=math.inf).n_factors == 3
    nan = good.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="`blocks` must contain only finite values"):
        Butterfly(xp.asarray(nan))
    with pytest.raises(ValueError, match="`blocks` must have at least 4 dimension"):
        Butterfly(xp.asarray(good[0]))
    with pytest.raises(ValueError, match=r"`blocks` must have shape \(\.\.\., m, k, b, b\)"):
        Butterfly(xp.asarray(good[..., :1]))
    with pytest.raises(ValueError, match="`blocks` must hold at least one factor"):
        Butterfly(xp.asarray(good[:0]))
    with pytest.raises(TypeError, match="`blocks`"):
        Butterfly(xp.asarray(good > 0))
    a = BlockDiagonal(xp.asarray(haar((4,), 2, seed=13)))
    c = BlockDiagonal(xp.asarray(haar((2,), 4, seed=14)))
    with pytest.raises(ValueError, match="`blocks`: the factors must share d and the block size"):
        Butterfly([a, c])
    a2 = BlockDiagonal(xp.asarray(haar((2, 4), 2, seed=13)))
    a3 = BlockDiagonal(xp.asarray(haar((3, 4), 2, seed=13)))
    with pytest.raises(ValueError, match=r"`blocks`: the factors' batch shapes do not broadcast"):
        Butterfly([a2, a3])
    assert Butterfly([a, a3]).batch_shape == (3,)
    Q = Butterfly(xp.asarray(good))
    with pytest.raises(ValueError, match="`x` must have d = 8 entries"):
        Q.apply(xp.asarray(np.ones((6, 2))))
    with pytest.raises(ValueError, match="`x` must contain only finite values"):
        Q.apply(xp.asarray(np.full(8, np.inf)))
    with pytest.raises(ValueError, match="`i` must be an integer at least 0 and at most n_factors - 1 = 2"):
        Q.permutation(3)


def test_bad_random_arguments():
    with pytest.raises(ValueError, match="`block_size` must divide d = 64; got 6"):
        Butterfly.random(64, block_size=6)
    with pytest.raises(ValueError, match=r"`n_factors` must be an integer at least 1 and at most .*= 4; got 5"):
        Butterfly.random(64, block_size=8, n_factors=5)
    with pytest.raises(ValueError, match="`n_factors` must be an integer at least 1"):
        Butterfly.random(64, block_size=8, n_factors=0)
    with pytest.raises(TypeError, match="`n_factors` must be an integer"):
        Butterfly.random(64, block_size=8, n_factors=2.5)
    with pytest.raises(ValueError, match="`block_size` must divide d = 10; got 4"):
        Butterfly.max_factors(10, 4)


def test_inputs_not_modified():
    blocks = haar((3, 4), 2, seed=15)
    x = np.random.default_rng(16).standard_normal((5, 8))
    b0, x0 = blocks.copy(), x.copy()
    blocks.setflags(write=False)
    x.setflags(write=False)
    Q = Butterfly(blocks)
    Q.apply(x, side="right")
    Q.T.apply(x.T)
    Q.matrix()
    assert np.array_equal(blocks, b0) and np.array_equal(x, x0)


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
    S = torch.tensor(0.3 * rng.standard_normal((3, 4, 2, 2)), dtype=torch.float64, requires_grad=True)
    x = torch.tensor(rng.standard_normal((8, 2)), dtype=torch.float64, requires_grad=True)

    def via_dense_blocks(s, x):
        eye = torch.eye(2, dtype=s.dtype)
        a = s - s.mT
        return Butterfly(torch.linalg.solve(eye + a, eye - a)).apply(x)

    def via_factors(s, x):
        return Butterfly([CayleyForTests(s[i]) for i in range(3)]).apply(x.T, side="right", transpose=True)

    assert torch.autograd.gradcheck(via_dense_blocks, (S, x), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(via_factors, (S, x), eps=1e-6, atol=1e-7, fast_mode=True)
    p = torch.tensor(0.3 * rng.standard_normal((2, 4, 1)), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, x: Butterfly.from_params(p, 2).apply(x), (p, x), eps=1e-6, atol=1e-7,
                                    fast_mode=True)
