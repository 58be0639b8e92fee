"""Contract cases for orthla.ortho.BlockDiagonal and orthla.ortho.Butterfly (see ``_case.Case``).

The checks compare against the dense construction in NumPy float64: ``scipy.linalg.block_diag`` of
the blocks, and for the butterfly the permutation matrices of BOFT's convention built from their
index maps (written here independently of the library) and multiplied out.
"""

import numpy as np
import scipy.linalg

from orthla import ortho

from ._case import Case, host

_rng = np.random.default_rng(20261214)


def _haar(shape, b):
    q, r = np.linalg.qr(_rng.standard_normal((*shape, b, b)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


BLOCKS = _haar((3,), 4)          # k = 3 blocks of 4: d = 12
BFLY = _haar((3, 4), 2)          # m = 3 factors of k = 4 blocks of 2: d = 8 (full butterfly)
X_ROWS = _rng.standard_normal((5, 12))
X_COLS12 = _rng.standard_normal((12, 2))
X_COLS = _rng.standard_normal((8, 3))
Q_DENSE = scipy.linalg.block_diag(*BLOCKS)
P_BD = 0.3 * _rng.standard_normal((3, 3))          # k = 3 blocks of b = 3 (3 skew entries each)
P_BF = 0.3 * _rng.standard_normal((3, 4, 1))       # m = 3 factors of k = 4 blocks of b = 2


def _cayley_blocks(p, b):
    p = np.asarray(p, dtype=np.float64)
    r, c = np.tril_indices(b, -1)
    low = np.zeros((*p.shape[:-1], b, b))
    low[..., r, c] = p
    s = low - np.swapaxes(low, -1, -2)
    eye = np.eye(b)
    return np.swapaxes(np.linalg.solve(np.swapaxes(eye + s, -1, -2), np.swapaxes(eye - s, -1, -2)), -1, -2)


def _check_bd_from_params(res, arrays):
    want = scipy.linalg.block_diag(*_cayley_blocks(arrays["p"], 3))
    np.testing.assert_allclose(host(res.matrix()), want, rtol=0, atol=1e-13)


def _check_bf_from_params(res, arrays):
    np.testing.assert_allclose(host(res.matrix()), _dense_butterfly(_cayley_blocks(arrays["p"], 2)),
                               rtol=0, atol=1e-13)


def _perm(d, b, i):
    """BOFT's index map: chunks of b 2^i, half-blocks of b/2 reordered evens then odds."""
    r, size = b // 2, b << i
    step = size // r
    order = np.concatenate([np.arange(p * r, p * r + r)
                            for p in [*range(0, step, 2), *range(1, step, 2)]])
    return np.concatenate([s + order for s in range(0, d, size)])


def _dense_butterfly(blocks):
    blocks = np.asarray(blocks, dtype=np.float64)
    m, _, b, _ = blocks.shape[-4:]
    d = blocks.shape[-3] * b
    q = np.eye(d)
    for i in range(m):
        p = np.eye(d)[_perm(d, b, i)]
        q = p @ scipy.linalg.block_diag(*blocks[i]) @ p.T @ q
    return q


def _check_bd_apply(res, arrays):
    q = scipy.linalg.block_diag(*np.asarray(arrays["blocks"], dtype=np.float64))
    x = np.asarray(arrays["x"], dtype=np.float64)
    np.testing.assert_allclose(host(res), x @ q, rtol=0, atol=1e-12 * max(1.0, np.abs(x).max()))


def _check_bd_apply_left(res, arrays):
    q = scipy.linalg.block_diag(*np.asarray(arrays["blocks"], dtype=np.float64))
    x = np.asarray(arrays["x"], dtype=np.float64)
    np.testing.assert_allclose(host(res), q @ x, rtol=0, atol=1e-12 * max(1.0, np.abs(x).max()))


def _check_bd_matrix(res, arrays):
    np.testing.assert_allclose(host(res), scipy.linalg.block_diag(*np.asarray(arrays["blocks"], float)),
                               rtol=0, atol=1e-14)


def _check_bd_inverse(res, arrays):
    q = scipy.linalg.block_diag(*np.asarray(arrays["blocks"], dtype=np.float64))
    x = np.asarray(arrays["x"], dtype=np.float64)
    np.testing.assert_allclose(host(res), x @ q.T, rtol=0, atol=1e-12 * max(1.0, np.abs(x).max()))


def _check_from_matrix(res, arrays):
    np.testing.assert_allclose(host(res.blocks), BLOCKS, rtol=0, atol=1e-15)


def _check_bf_apply(res, arrays):
    q = _dense_butterfly(arrays["blocks"])
    x = np.asarray(arrays["x"], dtype=np.float64)
    np.testing.assert_allclose(host(res), q @ x, rtol=0, atol=1e-12 * max(1.0, np.abs(x).max()))


def _check_bf_matrix(res, arrays):
    np.testing.assert_allclose(host(res), _dense_butterfly(arrays["blocks"]), rtol=0, atol=1e-14)


def _check_bf_inverse(res, arrays):
    q = _dense_butterfly(arrays["blocks"])
    x = np.asarray(arrays["x"], dtype=np.float64)
    np.testing.assert_allclose(host(res), q.T @ x, rtol=0, atol=1e-12 * max(1.0, np.abs(x).max()))


def _check_orthogonal(d):
    def check(res, arrays):
        q = host(res.matrix())
        assert q.shape[-1] == d
        np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(d), q.shape),
                                   atol=1e-13)
    return check


