"""Reference: Walsh series of the digitally shift-invariant kernels, summed by the top bits of k."""

import itertools
import numpy as np


def walsh_series(v, T, alpha, P=36):
    """sum_{k>=1} r(k) wal_k(x), x = v 2^-T, by the top set positions of k (positions <= P)."""
    digits = [(v >> (T - 1 - a)) & 1 for a in range(T)] + [0] * (P - T)
    sig = np.array([1.0] + [(-1.0) ** dg for dg in digits])  # sig[p], p = 1..P
    lead0 = np.array([1.0] + [float(all(dg == 0 for dg in digits[: p - 1])) for p in range(1, P + 1)])
    total = 0.0
    for s in range(1, alpha + 1):
        comb = np.array(list(itertools.combinations(range(1, P + 1), s)))
        term = 2.0 ** -comb.sum(1) * np.prod(sig[comb], axis=1)
        if s == alpha:  # lower bits free: they sum to 2^(p_min - 1) if x has no digit above p_min
            pmin = comb.min(1)
            term = term * 2.0 ** (pmin - 1) * lead0[pmin]
        total += term.sum()
    return total
