"""Randomized pivoting for Jacobi, Cholesky and Gram-Schmidt factorizations."""

from ._jacobi_common import JacobiConvergenceWarning, JacobiInfo
from ._jacobi_eigh import EighResult, jacobi_eigh
from ._jacobi_svd import SVDResult, jacobi_svd
from ._kernel import KernelMatrix, NystromApproximation
from ._mgs import QRResult, mgs_qr
from ._random_pivot import RandomPivotResult, pivot_potential, random_pivot_factorize
from ._rp_cholesky import RPCholeskyResult, rp_cholesky
from ._rp_qr import RPQRResult, rp_qr

__all__ = [
    "EighResult",
    "JacobiConvergenceWarning",
    "JacobiInfo",
    "KernelMatrix",
    "NystromApproximation",
    "QRResult",
    "RPCholeskyResult",
    "RPQRResult",
    "RandomPivotResult",
    "SVDResult",
    "jacobi_eigh",
    "jacobi_svd",
    "mgs_qr",
    "pivot_potential",
    "random_pivot_factorize",
    "rp_cholesky",
    "rp_qr",
]
