"""The contract registry's entry type: one valid example call of a public callable.

Each family lists its cases in ``tests/contract/cases_<family>.py`` as ``CASES``.  The sweep in
``test_contract.py`` replays every case on every backend with each array argument replaced by a
hostile variant (NaN, inf, empty, wrong ndim or dtype, strided, read-only, list, masked, another
library, extreme scale) and checks the outcome against the contract: a correct result, or a
``ValueError``/``TypeError`` whose message names the argument; never another exception, never
NaN/inf from finite input, never a modified input, never a hang.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orthla._testing import to_host

__all__ = ["Case", "host"]

host = to_host

#: Every mutation the sweep applies to an array argument.
MUTATIONS = (
    "nan", "inf", "empty", "ndim_up", "ndim_down", "bool", "int", "float16", "float32",
    "complex", "object", "noncontig", "fortran", "readonly", "list", "masked", "matrix",
    "mixed", "big", "small",
)


@dataclass(frozen=True)
class Case:
    """A valid call of a public callable, with the array arguments the sweep may replace.

    Parameters
    ----------
    target : str
        Public name: ``"rp_cholesky"``, ``"KronOperator.solve"``, ``"qmc.Sobol.random"``.  Names
        are those of the family's ``__all__`` (``Class.method`` for methods).
    call : callable
        ``call(xp, **arrays)`` makes the call; ``arrays`` arrive as arrays of ``xp`` (possibly
        mutated).  Build objects inside ``call`` so their constructor sees the mutation too.
    arrays : dict of str to numpy.ndarray
        The array arguments (NumPy reference values).  Keys are the names the error message must
        contain, unless ``names`` maps a key to another spelling (``{"A": "factors[0]"}``).
    homogeneous : bool
        Scaling one array argument by 2**±500 must give a result (no error) that is finite and
        passes ``check``.  Otherwise a finite result or a ``ValueError`` naming the argument.
    check : callable, optional
        ``check(result, arrays)`` asserts the result is right for the NumPy ``arrays`` actually
        passed (after mutation), against an independent reference; host copies via ``host``.
    accepts : set of str
        Mutations that are valid input and must give a result (e.g. ``{"nan"}`` where NaN is a
        documented input, ``{"bool"}``).  ``"int"``, ``"float32"``, ``"complex"``, ``"empty"`` and
        the ndim changes may always either work or raise a named error.
    skip : dict of str to str
        Mutations that do not apply to this case, with the reason (shown in the test id's skip).
    finite_result : bool
        Whether every floating array in the result must be finite for finite input.
    backends : tuple of str
        Backends the call supports (``"numpy"``, ``"array_api_strict"``, ``"torch"``, ``"cupy"``).
    """

    target: str
    call: Callable[..., Any]
    arrays: dict[str, np.ndarray]
    id: str = ""
    names: dict[str, str] = field(default_factory=dict)
    homogeneous: bool = False
    check: Callable[[Any, dict[str, np.ndarray]], None] | None = None
    accepts: frozenset[str] = frozenset()
    skip: dict[str, str] = field(default_factory=dict)
    finite_result: bool = True
    backends: tuple[str, ...] = ("numpy", "array_api_strict", "torch", "cupy")

    @property
    def label(self) -> str:
        return f"{self.target}[{self.id}]" if self.id else self.target

    def arg_name(self, key: str) -> str:
        return self.names.get(key, key)
