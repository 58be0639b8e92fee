"""Contract cases of the scipy.stats.qmc.QMCEngine interface of orthla's engines (``integers``)."""

import numpy as np

from orthla.qmc import DigitalNet, Halton, Lattice, Sobol

from ._case import Case, host

L_BOUNDS = np.array([0, -3, 2])
U_BOUNDS = np.array([4, 5, 9])
N = 8

_MAKE = {
    "Lattice": lambda xp: Lattice(3, generating_vector=[1, 3, 5], randomize=False, m_max=4, xp=xp),
    "DigitalNet": lambda xp: DigitalNet(3, generating_matrices=[[8, 4, 2, 1], [8, 12, 10, 15], [8, 4, 2, 1]],
                                        t=4, randomize=False, xp=xp),
    "Sobol": lambda xp: Sobol(3, randomize=False, order="gray", xp=xp),
    "Halton": lambda xp: Halton(3, randomize=False, xp=xp),
}


def _integers_check(name):
    def check(res, a):
        x = host(_MAKE[name](None).random(N))
        lo = np.broadcast_to(np.atleast_1d(np.asarray(a["l_bounds"], dtype=np.int64)), (3,))
        hi = np.broadcast_to(np.atleast_1d(np.asarray(a["u_bounds"], dtype=np.int64)), (3,))
        want = np.floor(x * (hi - lo) + lo).astype(np.int64)
        got = host(res)
        assert got.dtype == np.int64 and got.shape == (N, 3)
        np.testing.assert_array_equal(got, want)
        assert np.all((got >= lo) & (got < hi))

    return check


CASES = [
    Case(f"{name}.integers",
         lambda xp, l_bounds, u_bounds, name=name: _MAKE[name](xp).integers(l_bounds, u_bounds=u_bounds, n=N),
         {"l_bounds": L_BOUNDS, "u_bounds": U_BOUNDS}, check=_integers_check(name))
    for name in _MAKE
]
