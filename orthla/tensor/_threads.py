"""Single-threaded BLAS for the Numba power loops.

The loops make one small GEMM per step; BLAS threads only add start-up cost and,
on a shared machine, contention.  Numba's ``np.dot`` calls SciPy's BLAS, which is
loaded on first use: it is loaded here before the controller scans the libraries,
so the limit covers it.  The controller is built once (scanning takes about 2 ms;
applying a limit takes tens of microseconds).
"""

from __future__ import annotations

_CONTROLLER = None


def single_thread_blas():
    """Context manager limiting every loaded BLAS to one thread."""
    global _CONTROLLER
    if _CONTROLLER is None:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS that Numba's np.dot calls)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")
