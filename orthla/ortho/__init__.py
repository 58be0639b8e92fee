"""Orthogonalization kernels: polar factor and msign, thin QR of tall matrices, Procrustes."""

# -- msign / polar (module owners: _msign.py, _polar.py)
from ._msign import MsignInfo, msign
from ._polar import PolarResult, polar

# -- qr / procrustes (module owners: _qr.py, _procrustes.py)
from ._procrustes import (
    GeneralizedProcrustesResult,
    ProcrustesResult,
    generalized_procrustes,
    procrustes,
)
from ._qr import QRResult, qr

# isort: split
# -- parametrizations: Householder, random_orthogonal (module owners: _householder.py, _random_orthogonal.py)
from ._householder import Householder
from ._random_orthogonal import random_orthogonal

# isort: split
# -- parametrizations: BlockDiagonal, Butterfly (module owners: _block_diagonal.py, _butterfly.py)
from ._block_diagonal import BlockDiagonal
from ._butterfly import Butterfly

# isort: split
# -- parametrizations: Cayley, exponential, Givens (module owners: _cayley.py, _expm_skew.py, _givens.py)
from ._cayley import Cayley, CayleyResult, cayley
from ._expm_skew import ExpSkew, expm_skew
from ._givens import Givens

__all__: list[str] = []
__all__ += ["MsignInfo", "PolarResult", "msign", "polar"]  # msign / polar
__all__ += [  # qr / procrustes
    "GeneralizedProcrustesResult",
    "ProcrustesResult",
    "QRResult",
    "generalized_procrustes",
    "procrustes",
    "qr",
]
__all__ += ["Householder", "random_orthogonal"]  # parametrizations: Householder, random_orthogonal
__all__ += ["BlockDiagonal", "Butterfly"]  # parametrizations: BlockDiagonal, Butterfly
__all__ += ["Cayley", "CayleyResult", "ExpSkew", "Givens", "cayley", "expm_skew"]  # parametrizations: Cayley, exp, Givens
