"""Numba kernel for SPM's power iteration (imported lazily by ``_spm``)."""

import numpy as np
from numba import njit

from ._spm import SAFEGUARD_TOL


@njit(cache=True)
def _coords(X, idx, w, S):
    # S[:, j] = isometric Sym^n coordinates of X[:, j]^(x n).
    N, n = idx.shape
    t = X.shape[1]
    for I in range(N):
        for j in range(t):
            p = w[I]
            for q in range(n):
                p *= X[idx[I, q], j]
            S[I, j] = p


@njit(cache=True)
def _objective(A, F):
    R, t = A.shape
    for j in range(t):
        s = 0.0
        for r in range(R):
            s += A[r, j] * A[r, j]
        F[j] = s


@njit(cache=True)
def _step(G, X, gamma, Xn, lo, hi):
    # Shifted power step on rows lo:hi of every column: Xn = normalize(G + gamma X) there.
    t = X.shape[1]
    for j in range(t):
        s = 0.0
        for k in range(lo, hi):
            v = G[k, j] + gamma[j] * X[k, j]
            Xn[k, j] = v
            s += v * v
        s = np.sqrt(s)
        for k in range(lo, hi):
            Xn[k, j] /= s


@njit(cache=True)
def _gradient(V, A, idx, w, X, starts, counts, G):
    # Half-gradients of F per block, grad_(x_b) F / (2 l_b), on the stacked variables
    # (SPM is the single block starts = (0, d), counts = (n,)).
    Y = np.dot(V, A)
    N, n = idx.shape
    t = X.shape[1]
    G[:, :] = 0.0
    for I in range(N):
        for j in range(t):
            c = Y[I, j] * w[I]
            for p in range(n):
                loo = c
                for q in range(n):
                    if q != p:
                        loo *= X[idx[I, q], j]
                G[idx[I, p], j] += loo
    for b in range(counts.size):
        G[starts[b]:starts[b + 1], :] /= counts[b]


@njit(cache=True)
def _check_convergence(G, X, F, done, best, stall, gnorm, tol, stall_limit, exact_tol):
    # Per-column stopping test on the Riemannian gradient norm (with stall detection).
    # Returns (all_done, exact): every start has converged / one is an exact component.
    D, t = X.shape
    all_done = True
    exact = False
    for j in range(t):
        if done[j]:
            exact = exact or F[j] >= 1.0 - exact_tol
            continue
        gn = 0.0
        for k in range(D):
            r = G[k, j] - F[j] * X[k, j]
            gn += r * r
        gn = np.sqrt(gn)
        if gn < 0.999 * best[j]:
            best[j] = gn
            stall[j] = 0
        else:
            stall[j] += 1
        gnorm[j] = gn
        if gn <= tol or (stall[j] >= stall_limit and best[j] <= 1e3 * tol):
            done[j] = True
            exact = exact or F[j] >= 1.0 - exact_tol
        else:
            all_done = False
    return all_done, exact


@njit(cache=True)
def _safeguard(G, X, F, done, fixed, lo, hi, idx, w, V_T, S, gamma, Xn, An, Fn, Xf, Ff):
    # Where the adaptive step lowered F, take the fixed-shift step on rows lo:hi
    # instead (an ascent step); Xn, An and Fn are updated in place.
    t = X.shape[1]
    worse = False
    for j in range(t):
        if Fn[j] < F[j] - SAFEGUARD_TOL and not done[j]:
            worse = True
    if not worse:
        return
    Xf[:, :] = X
    gamma[:] = fixed
    _step(G, X, gamma, Xf, lo, hi)
    _coords(Xf, idx, w, S)
    Af = np.dot(V_T, S)
    _objective(Af, Ff)
    for j in range(t):
        if Fn[j] < F[j] - SAFEGUARD_TOL:
            Xn[:, j] = Xf[:, j]
            An[:, j] = Af[:, j]
            Fn[j] = Ff[j]


