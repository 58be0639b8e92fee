"""The tiled cyclic order of the Jacobi solvers (``_jacobi_common.tiled_sweep``).

The production tile (32 columns) only matters from n = 33 on; here it is shrunk so that
small, mpmath-checkable matrices run through several tiles.
"""

import numpy as np
import pytest
from test_jacobi_eigh import graded_spd, hermitian, mp_eigvalsh
from test_jacobi_svd import column_graded, matrix, mp_singular_values

from orthla._testing import to_host
from orthla.pivoting import jacobi_eigh, jacobi_svd
from orthla.pivoting._jacobi_common import round_robin, tiled_sweep

# the kernels' negligible-column / zero-diagonal floor for float64 (_jacobi_common.underflow_floor)
FLOOR = np.finfo(float).tiny / np.finfo(float).eps


@pytest.fixture
def small_tiles(monkeypatch):
    monkeypatch.setattr("orthla.pivoting._jacobi_common.TILE", 4)


def _pairs(rounds):
    return [(a, b) for p, q in rounds for a, b in zip(p.tolist(), q.tolist(), strict=True)]


@pytest.mark.parametrize("n", [2, 3, 7, 8, 9, 16, 33, 70])
@pytest.mark.parametrize("tile", [3, 4, 32])
def test_schedule_covers_every_pair_once_in_disjoint_rounds(n, tile):
    sweep = tiled_sweep(n, tile)
    rounds = sweep.rounds
    pairs = _pairs(rounds)
    assert len(pairs) == n * (n - 1) // 2 and len(set(pairs)) == len(pairs)
    assert all(p < q for p, q in pairs)
    for p, q in rounds:
        assert len(np.union1d(p, q)) == 2 * len(p)  # a round rotates disjoint pairs
    ps, qs, pair_ptr, cols, col_ptr = sweep[1:]
    assert sorted(zip(ps.tolist(), qs.tolist(), strict=True)) == sorted(pairs)
    for t in range(len(pair_ptr) - 1):  # a task's pairs stay inside its columns
        own = set(cols[col_ptr[t]:col_ptr[t + 1]].tolist())
        assert set(ps[pair_ptr[t]:pair_ptr[t + 1]].tolist()) | set(qs[pair_ptr[t]:pair_ptr[t + 1]].tolist()) <= own
    # tasks of a phase are disjoint, so task order and round order apply the same rotations:
    # replaying the task order round by round must meet each round's pairs before the next
    position = {pq: i for i, pq in enumerate(pairs)}
    seen = [position[pq] for pq in zip(ps.tolist(), qs.tolist(), strict=True)]
    round_of = np.repeat(np.arange(len(rounds)), [len(p) for p, _ in rounds])
    for t in range(len(pair_ptr) - 1):
        r = round_of[seen[pair_ptr[t]:pair_ptr[t + 1]]]
        assert np.all(np.diff(r) >= 0)  # inside a task, sub-rounds come in round order
    if n <= tile:
        assert _pairs(rounds) == _pairs(round_robin(n))


def test_task_kernel_matches_pair_kernel(needs_numba):
    # the task kernel defers row copies; the pair kernel copies rows at every rotation
    from orthla.pivoting._jacobi_numba import two_sided_pairs, two_sided_tasks

    rng = np.random.default_rng(5)
    for dtype in (np.float64, np.complex128):
        a = hermitian(rng, 23, dtype)
        ps, qs, pair_ptr, cols, col_ptr = tiled_sweep(23, 5)[1:]
        tol = 1e-15
        a1, a2 = np.asfortranarray(a.copy()), np.asfortranarray(a.copy())
        v1, v2 = np.eye(23, dtype=dtype, order="F"), np.eye(23, dtype=dtype, order="F")
        for _ in range(3):
            c1 = two_sided_tasks(a1, v1, ps, qs, pair_ptr, cols, col_ptr, tol, FLOOR, True)
            c2 = two_sided_pairs(a2, v2, ps, qs, tol, FLOOR, True)
            assert c1 == c2 > 0
            np.testing.assert_allclose(a1, a2, rtol=0, atol=1e-13 * np.abs(a).max())
            np.testing.assert_allclose(v1, v2, rtol=0, atol=1e-13)
            np.testing.assert_array_equal(a1, a1.conj().T)  # rows mirrored after each task


