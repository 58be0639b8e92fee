"""The row-cyclic order of one-sided Jacobi: blocked pairs (Numba) and anti-diagonal rounds (xp)."""

import numpy as np
import pytest
from test_jacobi_svd import matrix

from orthla.pivoting._jacobi_common import row_cyclic_pairs, row_cyclic_rounds


def per_index_order(ps, qs, n):
    """For each index, the sequence of its partners in the order the pairs come."""
    seq = [[] for _ in range(n)]
    for p, q in zip(ps.tolist(), qs.tolist(), strict=True):
        seq[p].append(q)
        seq[q].append(p)
    return seq


@pytest.mark.parametrize("n", [2, 3, 7, 8, 9, 16, 33, 70])
@pytest.mark.parametrize("block", [3, 4, 64])
def test_blocked_order_is_the_row_cyclic_sweep(n, block):
    ps, qs = row_cyclic_pairs(n, block)
    p, q = np.triu_indices(n, 1)
    assert len(ps) == n * (n - 1) // 2 and np.all(ps < qs)
    assert len(set(zip(ps.tolist(), qs.tolist(), strict=True))) == len(ps)
    # every index meets its partners in the plain row-cyclic order: same rotations
    assert per_index_order(ps, qs, n) == per_index_order(p, q, n)
    assert not ps.flags.writeable


@pytest.mark.parametrize("n", [2, 3, 8, 9, 33])
def test_anti_diagonal_rounds_replay_the_row_cyclic_sweep(n):
    rounds = row_cyclic_rounds(n)
    assert len(rounds) == max(2 * n - 3, 0)
    for a, b in rounds:
        assert len(np.union1d(a, b)) == 2 * len(a)  # disjoint pairs
    ps = np.concatenate([a for a, _ in rounds])
    qs = np.concatenate([b for _, b in rounds])
    p, q = np.triu_indices(n, 1)
    assert per_index_order(ps, qs, n) == per_index_order(p, q, n)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_kernel_blocked_equals_plain_row_cyclic(needs_numba, dtype):
    from orthla.pivoting._jacobi_numba import one_sided_pairs

    n = 30
    a = np.asfortranarray(matrix(np.random.default_rng(9), 35, n, dtype))
    tol = 1e-15
    p, q = (x.astype(np.int64) for x in np.triu_indices(n, 1))
    g1, g2 = a.copy(order="F"), a.copy(order="F")
    none = np.zeros((0, 0), dtype=dtype)
    for _ in range(3):
        c1, w1 = one_sided_pairs(g1, none, *row_cyclic_pairs(n, 4), tol, False, True)
        c2, w2 = one_sided_pairs(g2, none, p, q, tol, False, True)
        assert c1 == c2 > 0 and w1 == pytest.approx(w2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=0, atol=1e-13 * np.linalg.norm(a))


def test_row_cyclic_rounds_on_numpy_round_robin_elsewhere(monkeypatch):
    # the xp engine follows the Numba engine's order on NumPy; other libraries (GPUs) keep
    # the round-robin's n - 1 large batches
    import orthla.pivoting._jacobi_onesided as onesided
    from orthla.pivoting import jacobi_svd

    def refuse(n):
        raise AssertionError("row-cyclic rounds requested")

    monkeypatch.setattr(onesided, "row_cyclic_rounds", refuse)
    a = matrix(np.random.default_rng(1), 9, 7, np.float64)
    with pytest.raises(AssertionError, match="row-cyclic rounds requested"):
        jacobi_svd(a, engine="xp", precondition=None)
    strict = pytest.importorskip("array_api_strict")
    s = jacobi_svd(strict.asarray(a), precondition=None).S
    np.testing.assert_allclose(np.asarray(s), np.linalg.svd(a, compute_uv=False), rtol=1e-13)
