"""orthla: orthogonalization, factorization and structured solvers on any array-API backend.

Public functions accept arrays of any array-API library (NumPy, CuPy, PyTorch,
array_api_strict) and return arrays of the same library on the same device.
"""

__version__ = "0.1.0.dev0"

from . import pivoting
from .pivoting import QRResult, mgs_qr

__all__ = ["QRResult", "__version__", "mgs_qr", "pivoting"]
