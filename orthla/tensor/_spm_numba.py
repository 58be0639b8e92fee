"""Numba kernel for SPM's power iteration (imported lazily by ``_spm``)."""

import numpy as np
from numba import njit


@njit(cache=True)
def _evaluate(x, V_T, idx, w, s):
    # s = isometric coordinates of x^(x n); returns alpha = V^T s.
    N, n = idx.shape
    for I in range(N):
        p = w[I]
        for q in range(n):
            p *= x[idx[I, q]]
        s[I] = p
    return np.dot(V_T, s)


@njit(cache=True)
def spm_power_tries(V, V_T, idx, w, X0, max_iter, tol, adaptive, stall_limit):
    """Shifted power iteration on F(x) = ||V^T s(x)||^2 for each column of ``X0``.

    ``V`` (N x R, C order) and ``V_T`` (its C-ordered transpose) span the
    current subspace; ``idx``/``w`` are the multi-index table and sqrt
    multiplicities of Sym^n.  Returns the final points (d x t), objectives,
    iteration counts, convergence flags and Riemannian gradient norms.
    Mirrors ``_power_xp`` in ``_spm.py`` column by column.
    """
    d, t = X0.shape
    N, n = idx.shape
    fixed = n - 1.0
    X = X0.copy()
    Fs = np.zeros(t)
    iters = np.zeros(t, dtype=np.int64)
    done = np.zeros(t, dtype=np.bool_)
    gnorms = np.full(t, np.inf)
    s = np.empty(N)
    g = np.empty(d)
    xn = np.empty(d)
    for j in range(t):
        x = X[:, j].copy()
        a = _evaluate(x, V_T, idx, w, s)
        F = np.dot(a, a)
        best = np.inf
        stall = 0
        for it in range(max_iter + 1):
            y = np.dot(V, a)
            g[:] = 0.0
            for I in range(N):
                c = y[I] * w[I]
                for p in range(n):
                    loo = c
                    for q in range(n):
                        if q != p:
                            loo *= x[idx[I, q]]
                    g[idx[I, p]] += loo
            g /= n
            gn = 0.0
            for k in range(d):
                r = g[k] - F * x[k]
                gn += r * r
            gn = np.sqrt(gn)
            if gn < 0.999 * best:
                best, stall = gn, 0
            else:
                stall += 1
            if gn <= tol or (stall >= stall_limit and best <= 1e3 * tol):
                done[j] = True
                break
            if it == max_iter:
                break
            gamma = fixed * np.sqrt(max(0.0, 1.0 - F)) if adaptive else fixed
            xn[:] = g + gamma * x
            xn /= np.sqrt(np.dot(xn, xn))
            an = _evaluate(xn, V_T, idx, w, s)
            Fn = np.dot(an, an)
            if adaptive and Fn < F:
                # Safeguard: the fixed shift n - 1 makes the step an ascent step.
                xn[:] = g + fixed * x
                xn /= np.sqrt(np.dot(xn, xn))
                an = _evaluate(xn, V_T, idx, w, s)
                Fn = np.dot(an, an)
            x[:] = xn
            a = an
            F = Fn
            iters[j] += 1
        X[:, j] = x
        Fs[j] = F
        gnorms[j] = gn
    return X, Fs, iters, done, gnorms