def _check_perm(res, arrays):
    assert np.array_equal(host(res), _perm(8, 2, 2))


def _check_max_factors(res, arrays):
    assert res == 10


CASES = [
    Case("BlockDiagonal", lambda xp, blocks: ortho.BlockDiagonal(blocks), {"blocks": BLOCKS},
         check=lambda res, arrays: _check_bd_matrix(res.matrix(), arrays)),
    Case("BlockDiagonal.apply", lambda xp, blocks, x: ortho.BlockDiagonal(blocks).apply(x, side="right"),
         {"blocks": BLOCKS, "x": X_ROWS}, id="right", check=_check_bd_apply),
    Case("BlockDiagonal.apply", lambda xp, blocks, x: ortho.BlockDiagonal(blocks).apply(x, side="left"),
         {"blocks": BLOCKS, "x": X_COLS12}, id="left", check=_check_bd_apply_left),
    Case("BlockDiagonal.matrix", lambda xp, blocks: ortho.BlockDiagonal(blocks).matrix(),
         {"blocks": BLOCKS}, check=_check_bd_matrix),
    Case("BlockDiagonal.inverse",
         lambda xp, blocks, x: ortho.BlockDiagonal(blocks).inverse().apply(x, side="right"),
         {"blocks": BLOCKS, "x": X_ROWS}, check=_check_bd_inverse),
    Case("BlockDiagonal.from_matrix", lambda xp, Q: ortho.BlockDiagonal.from_matrix(Q, 4), {"Q": Q_DENSE},
         check=_check_from_matrix),
    Case("BlockDiagonal.from_params", lambda xp, p: ortho.BlockDiagonal.from_params(p, 3), {"p": P_BD},
         check=_check_bd_from_params),
    Case("BlockDiagonal.random", lambda xp: ortho.BlockDiagonal.random(12, block_size=4, rng=0, xp=xp), {},
         check=_check_orthogonal(12)),
    Case("Butterfly", lambda xp, blocks: ortho.Butterfly(blocks), {"blocks": BFLY},
         check=lambda res, arrays: _check_bf_matrix(res.matrix(), arrays)),
    Case("Butterfly.apply", lambda xp, blocks, x: ortho.Butterfly(blocks).apply(x), {"blocks": BFLY, "x": X_COLS},
         check=_check_bf_apply),
    Case("Butterfly.matrix", lambda xp, blocks: ortho.Butterfly(blocks).matrix(), {"blocks": BFLY},
         check=_check_bf_matrix),
    Case("Butterfly.inverse", lambda xp, blocks, x: ortho.Butterfly(blocks).inverse().apply(x),
         {"blocks": BFLY, "x": X_COLS}, check=_check_bf_inverse),
    Case("Butterfly.from_params", lambda xp, p: ortho.Butterfly.from_params(p, 2), {"p": P_BF},
         check=_check_bf_from_params),
    Case("Butterfly.random", lambda xp: ortho.Butterfly.random(16, block_size=4, rng=0, xp=xp), {},
         check=_check_orthogonal(16)),
    Case("Butterfly.permutation", lambda xp, blocks: ortho.Butterfly(blocks).permutation(2), {"blocks": BFLY},
         check=_check_perm),
    Case("Butterfly.max_factors", lambda xp: ortho.Butterfly.max_factors(4096, 8), {},
         check=_check_max_factors),
]
