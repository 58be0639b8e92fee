"""Quasi-Monte Carlo point sets: lattices, digital nets (Sobol'), Halton, and their randomizations."""

from ._cbc import CBCResult, cbc_lattice
from ._lattice import Lattice

__all__ = ["CBCResult", "Lattice", "cbc_lattice"]
