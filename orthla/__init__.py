"""orthla: orthogonalization, factorization and structured solvers on any array-API backend.

Public functions accept arrays of any array-API library (NumPy, CuPy, PyTorch,
array_api_strict) and return arrays of the same library on the same device.
"""

__version__ = "0.1.0.dev0"

from typing import TYPE_CHECKING

from . import kron, ortho, pivoting, svdupdate, tensor
from .kron import (
    GridGP,
    KronEigh,
    KronOperator,
    kron_sum_solve,
    mode_product,
    multi_mode_product,
    nearest_kron,
    poisson_solve,
    solve_lyapunov,
    solve_sylvester,
    sum_kron_solve,
)
from .ortho import (
    generalized_procrustes,
    msign,
    polar,
    procrustes,
)
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
from .svdupdate import (
    TruncatedSVD,
    UpdateRecord,
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

# orthla.qmc is loaded on first use: its engines subclass scipy.stats.qmc.QMCEngine, and importing
# scipy.stats would more than double the time of `import orthla` for users of the other families.
_QMC_NAMES = (
    "CBCResult", "DigitalNet", "DigitalShiftInvariantKernel", "FastGram", "Halton", "Lattice",
    "ShiftInvariantKernel", "Sobol", "cbc_lattice", "fftbr", "fwht", "ifftbr",
)

if TYPE_CHECKING:
    from . import qmc
    from .qmc import (
        CBCResult,
        DigitalNet,
        DigitalShiftInvariantKernel,
        FastGram,
        Halton,
        Lattice,
        ShiftInvariantKernel,
        Sobol,
        cbc_lattice,
        fftbr,
        fwht,
        ifftbr,
    )


def __getattr__(name: str):
    if name == "qmc" or name in _QMC_NAMES:
        import importlib

        module = importlib.import_module(".qmc", __name__)
        globals()["qmc"] = module
        return module if name == "qmc" else getattr(module, name)
    raise AttributeError(f"module 'orthla' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CBCResult",
    "ComponentMatch",
    "DigitalNet",
    "DigitalShiftInvariantKernel",
    "FastGram",
    "GridGP",
    "Halton",
    "KernelMatrix",
    "KronEigh",
    "KronOperator",
    "Lattice",
    "LowRankTensor",
    "MSPMResult",
    "NystromApproximation",
    "QRResult",
    "SPMResult",
    "SSHOPMResult",
    "ShiftInvariantKernel",
    "Sobol",
    "TensorWarning",
    "TruncatedSVD",
    "UpdateRecord",
    "__version__",
    "cbc_lattice",
    "cp_to_tensor",
    "fftbr",
    "fwht",
    "generalized_procrustes",
    "ifftbr",
    "jacobi_eigh",
    "jacobi_svd",
    "kron",
    "kron_sum_solve",
    "match_components",
    "mgs_qr",
    "mode_product",
    "msign",
    "mspm",
    "multi_mode_product",
    "nearest_kron",
    "ortho",
    "pivot_potential",
    "pivoting",
    "poisson_solve",
    "polar",
    "procrustes",
    "qmc",
    "random_low_rank",
    "random_pivot_factorize",
    "rp_cholesky",
    "rp_qr",
    "solve_lyapunov",
    "solve_sylvester",
    "spm",
    "sshopm",
    "sum_kron_solve",
    "svdupdate",
    "symmetrize",
    "tensor",
]
