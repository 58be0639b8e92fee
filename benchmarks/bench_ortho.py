"""orthla.ortho msign/polar against the tools a user would pick instead, on the same inputs.

* ``msign`` against the hand-written reference Muon loop (Jordan et al.: Frobenius normalization,
  5 steps of the fixed quintic), in NumPy and in torch on CPU: the Muon schedule at equal steps
  (same GEMMs: the time ratio is orthla's overhead) and the Polar Express schedule at the same
  GEMM count (the accuracy gain); the distance to the exact polar factor is recorded.
* ``polar`` (QDWH and auto) against ``scipy.linalg.polar``.

The cases live in ``orthla/ortho/_polar_bench.py`` (``BenchCase`` records, as every family's
``_bench_cases.py``); ``ortho`` is not yet in ``orthla._bench.FAMILIES``, so they are
parametrized here and timed by the shared ``compare`` fixture.
"""

import importlib.util

from conftest import parametrize_cases
from orthla.ortho._polar_bench import cases


@parametrize_cases(cases())
def test_ortho(compare, case, backend, tool):
    if backend == "torch":
        import torch

        torch.set_num_threads(1)  # like the pinned BLAS thread of the NumPy side
    compare(case, backend, tool)


def main(argv=None):
    """Interleaved timing (``orthla._bench.run_case``: both sides alternate within each round, so
    a load spike on a shared machine hits both) printed as the table in docs/ortho.md."""
    import argparse

    import scipy.linalg  # noqa: F401  (SciPy's OpenBLAS loaded before the thread limit)
    from threadpoolctl import threadpool_limits

    from orthla._bench import run_case

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--slow", action="store_true", help="also the stacked 12x768x3072 cases")
    p.add_argument("--backends", default="numpy,torch")
    args = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    print("| case | backend | orthla s (CPU s) | anchor | anchor s (CPU s) | CPU ratio | orthla distance/error | anchor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with threadpool_limits(limits=1):
        for case in cases():
            if not case.quick and not args.slow:
                continue
            for backend in args.backends.split(","):
                if backend not in case.backends or importlib.util.find_spec(backend) is None:
                    continue
                for r in run_case(case, backend, min_time=2.0, max_reps=5):
                    print(f"| {r['case']} | {backend} | {r['orthla_s']:.3f} ({r['orthla_cpu_s']:.3f}) | {r['anchor']} | "
                          f"{r['anchor_s']:.3f} ({r['anchor_cpu_s']:.3f}) | {r['orthla_cpu_s'] / r['anchor_cpu_s']:.2f} | "
                          f"{r['orthla_err']:.2e} | {r['anchor_err']:.2e} |", flush=True)


if __name__ == "__main__":
    main()