# Reassociation lets LLVM vectorize the reductions; no NaN/Inf assumptions are made.
_FAST = {"reassoc", "contract", "nsz"}

# The SPM kernels below take the basis V of the current subspace as a buffer ``Vb`` and
# the number ``k0`` of its leading columns already deflated away (deflation drops the
# first column), so deflation works in place and nothing is copied between components:
# for n = 2 ``Vb`` is V (N x R0, C order; a power step is one pass over its rows), for
# n > 2 it is V^T (R0 x N, C order; the rows k0: are a contiguous block for BLAS).


@njit(cache=True, fastmath=_FAST, boundscheck=False)
def _quadratic_contraction(Vb, k0, w_inv, x, B):
    # n == 2: B[:, r] = M_r x for the symmetric matrices M_r with entries V[I, r] / w_I,
    # I = (i, j), i <= j: one pass over V, each row used for B[i] (row part) and B[j]
    # (column part).  Row views keep the index arithmetic out of the inner loops.
    d = x.shape[0]
    R = B.shape[1]
    B[:, :] = 0.0
    row = 0
    for i in range(d):
        bi = B[i]
        p = Vb[row, k0:]
        xi = x[i] * w_inv[row]
        for r in range(R):
            bi[r] += p[r] * xi
        row += 1
        for j in range(i + 1, d):
            p = Vb[row, k0:]
            c = w_inv[row]
            xi = x[i] * c
            xj = x[j] * c
            bj = B[j]
            for r in range(R):
                v = p[r]
                bi[r] += v * xj
                bj[r] += v * xi
            row += 1


@njit(cache=True, fastmath=_FAST, boundscheck=False)
def _contract_values(B, x, a, G):
    # a = B^T x (a_r = M_r x^n), G = B a (the half-gradient grad F / 2n); returns F = |a|^2.
    d, R = B.shape
    a[:] = 0.0
    for i in range(d):
        bi = B[i]
        xi = x[i]
        for r in range(R):
            a[r] += bi[r] * xi
    F = 0.0
    for r in range(R):
        F += a[r] * a[r]
    for i in range(d):
        bi = B[i]
        s = 0.0
        for r in range(R):
            s += bi[r] * a[r]
        G[i] = s
    return F


@njit(cache=True)
def _coords_one(x, idx, w, s):
    N, n = idx.shape
    for I in range(N):
        v = w[I]
        for q in range(n):
            v *= x[idx[I, q]]
        s[I] = v


@njit(cache=True)
def _evaluate(Vb, k0, idx, w, w_inv, x, B, a, G, s, Y):
    # F(x), a = V^T s(x) and G = grad F / 2n; for n == 2 also B (one pass over V),
    # for n > 2 also Y = V a (two BLAS passes and the scatter of the n partial derivatives).
    N, n = idx.shape
    if n == 2:
        _quadratic_contraction(Vb, k0, w_inv, x, B)
        return _contract_values(B, x, a, G)
    _coords_one(x, idx, w, s)
    Vk = Vb[k0:]
    a[:] = np.dot(Vk, s)
    Y[:] = np.dot(a, Vk)
    G[:] = 0.0
    for I in range(N):
        c = Y[I] * w[I] / n
        for p in range(n):
            loo = c
            for q in range(n):
                if q != p:
                    loo *= x[idx[I, q]]
            G[idx[I, p]] += loo
    F = 0.0
    for r in range(a.shape[0]):
        F += a[r] * a[r]
    return F


