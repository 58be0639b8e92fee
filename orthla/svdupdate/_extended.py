"""Zha-Simon for sparse row batches on the extended right basis ``V = V' K_v`` (Deng et al.).

The residual ``R = E^T - V C`` (``C = V^T E^T``) of a batch of ``p`` sparse rows is never
formed.  Its Gram matrix, scaled by the row norms ``D`` (``G = D^-1 R^T R D^-1``), splits it:

* strong directions keep at least ``EXTENDED_MIN_RESIDUAL`` of their energy outside
  ``range(V)`` (relative to ``max(1, lambda_max(G))``): ``Q_s = R Gamma_s`` stays implicit,
  with ``Gamma_s = D^-1 L^-T`` from the Cholesky factor of ``G`` when LAPACK's condition
  estimate certifies all of ``G`` (the common case), else ``D^-1 Y_s lam_s^-1/2`` from
  its eigenvectors.  The Gram matrix gives ``Q_s`` to about ``eps / lam_s`` (the
  cancellation in ``E E^T - C^T C``, and the factorization's backward error), so it is
  orthonormal to ``64 eps`` at worst.
* weak directions (rows mostly inside ``range(V)``, or nearly parallel rows): ``R D^-1 Y_w``
  is formed explicitly (``O(n r q_w)``), its columns normalized, projected once more
  against ``V`` and ``Q_s``, and orthonormalized by a QR with the usual rank threshold.

Then ``V_new = V G_1 + Q_s G_2s + Q_w G_2w`` is held as ``K_v <- K_v (G_1 - C Gamma_s G_2s)``
and ``V' <- V' + (E^T Gamma_s G_2s + Q_w G_2w) K_v^-1`` (a solve): only the rows of ``V'``
in the batch's columns change, plus a rank-``q_w`` term over all rows when the batch has
weak directions.  Cost ``O(u r^2 + p^3 + (r + p)^3 + n r q_w)`` for ``u`` touched columns,
against ``O(n r (r + p))`` for the explicit update.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.linalg import lapack

from ._operand import binary_exponent

#: Strong residual directions keep at least this share of their rows' energy outside
#: ``range(V)`` (relative to the largest scaled Gram eigenvalue when that exceeds one):
#: the Gram matrix gives them to ``eps / share``, at most ``64 eps`` here, below the
#: default ``ortho_tol`` (at least ``100 eps``).
EXTENDED_MIN_RESIDUAL = 1.0 / 64

#: A batch with at most this many entries on its touched columns (p x u) is handled
#: dense there: SciPy's per-product overhead (~0.1 ms) outweighs the flops it saves.
DENSE_TOUCHED_MAX = 4096


def _touched_block(data, indptr, col, p, u):
    """A CSR batch (``data``, ``indptr``; ``col``: the new index of each non-zero's column)
    on its ``u`` touched columns, and its transpose: dense when small, else SciPy sparse."""
    if p * u <= DENSE_TOUCHED_MAX:
        Ec = np.zeros((p, u))
        rows = np.repeat(np.arange(p), np.diff(indptr))
        np.add.at(Ec, (rows, col), data)  # sums duplicate entries, as SciPy does
        return Ec, Ec.T
    Ec = sp.csr_array((data, col, indptr), shape=(p, u))
    return Ec, Ec.T


def _coordinates(Vb, Kv, VtV, W):
    """``(V^T W, least-squares coordinates of W in range(V))`` for ``V = V' K_v``.

    ``VtV`` (``V^T V``, known from the tracked Gram matrix) turns ``V^T W`` into the
    least-squares coordinates by one Newton step (``V^T V = I + O(ortho_tol)``).
    """
    a = Kv.T @ (Vb.T @ W)
    return a, (a if VtV is None else 2.0 * a - VtV @ a)


def _weak_basis(Vb, Kv, VtV, Ec, EcT, uid, C, Gamma_s, Ww, Zw, tol):
    """Orthonormal basis of the weak part ``R Ww Zw`` of the rows (explicit, n x q_w).

    ``R Ww`` is formed explicitly; its columns are normalized (they are orthogonal in
    exact arithmetic, so the normalized block is well conditioned and one projection
    pass against ``V`` and ``Q_s`` leaves them orthogonal to rounding, however much
    cancellation there was), then a QR and the SVD of the coefficients keep the
    directions above ``tol``.  Returns ``(Q_w, B_w, a, b)`` with
    ``R Ww Zw = Q_w B_w + V a + Q_s b`` up to the dropped directions (``a``, ``b``:
    what the projection removed).
    """
    CGs = C @ Gamma_s
    W = -(Vb @ (Kv @ (C @ Ww)))
    W[uid] += EcT @ Ww  # Ec: the batch on its touched columns (sparse), EcT = Ec^T
    nu = np.linalg.norm(W, axis=0)
    nu = np.where(nu > 0, nu, 1.0)
    W /= nu
    a_raw, a = _coordinates(Vb, Kv, VtV, W)
    # Q_s^T W = Gamma_s^T (E W - C^T V^T W), from the touched rows of W only.
    b = Gamma_s.T @ (Ec @ W[uid]) - CGs.T @ a_raw
    W -= Vb @ (Kv @ (a - CGs @ b))
    W[uid] -= EcT @ (Gamma_s @ b)
    Qh, T = np.linalg.qr(W)
    X, sig, Zt = np.linalg.svd(T @ (nu[:, None] * Zw), full_matrices=False)
    q = int(np.sum(sig > tol))
    return Qh @ X[:, :q], sig[:q, None] * Zt[:q], a @ (nu[:, None] * Zw), b @ (nu[:, None] * Zw)


def _split(G, dl, live, p):
    """Strong and weak residual directions from the row-scaled Gram matrix ``G`` (live rows).

    Returns ``(Gamma_s, B_s, W_w, Z_w)``: ``Q_s = R Gamma_s`` and ``B_s = Q_s^T R``; ``W_w``
    (``R W_w`` spans the weak directions) and ``Z_w`` (``R = Q_s B_s + R W_w Z_w``), or
    ``None`` for both when every direction is strong.  A well-conditioned ``G`` (the common
    case: rows with most of their energy outside ``range(V)``) is certified by its Cholesky
    factor and LAPACK's condition estimate (``O(p^2)`` after the ``O(p^3 / 3)`` factor),
    with a safety factor 2 on the estimate; otherwise its eigenvectors split it.
    """
    bound = max(1.0, float(np.max(np.sum(np.abs(G), axis=0))))   # >= lambda_max
    try:
        L = scipy.linalg.cholesky(G, lower=True, check_finite=False)
        rcond, info = lapack.dpocon(L, bound, uplo="L")
    except np.linalg.LinAlgError:
        rcond, info = 0.0, -1
    # rcond ~ 1 / (||G||_1 ||G^-1||_1) and ||G^-1||_2 <= ||G^-1||_1 (G symmetric).
    if info == 0 and rcond * bound >= 2.0 * EXTENDED_MIN_RESIDUAL * bound:
        Linv = scipy.linalg.solve_triangular(L, np.eye(L.shape[0]), lower=True, check_finite=False)
        Gamma_s = np.zeros((p, L.shape[0]))
        Gamma_s[live] = Linv.T / dl[:, None]                 # D^-1 L^-T
        Bs = np.zeros((L.shape[0], p))
        Bs[:, live] = L.T * dl[None, :]                      # L^T D
        return Gamma_s, Bs, None, None
    lam, Y = np.linalg.eigh(G)
    strong = lam >= EXTENDED_MIN_RESIDUAL * max(1.0, float(lam[-1]))
    # In p-space: D^-1 Y (the residual's coordinates) and Y^T D (the rows' coordinates).
    DinvY = np.zeros((p, Y.shape[1]))
    DinvY[live] = Y / dl[:, None]
    Z = np.zeros((Y.shape[1], p))
    Z[:, live] = Y.T * dl[None, :]
    Gamma_s = DinvY[:, strong] / np.sqrt(lam[strong])[None, :]
    Bs = np.sqrt(lam[strong])[:, None] * Z[strong]
    if np.all(strong):
        return Gamma_s, Bs, None, None
    return Gamma_s, Bs, DinvY[:, ~strong], Z[~strong]


def _orth(X):
    """Orthonormal basis of the columns of a small ``X`` (economic Householder QR)."""
    return scipy.linalg.qr(X, mode="economic", overwrite_a=True, check_finite=False)[0]


def _lanczos_basis(G, l, rng, p, live):
    """Orthonormal basis (live x l') of the Krylov space ``K_l(G, z)`` (Lanczos, full
    reorthogonalization twice, a random restart when the space is exhausted).

    ``G = R^T R`` on the live rows: ``l`` Golub-Kahan-Lanczos steps on ``R`` from the
    right vector ``z`` span ``R K_l(R^T R, z)``, so the Krylov space of ``G`` in the
    ``p``-dimensional row space is all that is needed.
    """
    q0 = G.shape[0]
    l = min(l, q0)
    Z = np.zeros((q0, l))
    z = rng.standard_normal(p)[live]
    j = tries = 0
    before = float(np.linalg.norm(z))
    while j < l and tries < 2 * l + 1:
        if j:
            Zj = Z[:, :j]
            z = z - Zj @ (Zj.T @ z)
            z = z - Zj @ (Zj.T @ z)
        nz = float(np.linalg.norm(z))
        if not nz > 1e-12 * before:
            # breakdown: K(G, z) is invariant; continue from a random vector
            tries += 1
            z = rng.standard_normal(p)[live]
            before = float(np.linalg.norm(z))
            continue
        Z[:, j] = z / nz
        j += 1
        z = G @ Z[:, j - 1]
        before = float(np.linalg.norm(z))
        if before == 0.0:
            z, before = Z[:, j - 1], 1.0  # G Z_j = 0: projects to zero, restarts
    return Z[:, :j]


def _krylov_split(G, dl, live, p, method, l, t, rng, tol):
    """``(Gamma, B)`` of ``l`` GKL or randomized-power-iteration directions of ``R``.

    ``G`` is the residual's Gram matrix ``R^T R`` on the live rows (unscaled), ``dl``
    the live row norms.  The subspace is found in the ``p``-dimensional row space
    (Lanczos on ``G`` for ``"gkl"``, ``t`` power passes ``G^t Omega`` with a QR after
    each for ``"rpi"``: the spans of ``R K_l(R^T R, z)`` and ``R (R^T R)^t Omega`` that
    Vecharynski-Saad and Yamazaki et al. build in ``n`` dimensions), then a
    Rayleigh-Ritz step ``S^T G S = X diag(lam) X^T`` gives ``Q = R S X lam^-1/2``
    (``Gamma = S X lam^-1/2``, ``B = Q^T R = Gamma^T G``).  Directions with
    ``sqrt(lam) <= tol`` are dropped.  Strong directions keep at least
    ``EXTENDED_MIN_RESIDUAL`` of their rows' energy ``||D y||^2`` outside ``range(V)``
    (the Gram matrix gives them to ``64 eps``); the others are returned as ``Y_w``
    (``R Y_w`` spans them) for the caller to form explicitly.  Returns
    ``(Gamma_s, B_s, Y_w or None)``.
    """
    if method == "rpi":
        S = _orth(rng.standard_normal((p, min(l, p)))[live])
        for _ in range(t):
            S = _orth(G @ S)
    else:
        S = _lanczos_basis(G, l, rng, p, live)
    H = S.T @ (G @ S)
    lam, X = np.linalg.eigh((H + H.T) / 2)
    keep = lam > tol * tol
    Y = S @ X[:, keep]
    lam = lam[keep]
    strong = lam >= EXTENDED_MIN_RESIDUAL * np.sum((dl[:, None] * Y) ** 2, axis=0)
    Yw = None
    if not np.all(strong):
        Yw = np.zeros((p, int(np.sum(~strong))))
        Yw[live] = Y[:, ~strong]
        Y, lam = Y[:, strong], lam[strong]
    root = np.sqrt(lam)
    Gamma = np.zeros((p, lam.size))
    Gamma[live] = Y / root[None, :]
    B = np.zeros((lam.size, p))
    B[:, live] = (Y.T @ G) / root[:, None]
    return Gamma, B, Yw


def append_sparse_rows_extended(state, E, method="exact", l=10, t=2):
    """Rows ``E`` (SciPy sparse) appended on the extended right basis; see the module notes.

    ``method="gkl"``/``"rpi"`` keep ``l`` Golub-Kahan-Lanczos or randomized power
    iteration directions of the residual instead of all of it (:func:`_krylov_split`);
    the batch stays sparse and the residual implicit, as for the exact method.

    Returns ``(F, s, record, V)``: ``V`` is ``None`` with the change of ``V'`` staged in
    ``state._pending_v`` for the commit, or the explicit new right factor when
    ``cond(K_v)`` would exceed ``state.max_cond_k``.  Returns ``None`` when the extended
    form does not apply (an empty batch, a tracked rank that would change); the caller
    then takes the explicit path.
    """
    from ._truncated import UpdateRecord

    r = state._s.shape[0]
    s = state._s * state.decay
    Vb = state._Vb
    held = state._Kv is not None
    Kv = state._Kv if held else np.eye(r, dtype=Vb.dtype)
    E = E.tocsr()
    p = E.shape[0]
    uid, inv = np.unique(E.indices, return_inverse=True)
    amax = float(np.max(np.abs(E.data))) if E.nnz else 0.0
    if uid.size == 0 or amax == 0.0:
        return None
    # The batch scaled by a power of two (exactly) so that its Gram matrix neither
    # underflows nor overflows; everything below is invariant to that scale except the
    # core matrix, whose new rows get it back (``up``).  Work in float64 throughout.
    exponent = binary_exponent(amax)
    down, up = np.ldexp(1.0, -exponent), np.ldexp(1.0, exponent)
    Ec, EcT = _touched_block(E.data.astype(np.float64) * down, E.indptr, inv.reshape(-1), p,
                             uid.size)
    EV = Ec @ Vb[uid]                               # p x r = E V' (touched rows)
    C = (EV @ Kv).T                                 # r x p = V^T E^T
    Gm = Ec @ EcT
    Gm = Gm.toarray() if sp.issparse(Gm) else Gm
    if held:
        # V^T V = K_v^T G_v K_v is known, so V need not be orthonormal to rounding: the
        # least-squares coordinates C' = (V^T V)^-1 C (one Newton step, O(p r^2)) leave a
        # residual E^T - V C' orthogonal to range(V) whatever V's loss of orthogonality,
        # and its Gram matrix E E^T - 2 C'^T C + C'^T (V^T V) C' is exact.  Without this
        # the loss of V would be amplified by ||c|| / ||residual|| at every weak row.
        VtV = Kv.T @ (state._Gv @ Kv)
        C_ls = 2.0 * C - VtV @ C
        resid_gram = Gm - 2.0 * (C_ls.T @ C) + C_ls.T @ (VtV @ C_ls)
        C = C_ls
    else:
        VtV = None
        resid_gram = Gm - C.T @ C
    d = np.sqrt(np.diag(Gm))
    live = np.flatnonzero(d > 0)                    # empty rows add no direction
    if live.size == 0:  # stored zeros only (or entries that cancel): nothing new
        return None
    dl = d[live]
    Gs = resid_gram[np.ix_(live, live)]
    if method == "exact":
        Gamma_s, Bs, Ww, Zw = _split(np.divide((Gs + Gs.T) / 2, np.multiply.outer(dl, dl)), dl,
                                     live, p)
    else:
        rtol, scale = state._tolerance(p, max(float(s[0]) * down,
                                              float(np.sqrt(np.sum(Gm.diagonal())))))
        Gamma_s, Bs, Ww = _krylov_split((Gs + Gs.T) / 2, dl, live, p, method, l, t, state._rng,
                                        rtol * scale)
        Zw = None if Ww is None else Ww.T
    Bw = np.zeros((0, p))
    Qw = None
    if Ww is not None:
        rtol, scale = state._tolerance(p, max(float(s[0]) * down, float(np.sqrt(np.sum(Gm.diagonal())))))
        Qw, Bw, a, b = _weak_basis(Vb, Kv, VtV, Ec, EcT, uid, C, Gamma_s, Ww, Zw, rtol * scale)
        if method == "exact":
            # E^T = V C + R, R = Q_s B_s + (R D^-1 Y_w) Z_w: what the projection removed from
            # the weak part goes into the coordinates of the rows (exact algebra, as in
            # Gram-Schmidt with reorthogonalization).
            Ccore, Bs = C + a, Bs + b
        else:
            # GKL/RPI: C, B_s = Q_s^T R and Q_w^T E^T (Q_w is orthogonal to V and Q_s) are
            # the exact coordinates of the rows on [V, Q_s, Q_w] (touched rows of Q_w only).
            Bw = np.asarray(Ec @ Qw[uid]).T
            Ccore = C
        if Qw.shape[1] == 0:
            Qw = None
    else:
        Ccore = C
    qs, qw = Bs.shape[0], Bw.shape[0]
    K = np.zeros((r + p, r + qs + qw))
    K.ravel()[:r * (r + qs + qw + 1):r + qs + qw + 1] = s  # diag(s) in the leading block
    K[r:, :r] = up * Ccore.T
    K[r:, r:r + qs] = up * Bs.T
    K[r:, r + qs:] = up * Bw.T
    F, theta, Gt = scipy.linalg.svd(K, full_matrices=False, overwrite_a=True, check_finite=False)
    if min(state._r_target, theta.shape[0]) != r:
        return None
    G1, G2s, G2w = Gt[:r, :r].T, Gt[:r, r:r + qs].T, Gt[:r, r + qs:].T
    CG = C @ Gamma_s
    Kv_new = Kv @ (G1 - CG @ G2s)
    # cond(K_v M) <= cond(K_v) cond(M) for M = G1 - C Gamma_s G2s, and V M = V_new -
    # E^T Gamma_s G2s - Q_w G2w with V, V_new orthonormal and E^T Gamma_s = Q_s + V C Gamma_s,
    # so the singular values of M lie within 1 -+ x, x = (1 + ||C Gamma_s||) ||G2s|| + ||G2w||:
    # an O(p r) bound; the r x r SVD for the exact value runs only when it exceeds max_cond_k.
    x = (1.0 + float(np.linalg.norm(CG))) * float(np.linalg.norm(G2s)) + float(np.linalg.norm(G2w))
    cond = state._cond_kv * (1.0 + x) / (1.0 - x) if x < 1.0 else math.inf
    rec = UpdateRecord("add_rows", f"{method}-extended", (0, 0), qs + qw, math.nan, math.nan, math.nan,
                       False, path="sparse")
    if cond > state.max_cond_k:
        sv = np.linalg.svd(Kv_new, compute_uv=False)
        cond = sv[0] / sv[-1] if sv[-1] > 0 else math.inf
        if not cond <= state.max_cond_k:
            # A new direction displaced an old one: form V_new explicitly (no solve with
            # the ill-conditioned K_v; the next batch enters the extended form afresh).
            V_new = Vb @ Kv_new
            V_new[uid] += EcT @ (Gamma_s @ G2s)
            if Qw is not None:
                V_new += Qw @ G2w
            dt = state._s.dtype
            return F[:, :r].astype(dt), theta[:r].astype(dt), rec, V_new.astype(dt)
    # E^T Gamma_s G2s K_v^-1 on the touched rows: solve on the p x r factor first.
    Z = np.linalg.solve(Kv_new.T, (Gamma_s @ G2s).T).T             # p x r
    delta = EcT @ Z                                                 # u x r, rank <= p
    Gv = state._Gv if held else Vb.T @ Vb  # computed once on entering the extended form
    if Qw is None:
        if not held:
            # Entering the extended form: own V', whose rows will change in place.
            Vb = np.array(Vb, order="C", copy=True)
        target = Vb
    else:
        # Weak directions: a rank-q_w change of every row of V' (a new array, so the
        # commit has nothing to undo).
        H = np.linalg.solve(Kv_new.T, G2w.T).T                    # q_w x r
        VtQ = Vb.T @ Qw
        Gv = Gv + VtQ @ H + H.T @ VtQ.T + H.T @ ((Qw.T @ Qw) @ H)
        target = Vb + Qw @ H
    # V'^T V' after the touched rows change by delta = E_u^T Z: with E V'_old known (p x r)
    # and E E^T = Gm, the update is O(p r^2) instead of O(u r^2) for u touched columns.
    EVt = EV if Qw is None else EV + (Ec @ Qw[uid]) @ H                # E (rows of target)
    S = EVt.T @ Z
    Gv_new = Gv + S + S.T + Z.T @ (Gm @ Z)
    if Qw is not None:
        target[uid] += delta
        uid = delta = None
    dt = state._s.dtype  # the state's dtype back (the work above is float64)
    state._pending_v = (target.astype(dt, copy=False), uid,
                        None if delta is None else delta.astype(dt), Kv_new.astype(dt),
                        Gv_new.astype(dt), float(cond))
    return F[:, :r].astype(dt), theta[:r].astype(dt), rec, None
