"""Bernoulli polynomials and the one-dimensional Korobov (shift-invariant) kernels."""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["ALPHA_MAX", "bernoulli_coefficients", "korobov_omega"]

#: Largest supported smoothness: kernels up to B_10.
ALPHA_MAX = 5


@functools.cache
def _bernoulli_numbers(n: int) -> tuple[Fraction, ...]:
    # B_0..B_n from sum_{k<=m} C(m+1, k) B_k = 0 (convention B_1 = -1/2).
    b = [Fraction(1)]
    for m in range(1, n + 1):
        b.append(-sum(math.comb(m + 1, k) * b[k] for k in range(m)) / (m + 1))
    return tuple(b)


@functools.cache
def bernoulli_coefficients(n: int) -> tuple[float, ...]:
    """Coefficients of ``B_n(x)``, highest power first: ``B_n(x) = sum_k C(n, k) B_k x^(n-k)``."""
    b = _bernoulli_numbers(n)
    return tuple(float(math.comb(n, k) * b[k]) for k in range(n + 1))


def korobov_omega(x: Any, alpha: int, xp: Any = np) -> Any:
    """``(-1)^(alpha+1) (2 pi)^(2 alpha) / (2 alpha)! * B_{2 alpha}(x)`` for x in [0, 1].

    The shift-invariant kernel of the Korobov space of smoothness ``alpha``
    without its constant term: ``sum_{h != 0} exp(2 pi i h x) / |h|^(2 alpha)``.
    Evaluated by Horner's rule on any array namespace ``xp``.
    """
    if not 1 <= alpha <= ALPHA_MAX:
        raise ValueError(f"`alpha` must be an integer in 1..{ALPHA_MAX}; got {alpha}.")
    coef = bernoulli_coefficients(2 * alpha)
    c = (-1.0) ** (alpha + 1) * (2.0 * math.pi) ** (2 * alpha) / math.factorial(2 * alpha)
    x = xp.asarray(x) if xp is not np else np.asarray(x, dtype=np.float64)
    acc = xp.zeros_like(x) + coef[0]
    for a in coef[1:]:
        acc = acc * x + a
    return c * acc
