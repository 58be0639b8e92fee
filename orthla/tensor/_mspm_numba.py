"""Numba kernel for MSPM's block power iteration (imported lazily by ``_mspm``)."""

import numpy as np
from numba import njit

from ._spm_numba import _coords, _objective


@njit(cache=True)
def _gradient(V, A, idx, w, X, starts, counts, G):
    # Half-gradients of F per block, grad_(x_b) F / (2 l_b), on the stacked variables.
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
def mspm_power_tries(V, V_T, idx, w, starts, counts, X0, max_iter, tol, adaptive, stall_limit,
                     exact_tol):
    """Block Gauss-Seidel shifted power iteration on F = ||V^T s(x_1, ..., x_p)||^2.

    The blocks' points are stacked in ``X0`` (rows ``starts[b]:starts[b+1]`` hold
    block b, one column per start).  ``idx`` (N x l) indexes the stacked rows, so
    the coordinates of the Kronecker product of the blocks' symmetric powers are
    monomials ``w_I prod_q x[idx[I, q]]``, exactly as in SPM.  Every decision is
    taken per column as in ``_power_blocks`` (``_mspm.py``).
    """
    D, t = X0.shape
    nb = counts.size
    X = X0.copy()
    S = np.empty((idx.shape[0], t))
    _coords(X, idx, w, S)
    A = np.dot(V_T, S)
    F = np.empty(t)
    _objective(A, F)
    iters = np.zeros(t, dtype=np.int64)
    done = np.zeros(t, dtype=np.bool_)
    best = np.full(t, np.inf)
    stall = np.zeros(t, dtype=np.int64)
    gnorm = np.full(t, np.inf)
    G = np.empty((D, t))
    Xn = np.empty((D, t))
    Xf = np.empty((D, t))
    Fn = np.empty(t)
    Ff = np.empty(t)
    for it in range(max_iter + 1):
        _gradient(V, A, idx, w, X, starts, counts, G)
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
        if it == max_iter or all_done or exact:
            break
        for b in range(nb):
            if b > 0:
                _gradient(V, A, idx, w, X, starts, counts, G)
            lo, hi = starts[b], starts[b + 1]
            fixed = counts[b] - 1.0
            Xn[:, :] = X
            for j in range(t):
                gamma = fixed * np.sqrt(max(0.0, 1.0 - F[j])) if adaptive else fixed
                s = 0.0
                for k in range(lo, hi):
                    v = G[k, j] + gamma * X[k, j]
                    Xn[k, j] = v
                    s += v * v
                s = np.sqrt(s)
                for k in range(lo, hi):
                    Xn[k, j] /= s
            _coords(Xn, idx, w, S)
            An = np.dot(V_T, S)
            _objective(An, Fn)
            if adaptive and fixed > 0:
                worse = False
                for j in range(t):
                    if Fn[j] < F[j] and not done[j]:
                        worse = True
                if worse:
                    # Safeguard: the fixed shift l_b - 1 makes the block step an ascent step.
                    Xf[:, :] = X
                    for j in range(t):
                        s = 0.0
                        for k in range(lo, hi):
                            v = G[k, j] + fixed * X[k, j]
                            Xf[k, j] = v
                            s += v * v
                        s = np.sqrt(s)
                        for k in range(lo, hi):
                            Xf[k, j] /= s
                    _coords(Xf, idx, w, S)
                    Af = np.dot(V_T, S)
                    _objective(Af, Ff)
                    for j in range(t):
                        if Fn[j] < F[j]:
                            Xn[:, j] = Xf[:, j]
                            An[:, j] = Af[:, j]
                            Fn[j] = Ff[j]
            for j in range(t):
                if not done[j]:
                    X[:, j] = Xn[:, j]
                    A[:, j] = An[:, j]
                    F[j] = Fn[j]
        for j in range(t):
            if not done[j]:
                iters[j] += 1
    return X, F, iters, done, gnorm