@njit(cache=True, fastmath=_FAST, boundscheck=False)
def _cholesky_solve(H, g, eta):
    # Solve H eta = g by Cholesky in place; False when H is not numerically positive definite.
    d = H.shape[0]
    for j in range(d):
        hj = H[j]
        s = hj[j]
        for k in range(j):
            s -= hj[k] * hj[k]
        if not s > 0.0:
            return False
        ljj = np.sqrt(s)
        hj[j] = ljj
        for i in range(j + 1, d):
            hi = H[i]
            t = hi[j]
            for k in range(j):
                t -= hi[k] * hj[k]
            hi[j] = t / ljj
    for i in range(d):
        hi = H[i]
        t = g[i]
        for k in range(i):
            t -= hi[k] * eta[k]
        eta[i] = t / hi[i]
    for i in range(d - 1, -1, -1):
        t = eta[i]
        for k in range(i + 1, d):
            t -= H[k, i] * eta[k]
        eta[i] = t / H[i, i]
    return True


@njit(cache=True, fastmath=_FAST, boundscheck=False)
def _quadratic_mix(Vb, k0, a, Y):
    # Y = V a on the rows of V (n == 2; V's columns k0: are not contiguous as a block).
    for I in range(Y.shape[0]):
        p = Vb[I, k0:]
        t = 0.0
        for r in range(a.shape[0]):
            t += p[r] * a[r]
        Y[I] = t


@njit(cache=True)
def _newton_point(Vb, k0, idx, w, x, F, G, a, B, Y, H, eta, xn):
    # Riemannian Newton step for F on the sphere: with B = [M_r x^(n-1)]_r and
    # K = sum_r a_r (n - 1) M_r x^(n-2), the Hessian / 2n on the tangent space is
    # P (n B B^T + K - F I) P (P = I - x x^T).  Solves (-P H P + x x^T) eta = G - F x
    # (eta is then tangent) and returns False, without a point, unless -P H P is
    # positive definite there: Newton then heads for a local maximum.  For n == 2, B
    # is the one of the last evaluation; for n > 2 it is formed here (B^T, R x d).
    d = x.shape[0]
    N, n = idx.shape
    if n == 2:
        _quadratic_mix(Vb, k0, a, Y)
        H[:, :] = n * np.dot(B, B.T)
    else:
        Vk = Vb[k0:]
        BT = np.zeros((Vk.shape[0], d))
        coef = np.empty((N, n))
        for I in range(N):
            for p in range(n):
                c = w[I] / n
                for q in range(n):
                    if q != p:
                        c *= x[idx[I, q]]
                coef[I, p] = c
        for r in range(Vk.shape[0]):
            vr = Vk[r]
            br = BT[r]
            for I in range(N):
                v = vr[I]
                for p in range(n):
                    br[idx[I, p]] += coef[I, p] * v
        H[:, :] = n * np.dot(BT.T, BT)
    for I in range(N):
        c = Y[I] * w[I] / n
        for p in range(n):
            for q in range(n):
                if q != p:
                    v = c
                    for t in range(n):
                        if t != p and t != q:
                            v *= x[idx[I, t]]
                    H[idx[I, p], idx[I, q]] += v
    for i in range(d):
        H[i, i] -= F
    h = np.dot(H, x)
    xhx = np.dot(x, h)
    for i in range(d):
        for j in range(d):
            H[i, j] = -(H[i, j] - x[i] * h[j] - h[i] * x[j] + xhx * x[i] * x[j]) + x[i] * x[j]
    g = G - F * x
    if not _cholesky_solve(H, g, eta):
        return False
    c = np.dot(x, eta)
    s = 0.0
    for i in range(d):
        v = x[i] + eta[i] - c * x[i]
        xn[i] = v
        s += v * v
    s = np.sqrt(s)
    if not s > 0.0:
        return False
    for i in range(d):
        xn[i] /= s
    return True


@njit(cache=True)
def _shifted_point(G, x, gamma, xn):
    s = 0.0
    for i in range(x.shape[0]):
        v = G[i] + gamma * x[i]
        xn[i] = v
        s += v * v
    s = np.sqrt(s)
    for i in range(x.shape[0]):
        xn[i] /= s


