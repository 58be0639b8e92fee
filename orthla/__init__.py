"""orthla: orthogonalization, factorization and structured solvers on any array-API backend.

Public functions accept arrays of any array-API library (NumPy, CuPy, PyTorch,
array_api_strict) and return arrays of the same library on the same device.
"""

__version__ = "0.1.0.dev0"

from . import pivoting
from .pivoting import (
    KernelMatrix,
    NystromApproximation,
    QRResult,
    jacobi_eigh,
    jacobi_svd,
    mgs_qr,
    pivot_potential,
    random_pivot_factorize,
    rp_cholesky,
    rp_qr,
)

__all__ = [
    "KernelMatrix",
    "NystromApproximation",
    "QRResult",
    "__version__",
    "jacobi_eigh",
    "jacobi_svd",
    "mgs_qr",
    "pivot_potential",
    "pivoting",
    "random_pivot_factorize",
    "rp_cholesky",
    "rp_qr",
]
