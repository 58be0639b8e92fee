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


@njit(cache=True)
def spm_power_tries(V, V_T, idx, w, X0, max_iter, tol, adaptive, stall_limit, exact_tol):
    """Shifted power iteration on F(x) = ||V^T s(x)||^2 for all columns of ``X0`` at once.

    ``V`` (N x R, C order) and ``V_T`` (its C-ordered transpose) span the
    current subspace; ``idx``/``w`` are the multi-index table and sqrt
    multiplicities of Sym^n.  The starts are iterated together so the two
    products with ``V`` per step are small GEMMs (one pass over ``V``).
    The batch stops early once a start has converged to F >= 1 - exact_tol (an
    exact component: F <= 1, so no start can do better).
    Returns the final points (d x t), objectives, iteration counts,
    convergence flags and Riemannian gradient norms; every decision is taken
    per column exactly as in ``_power_xp`` (``_spm.py``).
    """
    d, t = X0.shape
    N, n = idx.shape
    fixed = n - 1.0
    X = X0.copy()
    S = np.empty((N, t))
    _coords(X, idx, w, S)
    A = np.dot(V_T, S)
    F = np.empty(t)
    _objective(A, F)
    iters = np.zeros(t, dtype=np.int64)
    done = np.zeros(t, dtype=np.bool_)
    best = np.full(t, np.inf)
    stall = np.zeros(t, dtype=np.int64)
    gnorm = np.full(t, np.inf)
    G = np.empty((d, t))
    gamma = np.empty(t)
    Xn = np.empty((d, t))
    Fn = np.empty(t)
    Xf = np.empty((d, t))
    Ff = np.empty(t)
    starts = np.array([0, d])
    counts = np.array([n])
    for it in range(max_iter + 1):
        _gradient(V, A, idx, w, X, starts, counts, G)
        all_done, exact = _check_convergence(G, X, F, done, best, stall, gnorm, tol, stall_limit,
                                             exact_tol)
        if it == max_iter or all_done or exact:
            break
        for j in range(t):
            gamma[j] = fixed * np.sqrt(max(0.0, 1.0 - F[j])) if adaptive else fixed
        _step(G, X, gamma, Xn, 0, d)
        _coords(Xn, idx, w, S)
        An = np.dot(V_T, S)
        _objective(An, Fn)
        if adaptive:
            # Safeguard: the fixed shift n - 1 makes every step an ascent step.
            _safeguard(G, X, F, done, fixed, 0, d, idx, w, V_T, S, gamma, Xn, An, Fn, Xf, Ff)
        for j in range(t):
            if not done[j]:
                X[:, j] = Xn[:, j]
                A[:, j] = An[:, j]
                F[j] = Fn[j]
                iters[j] += 1
    return X, F, iters, done, gnorm
