"""Symmetric and partially symmetric CP decomposition (SPM, MSPM), tensor eigenpairs (SS-HOPM), helpers."""

from ._cp import ComponentMatch, LowRankTensor, cp_to_tensor, match_components, random_low_rank
from ._mspm import MSPMResult, mspm
from ._spm import SPMResult, TensorWarning, spm
from ._sshopm import SSHOPMResult, sshopm
from ._symmetric import symmetrize

__all__ = [
    "ComponentMatch",
    "LowRankTensor",
    "MSPMResult",
    "SPMResult",
    "SSHOPMResult",
    "TensorWarning",
    "cp_to_tensor",
    "match_components",
    "mspm",
    "random_low_rank",
    "spm",
    "sshopm",
    "symmetrize",
]