@njit(cache=True)
def spm_power_tries(Vb, k0, idx, w, X0, max_iter, tol, adaptive, stall_limit, exact_tol,
                    newton_gate, newton_wait):
    """Shifted power iteration on F(x) = ||V^T x^(x n)||^2 for every column of ``X0``.

    ``Vb``/``k0`` hold the basis V (N x R) of the current subspace (see above);
    ``idx``/``w`` are the multi-index table and sqrt multiplicities of Sym^n.  Each
    step of a start is one pass over V for n = 2 (orders 3 and 4: the symmetric
    matrices of V's columns contracted with x give F and its gradient together) and
    two BLAS passes otherwise.  With the adaptive shift, a start with
    ``1 - F <= newton_gate`` tries a Riemannian Newton step first, kept when the
    tangent Hessian is negative definite and F does not decrease (otherwise the shifted
    step is taken and Newton waits ``newton_wait`` steps): near a component the linear
    rate of the power step becomes quadratic.  The batch stops early once a start has
    converged to F >= 1 - exact_tol (an exact component: F <= 1, so no start can do
    better).  Returns the final points (d x t), objectives, iteration counts,
    convergence flags and Riemannian gradient norms; every decision is taken per
    column exactly as in ``_power_xp`` (``_spm.py``).
    """
    d, t = X0.shape
    N, n = idx.shape
    R = (Vb.shape[1] if n == 2 else Vb.shape[0]) - k0
    fixed = n - 1.0
    w_inv = 1.0 / w
    X = np.ascontiguousarray(X0.T)  # (t, d): each start contiguous
    Bs = np.zeros((t, 2, d, R if n == 2 else 0))
    cur = np.zeros(t, dtype=np.int64)
    A = np.empty((t, R))
    Ys = np.empty((t, N))
    F = np.empty(t)
    G = np.empty((t, d))
    s = np.empty(N)
    a_new = np.empty(R)
    G_new = np.empty(d)
    Y_new = np.empty(N)
    x_new = np.empty(d)
    H = np.empty((d, d))
    eta = np.empty(d)
    for j in range(t):
        F[j] = _evaluate(Vb, k0, idx, w, w_inv, X[j], Bs[j, 0], A[j], G[j], s, Ys[j])
    iters = np.zeros(t, dtype=np.int64)
    done = np.zeros(t, dtype=np.bool_)
    best = np.full(t, np.inf)
    stall = np.zeros(t, dtype=np.int64)
    gnorm = np.full(t, np.inf)
    wait = np.zeros(t, dtype=np.int64)
    for it in range(max_iter + 1):
        # Starts are rows here, columns in the shared test: transposed views.
        all_done, exact = _check_convergence(G.T, X.T, F, done, best, stall, gnorm, tol, stall_limit,
                                             exact_tol)
        if it == max_iter or all_done or exact:
            break
        for j in range(t):
            if done[j]:
                continue
            x = X[j]
            Bnew = Bs[j, 1 - cur[j]]
            taken = False
            if adaptive and wait[j] == 0 and 1.0 - F[j] <= newton_gate:
                if _newton_point(Vb, k0, idx, w, x, F[j], G[j], A[j], Bs[j, cur[j]], Ys[j], H,
                                 eta, x_new):
                    Fn = _evaluate(Vb, k0, idx, w, w_inv, x_new, Bnew, a_new, G_new, s, Y_new)
                    taken = Fn >= F[j] - SAFEGUARD_TOL
                if not taken:
                    wait[j] = newton_wait
            elif wait[j] > 0:
                wait[j] -= 1
            if not taken:
                gamma = fixed * np.sqrt(max(0.0, 1.0 - F[j])) if adaptive else fixed
                _shifted_point(G[j], x, gamma, x_new)
                Fn = _evaluate(Vb, k0, idx, w, w_inv, x_new, Bnew, a_new, G_new, s, Y_new)
                if adaptive and Fn < F[j] - SAFEGUARD_TOL:
                    # Safeguard: the fixed shift n - 1 makes every step an ascent step.
                    _shifted_point(G[j], x, fixed, x_new)
                    Fn = _evaluate(Vb, k0, idx, w, w_inv, x_new, Bnew, a_new, G_new, s, Y_new)
            X[j] = x_new
            F[j] = Fn
            A[j] = a_new
            G[j] = G_new
            Ys[j] = Y_new
            cur[j] = 1 - cur[j]
            iters[j] += 1
    return np.ascontiguousarray(X.T), F, iters, done, gnorm


