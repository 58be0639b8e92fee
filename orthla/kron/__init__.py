"""Kronecker-structured operators and exact structured solvers."""

from ._common import KronConvergenceWarning
from ._eigh import KronEigh, PCGResult
from ._gridgp import GridGP, GridGPPrediction
from ._gridpde import GridPDESolution, GridPDESolver, SemilinearSolution
from ._gridpde_fit import GridPDEFit, fit_grid_pde
from ._gridpde_spectrum import GridPDESpectrumFit, fit_grid_pde_spectrum
from ._modeprod import mode_product, multi_mode_product
from ._nearest import NearestKron, nearest_kron
from ._operator import KronOperator, KronSVD
from ._poisson import poisson_solve
from ._sbl import SBLResult, kron_sbl, sbl
from ._spectral_kernels import SpectralMixture
from ._sumkron import sum_kron_solve
from ._sums import kron_sum_solve, solve_lyapunov, solve_sylvester

__all__ = [
    "GridGP",
    "GridGPPrediction",
    "GridPDEFit",
    "GridPDESolution",
    "GridPDESolver",
    "GridPDESpectrumFit",
    "KronConvergenceWarning",
    "KronEigh",
    "KronOperator",
    "KronSVD",
    "NearestKron",
    "PCGResult",
    "SBLResult",
    "SemilinearSolution",
    "SpectralMixture",
    "fit_grid_pde",
    "fit_grid_pde_spectrum",
    "kron_sbl",
    "kron_sum_solve",
    "mode_product",
    "multi_mode_product",
    "nearest_kron",
    "poisson_solve",
    "sbl",
    "solve_lyapunov",
    "solve_sylvester",
    "sum_kron_solve",
]
