"""LAPACK routines of SciPy's Cython LAPACK as ctypes functions, for the Numba kernels of the
lean path (imported lazily).  Passed to a kernel as arguments, not read as globals: a
function-typed argument keeps the kernel cacheable, a global ctypes pointer would not."""

import ctypes

from numba.extending import get_cython_function_address

INT = ctypes.POINTER(ctypes.c_int)
DOUBLE = ctypes.POINTER(ctypes.c_double)
CHAR = ctypes.POINTER(ctypes.c_ubyte)  # a Fortran CHARACTER: one byte


def lapack_function(name, *args):
    """``name`` (e.g. ``"dgeqrf"``) as a ctypes function of the pointer types ``args``."""
    return ctypes.CFUNCTYPE(None, *args)(get_cython_function_address("scipy.linalg.cython_lapack", name))
