"""Numba kernel for MSPM's block power iteration (imported lazily by ``_mspm``)."""

import numpy as np
from numba import njit

from ._spm_numba import _check_convergence, _coords, _gradient, _objective, _safeguard, _step


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
    gamma = np.empty(t)
    for it in range(max_iter + 1):
        _gradient(V, A, idx, w, X, starts, counts, G)
        all_done, exact = _check_convergence(G, X, F, done, best, stall, gnorm, tol, stall_limit,
                                             exact_tol)
        if it == max_iter or all_done or exact:
            break
        for b in range(nb):
            if b > 0:
                _gradient(V, A, idx, w, X, starts, counts, G)
            lo, hi = starts[b], starts[b + 1]
            fixed = counts[b] - 1.0
            Xn[:, :] = X
            for j in range(t):
                gamma[j] = fixed * np.sqrt(max(0.0, 1.0 - F[j])) if adaptive else fixed
            _step(G, X, gamma, Xn, lo, hi)
            _coords(Xn, idx, w, S)
            An = np.dot(V_T, S)
            _objective(An, Fn)
            if adaptive and fixed > 0:
                # Safeguard: the fixed shift l_b - 1 makes the block step an ascent step.
                _safeguard(G, X, F, done, fixed, lo, hi, idx, w, V_T, S, gamma, Xn, An, Fn, Xf, Ff)
            for j in range(t):
                if not done[j]:
                    X[:, j] = Xn[:, j]
                    A[:, j] = An[:, j]
                    F[j] = Fn[j]
        for j in range(t):
            if not done[j]:
                iters[j] += 1
    return X, F, iters, done, gnorm
