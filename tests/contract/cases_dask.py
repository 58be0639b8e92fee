"""Contract cases of the Dask entry points (issue #16): ``qmc.to_dask``.

Its inputs are an engine and sizes, not arrays (``arrays={}``); the check compares the computed
lazy array with ``engine.random(n)`` bit for bit.
"""

import numpy as np
import pytest

from orthla.qmc import Halton, Sobol, to_dask

from ._case import Case, host


def _to_dask_call(make, n, chunks):
    def call(xp):
        pytest.importorskip("dask.array")
        return to_dask(make(xp), n, chunks=chunks).compute()

    return call


def _same_as_random(make, n):
    def check(res, a):
        np.testing.assert_array_equal(host(res), host(make(None).random(n)))

    return check


_SOBOL = lambda xp: Sobol(3, rng=5, xp=xp)  # noqa: E731
_HALTON = lambda xp: Halton(2, rng=6, replications=2, xp=xp)  # noqa: E731

CASES = [
    Case("to_dask", _to_dask_call(_SOBOL, 64, 24), {}, id="sobol", check=_same_as_random(_SOBOL, 64),
         backends=("numpy",)),
    Case("to_dask", _to_dask_call(_HALTON, 50, (10, 0, 40)), {}, id="halton-replications",
         check=_same_as_random(_HALTON, 50), backends=("numpy",)),
]
