"""Orthogonalization kernels: polar factor and msign, thin QR of tall matrices, Procrustes."""

# -- msign / polar (module owners: _msign.py, _polar.py)
from ._msign import MsignInfo, msign

# -- qr / procrustes (module owners: _qr.py, _procrustes.py)

__all__: list[str] = []
__all__ += ["MsignInfo", "msign"]  # msign / polar
