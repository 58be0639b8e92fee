"""JAX and Dask arrays are refused up front with a TypeError naming the library.

Every public callable with an array argument (the contract registry's cases) is called with that
argument as a JAX or a Dask array: the answer must be a ``TypeError`` that names the library, never
a raw internal error from deep inside an algorithm.
"""

import array_api_compat.numpy as np_xp
import numpy as np
import pytest

from contract.test_contract import CASES

LIBS = {"jax": ("jax.numpy", lambda m, a: m.asarray(a)),
        "dask": ("dask.array", lambda m, a: m.from_array(a))}
ARRAY_CASES = [c for c in CASES if c.arrays and "numpy" in c.backends]


@pytest.mark.parametrize("lib", sorted(LIBS))
@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c.label for c in ARRAY_CASES])
def test_refused_with_a_named_type_error(case, lib):
    modname, convert = LIBS[lib]
    mod = pytest.importorskip(modname)
    key = next(iter(case.arrays))
    arrays = {k: np.array(v) for k, v in case.arrays.items()}
    arrays[key] = convert(mod, arrays[key])
    with pytest.raises(TypeError, match=lib):
        case.call(np_xp, **arrays)