@pytest.mark.parametrize("engine", ["numba", "xp"])
def test_graded_relative_accuracy_through_tiles(small_tiles, engine, request):
    if engine == "numba":
        request.getfixturevalue("needs_numba")
    h = graded_spd(16, seed=3)
    ref = mp_eigvalsh(h, dps=80)
    for method in ("two-sided", "cholesky-one-sided"):
        w, _v, info = jacobi_eigh(h, method=method, engine=engine)
        assert info.converged
        assert np.max(np.abs(w - ref) / ref) <= 1e-12, method
    a = column_graded(seed=0)
    ref = mp_singular_values(a, dps=60)
    for precondition in ("qrcp", None):
        s = jacobi_svd(a, precondition=precondition, engine=engine).S
        assert np.max(np.abs(s - ref) / ref) <= 1e-12, precondition


def test_engines_agree_through_tiles(small_tiles, needs_numba):
    rng = np.random.default_rng(12)
    for dtype in (np.float64, np.complex128):
        a = hermitian(rng, 15, dtype)
        rn, rx = (jacobi_eigh(a, engine=e) for e in ("numba", "xp"))
        assert abs(rn.info.rotations - rx.info.rotations) <= 2
        np.testing.assert_allclose(rn.eigenvalues, rx.eigenvalues, rtol=0, atol=1e-13 * np.abs(rx.eigenvalues).max())
        np.testing.assert_allclose(rn.eigenvectors, rx.eigenvectors, rtol=0, atol=1e-11)
        b = matrix(rng, 14, 11, dtype)
        sn, sx = (jacobi_svd(b, engine=e) for e in ("numba", "xp"))
        assert abs(sn.info.rotations - sx.info.rotations) <= 2
        np.testing.assert_allclose(sn.S, sx.S, rtol=1e-13)
        np.testing.assert_allclose(to_host(sn.U), to_host(sx.U), rtol=0, atol=1e-11)


def test_numba_relative_offdiag_matches_xp(needs_numba):
    import array_api_compat.numpy as xp

    from orthla.pivoting._jacobi_eigh import relative_offdiag
    from orthla.pivoting._jacobi_numba import relative_offdiag as offdiag_nb

    rng = np.random.default_rng(2)
    for dtype in (np.float64, np.complex128):
        a = hermitian(rng, 9, dtype)
        assert offdiag_nb(a, 0.0) == pytest.approx(relative_offdiag(a, xp), rel=1e-15)
        assert offdiag_nb(a, FLOOR) == pytest.approx(relative_offdiag(a, xp, FLOOR), rel=1e-15)
    a = np.diag([2.0, 0.0, -3.0])
    assert offdiag_nb(a, 0.0) == relative_offdiag(a, xp) == 0.0
    a[0, 1] = a[1, 0] = 1e-300  # nonzero against a zero diagonal entry
    assert offdiag_nb(a, 0.0) == relative_offdiag(a, xp) == np.inf
    # with the floor the zero diagonal counts as FLOOR: a finite measure, the same in both
    want = 1e-300 / (np.sqrt(2.0) * np.sqrt(FLOOR))
    assert offdiag_nb(a, FLOOR) == pytest.approx(want, rel=1e-15)
    assert relative_offdiag(a, xp, FLOOR) == pytest.approx(want, rel=1e-15)
    assert offdiag_nb(np.ones((1, 1)), FLOOR) == 0.0


def test_graded_100_cholesky_route_agrees_with_two_sided():
    # Regression: the one-sided kernel keeps column norms by formula; with t < 0 the
    # q-side norm shrinks and must be refreshed too (it once reached 0 and divided by it).
    # n = 100 runs through four production tiles; the two routes share no kernel.
    h = graded_spd(100, seed=0)
    w2 = jacobi_eigh(h, eigvals_only=True).eigenvalues
    w1, _, info = jacobi_eigh(h, method="cholesky-one-sided")
    assert info.converged and np.all(w2 > 0)
    assert np.max(np.abs(w1 - w2) / w2) <= 1e-11  # both O(n eps kappa(A)) ~ 2e-11 apart at worst