@njit(cache=True, fastmath=_FAST, boundscheck=False)
def spm_alpha(Vb, k0, idx, w, x):
    """``alpha = V^T x^(x n)`` (isometric coordinates) for the basis held in ``Vb``/``k0``."""
    N, n = idx.shape
    s = np.empty(N)
    _coords_one(x, idx, w, s)
    if n > 2:
        return np.dot(Vb[k0:], s)
    alpha = np.zeros(Vb.shape[1] - k0)
    for I in range(N):
        p = Vb[I, k0:]
        sI = s[I]
        for r in range(alpha.shape[0]):
            alpha[r] += p[r] * sI
    return alpha


@njit(cache=True, fastmath=_FAST, boundscheck=False)
def spm_deflate(Vb, Cb, k0, n, vw, bw, vv, bv):
    """In place on the blocks ``k0:`` of the basis and of ``Cb``: ``C <- H_W C H_V`` and
    ``V <- V H_V`` with ``H = I - b v v^T`` (the caller then drops the first row and
    column, ``k0 += 1``).  V: one pass for n = 2 (``Vb`` is V), a GEMV and a rank-1
    update of V^T otherwise; C: three passes."""
    R = vw.shape[0]
    u = np.zeros(R)
    for i in range(R):  # u = vw^T C
        ci = Cb[k0 + i, k0:]
        c = vw[i]
        for r in range(R):
            u[r] += c * ci[r]
    for i in range(R):  # C -= bw vw u^T, then C -= bv (C vv) vv^T row by row
        ci = Cb[k0 + i, k0:]
        c = bw * vw[i]
        t = 0.0
        for r in range(R):
            v = ci[r] - c * u[r]
            ci[r] = v
            t += v * vv[r]
        t *= bv
        for r in range(R):
            ci[r] -= t * vv[r]
    if n == 2:  # Vb is V (N x R0): row by row
        for I in range(Vb.shape[0]):
            p = Vb[I, k0:]
            t = 0.0
            for r in range(R):
                t += p[r] * vv[r]
            t *= bv
            for r in range(R):
                p[r] -= t * vv[r]
    else:  # Vb is V^T (R0 x N)
        Vk = Vb[k0:]
        w = np.dot(vv, Vk)
        for r in range(R):
            c = bv * vv[r]
            row = Vk[r]
            for I in range(row.shape[0]):
                row[I] -= c * w[I]


#: Most power steps (with S^2) towards the top eigenvector of a random slice, and the
#: change below which they stop.
_SLICE_STEPS, _SLICE_TOL = 30, 1e-3


