"""Quasi-Monte Carlo point sets: lattices, digital nets (Sobol'), Halton, their randomizations,
shift-invariant kernels and fast Gram algebra on lattices."""

from ._cbc import CBCResult, cbc_lattice
from ._dask import to_dask
from ._digital import DigitalNet, Sobol
from ._dsi import DigitalShiftInvariantKernel
from ._fastgram import FastGram
from ._halton import Halton
from ._kernels import ShiftInvariantKernel
from ._lattice import Lattice
from ._transforms import fftbr, fwht, ifftbr

__all__ = [
    "CBCResult",
    "DigitalNet",
    "DigitalShiftInvariantKernel",
    "FastGram",
    "Halton",
    "Lattice",
    "ShiftInvariantKernel",
    "Sobol",
    "cbc_lattice",
    "fftbr",
    "fwht",
    "ifftbr",
]

# Adaptive cubature (issue #18): measures, periodizing transforms, integrate.
from ._gbm import GeometricBrownianMotion
from ._integrate import IntegrationResult, IntegrationWarning, integrate
from ._measures import BrownianMotion, Gaussian, Lebesgue, Uniform, ndtri
from ._periodize import periodize

__all__ += [
    "BrownianMotion",
    "Gaussian",
    "GeometricBrownianMotion",
    "IntegrationResult",
    "IntegrationWarning",
    "Lebesgue",
    "Uniform",
    "integrate",
    "ndtri",
    "periodize",
]

# Dask (issue #16): chunks generated independently, equal bit for bit to engine.random(n).
__all__ += ["to_dask"]
