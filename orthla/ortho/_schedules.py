"""Coefficient schedules of the odd-polynomial (Newton-Schulz type) iterations behind ``msign``.

Every schedule is a list of triples ``(a, b, c)``: one step maps each singular value ``x`` of the
iterate to ``p(x) = a x + b x**3 + c x**5`` (``c = 0`` for cubic steps), computed with GEMMs as
``X <- a X + (b G + c G @ G) @ X`` with the Gram matrix ``G = X X^H``.

The Polar Express schedule (Amsel, Persson, Musco and Gower, 2025) is *computed* here with the
paper's construction: at step ``k`` the odd quintic minimizing ``max |1 - p(x)|`` over
``[max(l_k, cushion u_k), u_k]`` is found by a Remez (equioscillation) iteration, rescaled so that
``1 - p(l_k) = p(u_k) - 1``, and the interval is updated to ``l_{k+1} = p(l_k)``,
``u_{k+1} = 2 - l_{k+1}``.  Steps that are not yet the limiting polynomial ``(15 - 10 x^2 + 3 x^4) x / 8``
are divided by the safety factor (``p(x / 1.01)``) as in the paper's published table.

Everything here runs on the host in float64 (a handful of 4x4 solves), once per schedule, cached.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = [
    "CUBIC",
    "MUON",
    "PE_CUSHION",
    "PE_LOWER",
    "PE_SAFETY",
    "Schedule",
    "band",
    "optimal_quintic",
    "polar_express_coefficients",
    "resolve_schedule",
]

#: Keller Jordan's fixed quintic of the Muon reference implementation.
MUON = (3.4445, -4.7750, 2.0315)
#: Classical Newton-Schulz: p(x) = (3 x - x^3) / 2.
CUBIC = (1.5, -0.5, 0.0)
#: Polar Express defaults: lower end of the design interval, cushion, safety factor.
PE_LOWER = 1e-3
PE_CUSHION = 0.02407327424182761
PE_SAFETY = 1.01

#: Default number of steps per named schedule.
DEFAULT_STEPS = {"muon": 5, "polar-express": 8, "cubic": 24}
#: What the input is divided by after its Frobenius normalization (the paper's Algorithm 1
#: divides by 1.01 ||X||_F so that rounding cannot push a singular value above 1).
INPUT_DIVISOR = {"muon": 1.0, "polar-express": PE_SAFETY, "cubic": 1.0, "custom": 1.0}


def optimal_quintic(lo: float, hi: float) -> tuple[tuple[float, float, float], bool]:
    """Minimax odd quintic approximating 1 on ``[lo, hi]`` (Remez / equioscillation).

    Returns ``((a, b, c), limiting)``; ``limiting`` is True when the interval is so narrow
    (``lo / hi >= 1 - 5e-6``) that the answer is the Newton-Schulz quintic scaled to ``hi``.
    The error ``1 - p`` equioscillates at ``lo``, the two interior extrema ``q < r`` (the
    roots of ``p'``) and ``hi``; each Remez step solves the 4x4 linear system for
    ``(a, b, c, E)`` and moves ``q, r`` to the new extrema, until ``E`` is stationary.
    """
    if not 0 < lo <= hi:
        raise ValueError(f"`lo` and `hi` must satisfy 0 < lo <= hi; got {lo!r}, {hi!r}.")
    if lo / hi >= 1 - 5e-6:
        return ((15 / 8) / hi, (-10 / 8) / hi**3, (3 / 8) / hi**5), True
    q, r = (3 * lo + hi) / 4, (lo + 3 * hi) / 4
    err, old = math.inf, None
    for _ in range(100):
        if old is not None and abs(old - err) <= 1e-15:
            break
        old = err
        lhs = np.array([[x, x**3, x**5, s] for x, s in ((lo, 1.0), (q, -1.0), (r, 1.0), (hi, -1.0))])
        a, b, c, err = np.linalg.solve(lhs, np.ones(4))
        disc = math.sqrt(max(9 * b * b - 20 * a * c, 0.0))
        q, r = (math.sqrt((-3 * b + s * disc) / (10 * c)) for s in (-1.0, 1.0))
    return (float(a), float(b), float(c)), False


@lru_cache(maxsize=64)
def polar_express_coefficients(steps: int, lower: float = PE_LOWER, cushion: float = PE_CUSHION,
                               safety: float = PE_SAFETY) -> tuple[tuple[float, float, float], ...]:
    """The Polar Express schedule of ``steps`` quintics for singular values in ``[lower, 1]``.

    With the defaults and ``steps=8`` this reproduces the table of Amsel et al. (2025),
    including the safety factor on all but the limiting last step.
    """
    lo, hi = float(lower), 1.0
    out = []
    for _ in range(steps):
        (a, b, c), limiting = optimal_quintic(max(lo, cushion * hi), hi)
        p_lo = a * lo + b * lo**3 + c * lo**5
        p_hi = a * hi + b * hi**3 + c * hi**5
        s = 2.0 / (p_lo + p_hi)  # recenter: 1 - p(lo) = p(hi) - 1
        a, b, c = a * s, b * s, c * s
        lo = min(a * lo + b * lo**3 + c * lo**5, 1.0)  # rounding may overshoot 1 once converged
        hi = 2.0 - lo
        if not limiting and safety != 1.0:
            a, b, c = a / safety, b / safety**3, c / safety**5
        out.append((a, b, c))
    return tuple(out)


def _step_range(coef: tuple[float, float, float], lo: float, hi: float) -> tuple[float, float]:
    """Exact image ``[min p, max p]`` of ``[lo, hi]`` under ``p(x) = a x + b x^3 + c x^5``."""
    a, b, c = coef

    def p(x):
        return a * x + b * x**3 + c * x**5

    pts = [lo, hi]
    # p'(x) = a + 3 b x^2 + 5 c x^4: a quadratic in y = x^2.
    if c != 0.0:
        disc = 9 * b * b - 20 * a * c
        if disc >= 0:
            for s in (-1.0, 1.0):
                y = (-3 * b + s * math.sqrt(disc)) / (10 * c)
                if y > 0:
                    pts.append(math.sqrt(y))
    elif b != 0.0:
        y = -a / (3 * b)
        if y > 0:
            pts.append(math.sqrt(y))
    vals = [p(x) for x in pts if lo <= x <= hi]
    return min(vals), max(vals)


def band(coefficients, lower: float, upper: float = 1.0, divisor: float = 1.0) -> tuple[float, float]:
    """Guaranteed range of the output singular values for inputs in ``[lower, upper]``.

    The input interval (divided by ``divisor``) is pushed through each polynomial with its
    exact image (endpoints and interior critical points), so the result holds in exact
    arithmetic for every singular value in the interval, not only on a sampling grid.
    """
    lo, hi = lower / divisor, upper / divisor
    for coef in coefficients:
        lo, hi = _step_range(coef, lo, hi)
    return lo, hi


class Schedule:
    """A resolved schedule: the coefficient triples, the input divisor and a label."""

    __slots__ = ("coefficients", "divisor", "name")

    def __init__(self, name: str, coefficients, divisor: float):
        self.name = name
        self.coefficients = tuple(tuple(float(v) for v in t) for t in coefficients)
        self.divisor = float(divisor)

    @property
    def steps(self) -> int:
        return len(self.coefficients)

    @property
    def quintic(self) -> tuple[bool, ...]:
        return tuple(c != 0.0 for _, _, c in self.coefficients)

    def gemms(self) -> int:
        """Matrix products per matrix: 3 per quintic step, 2 per cubic step."""
        return sum(3 if q else 2 for q in self.quintic)

    def band(self, lower: float) -> tuple[float, float]:
        return band(self.coefficients, lower, 1.0, self.divisor)


def resolve_schedule(schedule, steps) -> Schedule:
    """Turn the ``schedule``/``steps`` arguments of ``msign`` into a :class:`Schedule`."""
    from .._validate import check_int

    if isinstance(schedule, str):
        if schedule not in DEFAULT_STEPS:
            raise ValueError(
                f"`schedule` must be one of {tuple(DEFAULT_STEPS)} or a sequence of (a, b, c) "
                f"triples; got {schedule!r}."
            )
        n = DEFAULT_STEPS[schedule] if steps is None else check_int(steps, "steps", low=0, high=100)
        if schedule == "muon":
            coefs = (MUON,) * n
        elif schedule == "cubic":
            coefs = (CUBIC,) * n
        else:
            coefs = polar_express_coefficients(n)
        return Schedule(schedule, coefs, INPUT_DIVISOR[schedule])
    try:
        triples = [tuple(t) for t in schedule]
    except TypeError:
        raise TypeError(
            f"`schedule` must be a name or a sequence of (a, b, c) triples; got {schedule!r}."
        ) from None
    coefs = []
    for i, t in enumerate(triples):
        if len(t) not in (2, 3):
            raise ValueError(f"`schedule[{i}]` must be a triple (a, b, c) or a pair (a, b); got {t!r}.")
        from .._validate import check_real

        vals = [check_real(v, f"schedule[{i}]") for v in t]
        coefs.append((*vals, 0.0) if len(vals) == 2 else tuple(vals))
    if not coefs:
        raise ValueError("`schedule` must contain at least one (a, b, c) triple; got an empty sequence.")
    if steps is not None:
        n = check_int(steps, "steps", low=0, high=100)
        # Repeat the last triple, as the published implementations do past the table's end.
        coefs = (coefs + [coefs[-1]] * max(0, n - len(coefs)))[:n]
    return Schedule("custom", coefs, INPUT_DIVISOR["custom"])