@njit(cache=True)
def spm_slice_starts(Vb, k0, idx, w, G, U):
    """Starts from random slices of the subspace (see ``_slice_starts`` in ``_spm``).

    For each column c: ``y = V G[:, c]`` (one pass over V), the d x d matrix
    ``S = sum_I y_I w_I sum_(p != q) e_(i_p) e_(i_q)^T prod_(t != p, q) U[i_t, c]`` and its
    eigenvector of largest |eigenvalue|.  Returns (d, k).
    """
    N, n = idx.shape
    d, k = U.shape
    X0 = np.empty((d, k))
    y = np.empty(N)
    S = np.empty((d, d))
    for c in range(k):
        g = np.ascontiguousarray(G[:, c])
        if n == 2:
            _quadratic_mix(Vb, k0, g, y)
        else:
            y[:] = np.dot(g, Vb[k0:])
        S[:, :] = 0.0
        for I in range(N):
            v0 = y[I] * w[I]
            for p in range(n):
                for q in range(n):
                    if q != p:
                        v = v0
                        for t in range(n):
                            if t != p and t != q:
                                v *= U[idx[I, t], c]
                        S[idx[I, p], idx[I, q]] += v
        # Eigenvector of largest |eigenvalue|: power iteration with S^2 from U[:, c]
        # (a start need not be exact; an eigen-solver costs more than the steps it saves).
        x = U[:, c] / np.sqrt(np.dot(U[:, c], U[:, c]))
        for _ in range(_SLICE_STEPS):
            z = np.dot(S, np.dot(S, x))
            nz = np.sqrt(np.dot(z, z))
            if not nz > 0.0:
                break
            z /= nz
            change = np.sqrt(np.dot(z - x, z - x))
            x = z
            if change < _SLICE_TOL:
                break
        X0[:, c] = x
    return X0


@njit(cache=True)
def spm_accept_even(Vb, Cb, k0, n, idx, w, x, deflate):
    """Accept the component ``x`` of an even-order tensor in one call: ``alpha = V^T
    x^(x n)``, the weight ``1 / (alpha^T C alpha)``, the canonical sign (largest-magnitude
    entry positive: returned, the caller flips x) and, when ``deflate``, the Householder
    deflation of V and C (``spm_deflate``; the caller then moves ``k0`` on).  The same
    steps as the array-API path of ``spm``, without a Python call per step."""
    alpha = spm_alpha(Vb, k0, idx, w, x)
    R = alpha.shape[0]
    u = np.empty(R)
    for i in range(R):
        ci = Cb[k0 + i, k0:]
        t = 0.0
        for r in range(R):
            t += ci[r] * alpha[r]
        u[i] = t
    lam = 1.0 / np.dot(alpha, u)
    j = 0
    for i in range(x.shape[0]):
        if abs(x[i]) > abs(x[j]):
            j = i
    sign = -1.0 if x[j] < 0 else 1.0
    if deflate:
        v = u.copy()
        v[0] += (1.0 if u[0] >= 0 else -1.0) * np.sqrt(np.dot(u, u))
        b = 2.0 / np.dot(v, v)
        spm_deflate(Vb, Cb, k0, n, v, b, v, b)
    return lam, sign


@njit(cache=True)
def spm_one_start(Vb, k0, idx, w, G, U, found, max_iter, tol, adaptive, stall_limit, exact_tol,
                  newton_gate, newton_wait, duplicate_cos):
    """One start of ``_extract_one`` in one call: the slice start from the Gaussian draws
    ``G``/``U`` (``spm_slice_starts``), its power iteration (``spm_power_tries``), the
    normalized point and whether it duplicates a column of ``found`` (|cos| above
    ``duplicate_cos``).  The same arithmetic as those kernels and the NumPy steps between
    them in ``_spm``, up to the summation order of the norm.  Returns ``(x, F, iterations, converged, grad_norm, duplicate)``."""
    X0 = spm_slice_starts(Vb, k0, idx, w, G, U)
    X, F, iters, done, gnorm = spm_power_tries(Vb, k0, idx, w, X0, max_iter, tol, adaptive,
                                               stall_limit, exact_tol, newton_gate, newton_wait)
    d = X.shape[0]
    nrm = 0.0
    for i in range(d):
        nrm += X[i, 0] * X[i, 0]
    nrm = np.sqrt(nrm)
    x = np.empty(d)
    for i in range(d):
        x[i] = X[i, 0] / nrm
    dup = False
    for c in range(found.shape[1]):
        s = 0.0
        for i in range(d):
            s += found[i, c] * x[i]
        if abs(s) > duplicate_cos:
            dup = True
    return x, F[0], iters[0], done[0], gnorm[0], dup
