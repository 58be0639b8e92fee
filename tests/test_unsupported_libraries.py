"""JAX and Dask arrays are refused up front with a TypeError naming the library.

Every public callable with an array argument (the contract registry's cases) is called with that
argument as a JAX or a Dask array: the answer must be a ``TypeError`` that names the library, never
a raw internal error from deep inside an algorithm.  The calls that support Dask (issue #16; see
``tests/test_dask.py`` and "Dask" in docs/backends.md) are exempt: they must instead give the
NumPy result.
"""

import array_api_compat.numpy as np_xp
import numpy as np
import pytest
from contract.test_contract import CASES

LIBS = {"jax": ("jax.numpy", lambda m, a: m.asarray(a)),
        "dask": ("dask.array", lambda m, a: m.from_array(a))}
ARRAY_CASES = [c for c in CASES if c.arrays and "numpy" in c.backends]
#: Cases whose first array argument may be a Dask array (issue #16): KernelMatrix on Dask points
#: (kernel columns evaluated by Dask, results in NumPy) and rp_cholesky on such a KernelMatrix.
#: KronOperator @/solve and KronEigh.solve take Dask right-hand sides, but their cases pass the
#: factors first, and Dask factors stay refused.
DASK_SUPPORTED = {"rp_cholesky[kernel]", "KernelMatrix", "KernelMatrix.diag", "KernelMatrix.columns",
                  "KernelMatrix.rows", "KernelMatrix.block"}


#: scikit-learn estimators take any array-like and convert it themselves (``check_array``), as
#: sklearn's own do: a JAX or Dask array is converted to NumPy there, by the user's choice of API.
SKLEARN_FACING = ("IncrementalSVD",)


def _host(res):
    return np.asarray(res.F if hasattr(res, "F") else res)


@pytest.mark.parametrize("lib", sorted(LIBS))
@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c.label for c in ARRAY_CASES])
def test_refused_with_a_named_type_error(case, lib):
    if case.target.split(".")[0] in SKLEARN_FACING:
        pytest.skip("scikit-learn estimators convert array-likes themselves")
    modname, convert = LIBS[lib]
    mod = pytest.importorskip(modname)
    key = next(iter(case.arrays))
    arrays = {k: np.array(v) for k, v in case.arrays.items()}
    arrays[key] = convert(mod, arrays[key])
    if lib == "dask" and case.label in DASK_SUPPORTED:
        want = case.call(np_xp, **{k: np.array(v) for k, v in case.arrays.items()})
        np.testing.assert_array_equal(_host(case.call(np_xp, **arrays)), _host(want))
        return
    with pytest.raises(TypeError, match=lib):
        case.call(np_xp, **arrays)
