"""Keep a truncated SVD current as rows, columns and low-rank terms arrive or leave."""

import importlib.util
from typing import TYPE_CHECKING, Any

from ._truncated import TruncatedSVD, UpdateRecord

if TYPE_CHECKING:
    from ._sklearn import IncrementalSVD

__all__ = ["TruncatedSVD", "UpdateRecord"]
# The scikit-learn estimator is public where scikit-learn is installed; it is imported on first
# use, so `import orthla` never imports scikit-learn.
if importlib.util.find_spec("sklearn") is not None:
    __all__ += ["IncrementalSVD"]
    __all__.sort()


def __getattr__(name: str) -> Any:
    if name == "IncrementalSVD":
        from ._sklearn import IncrementalSVD

        return IncrementalSVD
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
