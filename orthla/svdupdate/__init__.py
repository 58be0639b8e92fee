"""Keep a truncated SVD current as rows, columns and low-rank terms arrive or leave."""

from ._truncated import TruncatedSVD, UpdateRecord

__all__ = ["TruncatedSVD", "UpdateRecord"]
