"""orthla: orthogonalization, factorization and structured solvers on any array-API backend.

Public functions accept arrays of any array-API library (NumPy, CuPy, PyTorch,
array_api_strict) and return arrays of the same library on the same device.
"""

__version__ = "0.1.0.dev0"

from . import pivoting, tensor
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
from .tensor import (
    ComponentMatch,
    LowRankTensor,
    MSPMResult,
    SPMResult,
    SSHOPMResult,
    TensorWarning,
    cp_to_tensor,
    match_components,
    mspm,
    random_low_rank,
    spm,
    sshopm,
    symmetrize,
)

__all__ = [
    "ComponentMatch",
    "KernelMatrix",
    "LowRankTensor",
    "MSPMResult",
    "NystromApproximation",
    "QRResult",
    "SPMResult",
    "SSHOPMResult",
    "TensorWarning",
    "__version__",
    "cp_to_tensor",
    "jacobi_eigh",
    "jacobi_svd",
    "match_components",
    "mgs_qr",
    "mspm",
    "pivot_potential",
    "pivoting",
    "random_low_rank",
    "random_pivot_factorize",
    "rp_cholesky",
    "rp_qr",
    "spm",
    "sshopm",
    "symmetrize",
    "tensor",
]
