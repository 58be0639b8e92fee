"""Randomized pivoting for Jacobi, Cholesky and Gram-Schmidt factorizations."""

from ._mgs import QRResult, mgs_qr

__all__ = ["QRResult", "mgs_qr"]
