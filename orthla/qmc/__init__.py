"""Quasi-Monte Carlo point sets: lattices, digital nets (Sobol'), Halton, and their randomizations."""

from ._cbc import CBCResult, cbc_lattice
from ._digital import DigitalNet, Sobol
from ._halton import Halton
from ._lattice import Lattice

__all__ = ["CBCResult", "DigitalNet", "Halton", "Lattice", "Sobol", "cbc_lattice"]
