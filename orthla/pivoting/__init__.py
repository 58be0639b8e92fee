"""Randomized pivoting for Jacobi, Cholesky and Gram-Schmidt factorizations."""

from ._jacobi_common import JacobiConvergenceWarning, JacobiInfo
from ._jacobi_eigh import EighResult, jacobi_eigh
from ._mgs import QRResult, mgs_qr

__all__ = ["EighResult", "JacobiConvergenceWarning", "JacobiInfo", "QRResult", "jacobi_eigh", "mgs_qr"]
