"""Command line: ``python -m orthla info`` and ``python -m orthla bench``."""

from __future__ import annotations

import argparse
import importlib.util
import math
import platform
import sys

from . import __version__
from ._bench import BACKENDS, FAMILIES, family_cases, run_case


def _backend_lines() -> list[str]:
    lines = []
    import numpy

    lines.append(f"  numpy {numpy.__version__}: cpu")
    if importlib.util.find_spec("array_api_strict"):
        import array_api_strict

        lines.append(f"  array_api_strict {array_api_strict.__version__}: cpu (test backend)")
    if importlib.util.find_spec("torch"):
        import torch

        devs = ["cpu"] + [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
        lines.append(f"  torch {torch.__version__}: {', '.join(devs)}")
    if importlib.util.find_spec("cupy"):
        try:
            import cupy

            if cupy.cuda.is_available():
                names = [cupy.cuda.runtime.getDeviceProperties(i)["name"].decode()
                         for i in range(cupy.cuda.runtime.getDeviceCount())]
                lines.append(f"  cupy {cupy.__version__}: {', '.join(names)}")
            else:
                lines.append(f"  cupy {cupy.__version__}: installed, no usable CUDA device")
        except Exception as exc:  # a broken CUDA install should not break `info`
            lines.append(f"  cupy: import failed ({exc})")
    return lines


def cmd_info(_args) -> int:
    from threadpoolctl import threadpool_info

    print(f"orthla {__version__} on Python {platform.python_version()} ({platform.machine()})")
    print("backends:")
    for line in _backend_lines():
        print(line)
    if importlib.util.find_spec("numba"):
        import numba

        print(f"numba {numba.__version__}: active (engine='auto' uses Numba kernels on NumPy input)")
    else:
        print('numba: not installed (array-API engine only; pip install "orthla[numba]")')
    for pool in threadpool_info():
        print(f"{pool['user_api']} threads: {pool['num_threads']} ({pool['internal_api']}, {pool.get('version')})")
    return 0


def _fmt_t(t: float) -> str:
    if math.isnan(t):
        return "-"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def _fmt_e(e: float) -> str:
    return "-" if math.isnan(e) else f"{e:.1e}"


def _ratio(anchor: float, orthla: float) -> str:
    return "-" if math.isnan(anchor) or orthla <= 0 else f"{anchor / orthla:.2f}x"


def _table(rows: list[dict]) -> str:
    head = ("case", "anchor", "orthla", "anchor time", "speed-up", "cpu speed-up", "orthla err", "anchor err")
    body = [(r["case"], r["anchor"], _fmt_t(r["orthla_s"]), _fmt_t(r["anchor_s"]),
             _ratio(r["anchor_s"], r["orthla_s"]), _ratio(r["anchor_cpu_s"], r["orthla_cpu_s"]),
             _fmt_e(r["orthla_err"]), _fmt_e(r["anchor_err"])) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])


def cmd_bench(args) -> int:
    import scipy.linalg  # noqa: F401  (load SciPy's own OpenBLAS now, so the limit below pins it too)
    from threadpoolctl import threadpool_limits

    families = args.family or list(FAMILIES)
    status = 0
    with threadpool_limits(limits=args.threads):
        for fam in families:
            cases = family_cases(fam)
            print(f"\n== {fam} ({args.backend}, BLAS threads={args.threads}) ==")
            if cases is None:
                print("not available yet")
                continue
            cases = [c for c in cases if args.backend in c.backends and (c.quick or not args.quick)]
            if not cases:
                print(f"no cases for backend {args.backend}")
                continue
            rows = []
            for i, case in enumerate(cases, 1):
                print(f"[{i}/{len(cases)}] {case.name} ...", end="\r",
                      file=sys.stderr, flush=True)
                rows.extend(run_case(case, args.backend, min_time=0.1 if args.quick else 0.5))
            print(" " * 100, end="\r", file=sys.stderr)
            print(_table(rows))
            errs = {r["error_name"] for r in rows}
            print(f"errors: {'; '.join(sorted(errs))}; times are best of repeated runs after warm-up")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orthla", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, backends, devices, Numba, BLAS threads")
    bench = sub.add_parser("bench", help="orthla vs the tool you would use today, side by side")
    bench.add_argument("family", nargs="*", metavar="FAMILY",
                       help=f"families to run (default: all of {', '.join(FAMILIES)})")
    bench.add_argument("--quick", action="store_true", help="small sizes only (seconds)")
    bench.add_argument("--backend", default="numpy", choices=BACKENDS)
    bench.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: stable timings)")
    args = parser.parse_args(argv)
    if args.command == "bench":
        bad = [f for f in args.family if f not in FAMILIES]
        if bad:
            parser.error(f"unknown family {', '.join(bad)}; choose from {', '.join(FAMILIES)}")
    return {"info": cmd_info, "bench": cmd_bench}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
