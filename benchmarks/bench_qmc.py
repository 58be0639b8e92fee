"""orthla.qmc generators against scipy.stats.qmc and QMCPy on the same sizes."""

import numpy as np
import pytest

from conftest import parametrize_family


@parametrize_family("qmc")
def test_qmc(compare, case, backend, tool):
    compare(case, backend, tool)


# ---------------------------------------------------------------- Halton at high dimension
# orthla's Halton against scipy.stats.qmc.Halton in the same randomization class: unrandomized vs
# scramble=False (the same points bit for bit), digit permutations "dp" vs scramble=True (Owen's
# random Halton, as SciPy), and orthla's default "lms-dp" (LMS then permutations: more work per
# point than SciPy's scrambling) against scramble=True as well.

_HALTON_SIDES = {
    "unrandomized": (False, False),
    "dp": ("dp", True),
    "lms-dp": ("lms-dp", True),
}


def _halton_engine(tool, kind, d):
    from scipy.stats import qmc

    from orthla.qmc import Halton

    randomize, scramble = _HALTON_SIDES[kind]
    if tool == "orthla":
        return Halton(d, randomize=randomize, rng=20261123)
    return qmc.Halton(d, scramble=scramble, rng=20261123)


@pytest.mark.parametrize("tool", ["orthla", "scipy"])
@pytest.mark.parametrize("kind", list(_HALTON_SIDES))
def test_halton_d1000_random1(benchmark, tool, kind):
    """One point at d = 1000 from a built engine (the per-call cost of the tables)."""
    eng = _halton_engine(tool, kind, 1000)
    eng.random(1)  # warm-up: Numba JIT
    benchmark.group = f"Halton d=1000 random(1), built engine [{kind}]"
    x = benchmark.pedantic(lambda: eng.reset().random(1), rounds=20, warmup_rounds=1)
    assert x.shape == (1, 1000)


@pytest.mark.parametrize("tool", ["orthla", "scipy"])
@pytest.mark.parametrize("kind", list(_HALTON_SIDES))
def test_halton_d1000_build_random1(benchmark, tool, kind):
    """Build the engine (draw the randomization) and draw one point at d = 1000."""
    _halton_engine(tool, kind, 3).random(1)  # warm-up: Numba JIT
    benchmark.group = f"Halton d=1000 build + random(1) [{kind}]"
    x = benchmark.pedantic(lambda: _halton_engine(tool, kind, 1000).random(1), rounds=3, warmup_rounds=1)
    assert x.shape == (1, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["orthla", "scipy"])
@pytest.mark.parametrize("kind", list(_HALTON_SIDES))
def test_halton_2e16_d1000(benchmark, tool, kind):
    """2^16 points at d = 1000 from a built engine; the integration error goes into extra_info."""
    eng = _halton_engine(tool, kind, 1000)
    eng.random(1)
    benchmark.group = f"Halton 2^16 x 1000 [{kind}]"
    x = benchmark.pedantic(lambda: eng.reset().random(2**16), rounds=3, warmup_rounds=1)
    c = 1.0 / np.arange(1, 1001) ** 2
    exact = float(np.prod(np.expm1(c) / c))
    benchmark.extra_info.update(tool=tool, error=abs(float(np.mean(np.exp(x @ c))) - exact) / exact,
                                error_name="rel. integration error")
