"""The row-cyclic order of the Jacobi solvers: blocked pairs and tasks (Numba), anti-diagonal rounds (xp)."""

import numpy as np
import pytest
from test_jacobi_eigh import hermitian
from test_jacobi_svd import matrix

from orthla.pivoting._jacobi_common import row_cyclic_pairs, row_cyclic_rounds, row_cyclic_tasks

# the kernels' negligible-column / zero-diagonal floor for float64 (_jacobi_common.underflow_floor)
FLOOR = np.finfo(float).tiny / np.finfo(float).eps


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
        c1, w1 = one_sided_pairs(g1, none, *row_cyclic_pairs(n, 4), tol, FLOOR, False, True)
        c2, w2 = one_sided_pairs(g2, none, p, q, tol, FLOOR, False, True)
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


# --- two-sided Jacobi (jacobi_eigh) ------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 7, 8, 9, 16, 33, 70])
@pytest.mark.parametrize("block", [3, 4, 32])
def test_tasks_cut_the_blocked_row_cyclic_sweep(n, block):
    sweep = row_cyclic_tasks(n, block)
    ps, qs, pair_ptr, cols, col_ptr = sweep[1:]
    bp, bq = row_cyclic_pairs(n, block)
    np.testing.assert_array_equal(ps, bp)
    np.testing.assert_array_equal(qs, bq)
    assert pair_ptr[0] == 0 and pair_ptr[-1] == len(ps) and len(pair_ptr) == len(col_ptr)
    for t in range(len(pair_ptr) - 1):  # a task's pairs stay inside its columns
        own = cols[col_ptr[t]:col_ptr[t + 1]].tolist()
        assert len(set(own)) == len(own)
        used = set(ps[pair_ptr[t]:pair_ptr[t + 1]].tolist()) | set(qs[pair_ptr[t]:pair_ptr[t + 1]].tolist())
        assert used <= set(own)
    assert not (pair_ptr.flags.writeable or cols.flags.writeable or col_ptr.flags.writeable)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("want_v", [True, False])
def test_task_kernel_blocked_equals_plain_row_cyclic(needs_numba, dtype, want_v):
    # blocked tasks (rows mirrored once per task) against the pair kernel on the plain
    # row-by-row order (rows copied at every rotation): the same rotations
    from orthla.pivoting._jacobi_numba import two_sided_pairs, two_sided_tasks

    n = 23
    a = hermitian(np.random.default_rng(5), n, dtype)
    p, q = (x.astype(np.int64) for x in np.triu_indices(n, 1))
    tol = 1e-15
    a1, a2 = np.asfortranarray(a.copy()), np.asfortranarray(a.copy())
    eye = np.eye(n, dtype=dtype, order="F") if want_v else np.zeros((0, 0), dtype=dtype)
    v1, v2 = eye.copy(order="F"), eye.copy(order="F")
    for _ in range(3):
        c1 = two_sided_tasks(a1, v1, *row_cyclic_tasks(n, 5)[1:], tol, FLOOR, want_v)
        c2 = two_sided_pairs(a2, v2, p, q, tol, FLOOR, want_v)
        assert c1 == c2 > 0
        np.testing.assert_allclose(a1, a2, rtol=0, atol=1e-13 * np.abs(a).max())
        np.testing.assert_allclose(v1, v2, rtol=0, atol=1e-13)
        np.testing.assert_array_equal(a1, a1.conj().T)  # rows mirrored after each task


def test_row_cyclic_needs_fewer_rotations_than_round_robin(needs_numba):
    # why jacobi_eigh's cyclic order is row by row: fewer rotations (4.4% here at n = 256,
    # 7.6% and one sweep less at n = 500; the gain grows with n, it is < 2% below n = 128)
    from orthla.pivoting._jacobi_common import tiled_sweep
    from orthla.pivoting._jacobi_numba import relative_offdiag, two_sided_tasks

    n = 256
    tol = np.sqrt(n) * np.finfo(float).eps
    none = np.zeros((0, 0))
    counts = [0, 0]
    for seed in (0, 1):
        a = hermitian(np.random.default_rng(seed), n, np.float64)
        for i, sweep in enumerate((row_cyclic_tasks(n, 32), tiled_sweep(n, 32))):
            w = np.asfortranarray(a.copy())
            while relative_offdiag(w, FLOOR) > tol:
                counts[i] += two_sided_tasks(w, none, *sweep[1:], tol, FLOOR, False)
    assert counts[0] < 0.98 * counts[1]


def test_eigh_row_cyclic_rounds_on_numpy_round_robin_elsewhere(monkeypatch):
    import orthla.pivoting._jacobi_eigh as eigh

    def refuse(n):
        raise AssertionError("row-cyclic rounds requested")

    monkeypatch.setattr(eigh, "row_cyclic_rounds", refuse)
    a = hermitian(np.random.default_rng(1), 9, np.float64)
    with pytest.raises(AssertionError, match="row-cyclic rounds requested"):
        eigh.jacobi_eigh(a, engine="xp")
    strict = pytest.importorskip("array_api_strict")
    w = eigh.jacobi_eigh(strict.asarray(a), eigvals_only=True).eigenvalues
    np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(a), rtol=0, atol=1e-13 * np.abs(a).max())
