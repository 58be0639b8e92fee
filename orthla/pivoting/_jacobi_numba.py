"""Numba kernels for two-sided and one-sided Jacobi (imported lazily).

Matrices are Fortran-ordered so that the column updates, which carry the work,
run over contiguous memory.  The rotation is the one of
``_jacobi_common.rotation_xp``: ``J = [[c, s e], [-s conj(e), c]]``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def _angle(app, aqq, absb):
    tau = (aqq - app) / (2.0 * absb)
    t = 1.0 / (abs(tau) + np.hypot(1.0, tau))
    if tau < 0.0:
        t = -t
    c = 1.0 / np.sqrt(1.0 + t * t)
    return t, c, t * c


@njit(cache=True)
def _pivot(a, p, q, tol, floor):
    """The rotation that zeroes a[p, q], or ``go=False`` when the relative test skips it.

    The test is ``|a_pq| > tol sqrt(max(|a_pp|, floor)) sqrt(max(|a_qq|, floor))`` (the
    measure of ``relative_offdiag``; ``floor`` keeps the angle finite next to a zero diagonal).
    Returns ``(go, c, se, sce, new_app, new_aqq)``: ``J = [[c, se], [-sce, c]]`` and the
    exact diagonal of the rotated 2x2 block (set directly, as the relative-accuracy
    analysis assumes).
    """
    app = a[p, p].real
    aqq = a[q, q].real
    apq = a[p, q]
    absb = abs(apq)
    if not absb > tol * np.sqrt(max(abs(app), floor)) * np.sqrt(max(abs(aqq), floor)):
        return False, 1.0, 0.0 * apq, 0.0 * apq, app, aqq
    t, c, s = _angle(app, aqq, absb)
    e = apq / absb
    return True, c, s * e, s * np.conj(e), app - t * absb, aqq + t * absb


@njit(cache=True)
def two_sided_pairs(a, v, ps, qs, tol, floor, want_v):
    """Apply ``a <- J^H a J`` (and ``v <- v J``) for each pair in turn; return rotations done.

    Columns p, q are updated with arithmetic (contiguous in Fortran order); rows
    p, q are then copied from them (the result is Hermitian), and the 2x2 pivot
    block is set to its exact diagonal form, as the relative-accuracy analysis
    assumes.  (Applying a whole round of disjoint pairs as one column pass and one
    row pass was measured no faster at n = 500.)
    """
    n = a.shape[0]
    count = 0
    for idx in range(ps.shape[0]):
        p = ps[idx]
        q = qs[idx]
        go, c, se, sce, new_pp, new_qq = _pivot(a, p, q, tol, floor)
        if not go:
            continue
        count += 1
        _rotate_pair(a, p, q, c, se, sce)
        for k in range(n):
            a[p, k] = np.conj(a[k, p])
            a[q, k] = np.conj(a[k, q])
        a[p, p] = new_pp
        a[q, q] = new_qq
        a[p, q] = 0.0
        a[q, p] = 0.0
        if want_v:
            _rotate_pair(v, p, q, c, se, sce)
    return count


@njit(cache=True)
def relative_offdiag(a, floor):
    """``max_{i != j} |a_ij| / sqrt(max(|a_ii|, floor) max(|a_jj|, floor))`` (inf if a nonzero
    a_ij meets a zero denominator, possible only with ``floor = 0``).

    One pass over the columns; the array-API version (``_jacobi_eigh.relative_offdiag``)
    builds several n x n temporaries and cost 15% of a 500 x 500 solve.
    """
    n = a.shape[0]
    d = np.empty(n)
    for j in range(n):
        d[j] = np.sqrt(max(abs(a[j, j].real), floor))
    worst = 0.0
    for j in range(n):
        for i in range(n):
            x = abs(a[i, j])
            if i == j or x == 0.0:
                continue
            den = d[i] * d[j]
            if den == 0.0:  # floor = 0: a nonzero a_ij next to a zero diagonal
                return np.inf
            if x > worst * den:
                worst = x / den
    return worst


@njit(cache=True)
def two_sided_tasks(a, v, ps, qs, pair_ptr, cols, col_ptr, tol, floor, want_v):
    """``two_sided_pairs`` for a cyclic order cut into tasks, without strided row copies per rotation.

    Task t rotates pairs among its columns ``cols[col_ptr[t]:col_ptr[t+1]]`` only.  Each
    rotation updates columns p, q over all rows (contiguous) but rows p, q only inside
    the task's columns: the rest of those rows is read by no rotation of the task, and
    is copied from the (Hermitian) columns once when the task ends.  The matrix is thus
    whole between tasks, which may share columns (``row_cyclic_tasks``: jacobi_eigh's
    cyclic order) or not (``tiled_sweep``).  The column loops are the one-sided kernel's
    branch-free helpers (``_rotate_pair``/``_rotate_pairs``): ``want_v`` picks one outside
    the k-loop, since a flag inside it blocked vectorization in the one-sided kernel.
    """
    n = a.shape[0]
    count = 0
    for task in range(pair_ptr.shape[0] - 1):
        c0 = col_ptr[task]
        c1 = col_ptr[task + 1]
        done = 0
        for idx in range(pair_ptr[task], pair_ptr[task + 1]):
            p = ps[idx]
            q = qs[idx]
            go, c, se, sce, new_pp, new_qq = _pivot(a, p, q, tol, floor)
            if not go:
                continue
            done += 1
            if want_v:  # one pass over the columns of a and v
                _rotate_pairs(a, v, p, q, c, se, sce)
            else:
                _rotate_pair(a, p, q, c, se, sce)
            for j in range(c0, c1):
                k = cols[j]
                a[p, k] = np.conj(a[k, p])
                a[q, k] = np.conj(a[k, q])
            a[p, p] = new_pp
            a[q, q] = new_qq
            a[p, q] = 0.0
            a[q, p] = 0.0
        if done:
            for j in range(c0, c1):
                p = cols[j]
                for k in range(n):
                    a[p, k] = np.conj(a[k, p])
        count += done
    return count


@njit(cache=True, fastmath={"reassoc", "contract"})
def _sq_norm(g, j):
    acc = 0.0
    for k in range(g.shape[0]):
        x = g[k, j]
        acc += x.real * x.real + x.imag * x.imag
    return acc


@njit(cache=True, fastmath={"reassoc", "contract"})
def _rotate_pair(g, p, q, c, se, sce):
    # A loop of its own, free of branches: with the V update behind a flag in the same
    # loop, LLVM left the no-V case unvectorized (2x slower per sweep at n = 500).
    for k in range(g.shape[0]):
        x = g[k, p]
        y = g[k, q]
        g[k, p] = c * x - sce * y
        g[k, q] = se * x + c * y


@njit(cache=True, fastmath={"reassoc", "contract"})
def _rotate_pairs(g, v, p, q, c, se, sce):
    # the same rotation of columns p, q of g and of v (same row count), in one pass
    for k in range(g.shape[0]):
        x = g[k, p]
        y = g[k, q]
        g[k, p] = c * x - sce * y
        g[k, q] = se * x + c * y
        x = v[k, p]
        y = v[k, q]
        v[k, p] = c * x - sce * y
        v[k, q] = se * x + c * y


@njit(cache=True, fastmath={"reassoc", "contract"})
def one_sided_pairs(g, v, ps, qs, tol, floor, want_v, apply):
    """One-sided (Hestenes) Jacobi: orthogonalize columns p, q of ``g`` for each pair.

    Returns ``(rotations, max_cos)``: rotations applied and the largest
    ``|g_p^H g_q| / (||g_p|| ||g_q||)`` met before rotating; a pair is rotated exactly when
    its cosine exceeds ``tol``.  A pair with a column of squared norm at most ``floor``
    (negligible: ``_jacobi_common.underflow_floor``) has cosine 0 and is skipped, as LAPACK
    ``*gesvj`` skips zero columns.  With ``apply=False`` nothing is modified (a convergence check).

    Squared column norms are computed once per call and then updated with the exact
    2x2 formulas ``||g_p||^2 - t |g_p^H g_q|`` and ``||g_q||^2 + t |g_p^H g_q|`` (as
    LAPACK ``*gesvj``), so a pair costs one dot product instead of three; a norm that
    drops below a quarter of its old value (either one: t may be negative) is
    recomputed, which bounds the cancellation in the update.  ``reassoc`` lets LLVM vectorize the loops; NaN/Inf semantics are
    kept (no ``nnan``/``ninf``).
    """
    m = g.shape[0]
    n = g.shape[1]
    nrm = np.empty(n)
    for j in range(n):
        nrm[j] = _sq_norm(g, j)
    count = 0
    worst = 0.0
    fused = want_v and v.shape[0] == m  # square g (Jacobi on R^H): one pass over g and v
    for idx in range(ps.shape[0]):
        p = ps[idx]
        q = qs[idx]
        alpha = nrm[p]
        beta = nrm[q]
        if not (alpha > floor and beta > floor):
            continue
        gamma = g[0, p] * 0.0
        for k in range(m):
            gamma += np.conj(g[k, p]) * g[k, q]
        absb = abs(gamma)
        cos = absb / (np.sqrt(alpha) * np.sqrt(beta))
        if cos > worst:
            worst = cos
        if not cos > tol:
            continue
        count += 1
        if not apply:
            continue
        t, c, s = _angle(alpha, beta, absb)
        e = gamma / absb
        se = s * e
        sce = s * np.conj(e)
        if fused:
            _rotate_pairs(g, v, p, q, c, se, sce)
        else:
            _rotate_pair(g, p, q, c, se, sce)
            if want_v:
                _rotate_pair(v, p, q, c, se, sce)
        # t < 0 swaps the roles: the norm that shrinks is recomputed if it shrank a lot
        new_p = alpha - t * absb
        new_q = beta + t * absb
        nrm[p] = new_p if new_p > 0.25 * alpha else _sq_norm(g, p)
        nrm[q] = new_q if new_q > 0.25 * beta else _sq_norm(g, q)
    return count, worst


@njit(cache=True)
def zero_negligible_columns(g, floor):
    """Set to zero the columns of ``g`` whose squared norm is at most ``floor``."""
    for j in range(g.shape[1]):
        if _sq_norm(g, j) <= floor:
            for k in range(g.shape[0]):
                g[k, j] = 0.0
