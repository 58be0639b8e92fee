"""Command line of orthla: info (versions, backends, devices), bench (orthla side by side with
the tools you use today, on the same inputs), plot (a chart of saved bench results) and
check-gpu (the CuPy tests and GPU benchmarks in one call, one JSON report)."""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import platform
import sys

from . import __version__
from ._bench import BACKENDS, FAMILIES, family_cases, run_case, skipped_last


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
    head = ("case", "engine", "anchor", "orthla min", "orthla med", "anchor min", "anchor med", "reps",
            "speed-up", "cpu speed-up", "orthla err", "anchor err")
    body = [(r["case"], r["engine"], r["anchor"], _fmt_t(r["orthla_s"]), _fmt_t(r["orthla_median_s"]),
             _fmt_t(r["anchor_s"]), _fmt_t(r["anchor_median_s"]),
             f"{r['orthla_repeats']}/{r['anchor_repeats']}" if r["anchor_repeats"] else str(r["orthla_repeats"]),
             _ratio(r["anchor_s"], r["orthla_s"]), _ratio(r["anchor_cpu_s"], r["orthla_cpu_s"]),
             _fmt_e(r["orthla_err"]), _fmt_e(r["anchor_err"])) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])


LEGEND = """columns: engine = the orthla engine that ran (numba: compiled kernels on NumPy; xp: the
array-API path); min / med = fastest and median wall time over the repeats after a warm-up call;
reps = repeats of orthla / of the anchor (both timed in alternating rounds on the same inputs);
speed-up = anchor min / orthla min (> 1: orthla is faster); cpu speed-up = the same ratio of CPU
times (steadier on a loaded machine); err = the accuracy each side reached (the measure is named
under each table)."""


def _versions() -> dict:
    import numpy
    import scipy

    out = {"orthla": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
           "scipy": scipy.__version__}
    for mod in ("numba", "torch", "cupy", "tensorly", "qmcpy", "pykronecker", "sklearn", "IncSVD"):
        if importlib.util.find_spec(mod):
            try:
                out[mod] = getattr(__import__(mod), "__version__", "?")
            except Exception as exc:  # an anchor that fails to import is reported, not fatal
                out[mod] = f"import failed: {exc}"
    return out


def _machine() -> str:
    """CPU model, core count and load average (Linux), else the platform string."""
    import os

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{model}, {os.cpu_count()} cores{load} ({platform.system()})"


def _write_results(args, rows: list[dict], skipped: list[dict]) -> None:
    meta = {"machine": _machine(), "processor": platform.machine(), "backend": args.backend,
            "blas_threads": args.threads, "quick": args.quick, "versions": _versions()}
    for r in rows:
        r["speed_up"] = (r["anchor_s"] / r["orthla_s"]
                         if r["orthla_s"] > 0 and not math.isnan(r["anchor_s"]) else None)
        r["blas_threads"] = args.threads
    if args.json:
        clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
        with open(args.json, "w") as f:
            json.dump({**meta, "rows": clean, "skipped": skipped}, f, indent=1)
    if args.csv and rows:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


def cmd_bench(args) -> int:
    import scipy.linalg  # noqa: F401  (load SciPy's own OpenBLAS now, so the limit below pins it too)
    from threadpoolctl import threadpool_limits

    from ._bench import namespace_for

    try:
        namespace_for(args.backend)
    except (ImportError, RuntimeError) as exc:
        print(f"python -m orthla bench: backend {args.backend} is not usable here: {exc}", file=sys.stderr)
        return 2
    families = args.family or list(FAMILIES)
    progress = sys.stderr.isatty()
    all_rows: list[dict] = []
    all_skipped: list[dict] = []
    with threadpool_limits(limits=args.threads):
        for fam in families:
            cases = family_cases(fam)
            print(f"\n== {fam} ({args.backend}, BLAS threads={args.threads}) ==")
            if cases is None:
                print("not available yet")
                continue
            skipped = [{"family": fam, "what": w, "why": y} for w, y in skipped_last()]
            skipped += [{"family": fam, "what": c.name, "why": f"no {args.backend} version of this case"}
                        for c in cases if args.backend not in c.backends]
            cases = [c for c in cases if args.backend in c.backends and (c.quick or not args.quick)]
            rows = []
            for i, case in enumerate(cases, 1):
                if progress:
                    print(f"[{i}/{len(cases)}] {case.name} ...", end="\r", file=sys.stderr, flush=True)
                rows.extend({"family": fam, **r} for r in
                            run_case(case, args.backend, min_time=0.1 if args.quick else 0.5))
            if progress:
                print(" " * 100, end="\r", file=sys.stderr)
            if rows:
                print(_table(rows))
                errs = {r["error_name"] for r in rows}
                print(f"errors: {'; '.join(sorted(errs))}")
            else:
                print(f"no cases for backend {args.backend}")
            for s in skipped:
                print(f"skipped: {s['what']}: {s['why']}")
            all_rows += rows
            all_skipped += skipped
    print("\n" + LEGEND)
    _write_results(args, all_rows, all_skipped)
    if not all_rows:
        print("python -m orthla bench: nothing ran (see the lines above)", file=sys.stderr)
        return 1
    return 0


def cmd_plot(args) -> int:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("python -m orthla plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    with open(args.file) as f:
        data = json.load(f)
    rows = [r for r in data["rows"] if r.get("speed_up")]
    if not rows:
        print(f"{args.file}: no rows with an anchor to plot", file=sys.stderr)
        return 1
    labels = [f"{r['case']} vs {r['anchor']}" for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.28 * len(rows) + 1.5), sharey=True)
    y = range(len(rows))
    ax1.barh(y, [r["speed_up"] for r in rows], color=["tab:green" if r["speed_up"] >= 1 else "tab:red"
                                                         for r in rows])
    ax1.axvline(1.0, color="k", lw=0.8)
    ax1.set_xscale("log")
    ax1.set_xlabel("speed-up (anchor time / orthla time, > 1: orthla faster)")
    ax1.set_yticks(list(y), labels, fontsize=7)
    tiny = 1e-17
    ax2.scatter([max(r["orthla_err"] or tiny, tiny) for r in rows], y, label="orthla", marker="o")
    ax2.scatter([max(r["anchor_err"] or tiny, tiny) for r in rows], y, label="anchor", marker="x")
    ax2.set_xscale("log")
    ax2.set_xlabel("error reached (measure per case)")
    ax2.legend()
    ax1.invert_yaxis()
    fig.suptitle(f"orthla {data['versions']['orthla']}: {data['backend']}, BLAS threads {data['blas_threads']}, "
                 f"{data['machine']}", fontsize=8)
    fig.tight_layout()
    out = args.output or args.file.rsplit(".", 1)[0] + ".png"
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orthla", description=__doc__)
    parser.add_argument("--version", action="version", version=f"orthla {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, backends, devices, Numba, BLAS threads")
    bench = sub.add_parser("bench", help="orthla vs the tool you would use today, side by side")
    bench.add_argument("family", nargs="*", metavar="FAMILY",
                       help=f"families to run (default: all of {', '.join(FAMILIES)})")
    bench.add_argument("--quick", action="store_true", help="small sizes only (seconds)")
    bench.add_argument("--backend", default="numpy", choices=BACKENDS)
    bench.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1: stable timings)")
    bench.add_argument("--json", metavar="FILE", help="also write every row, the skipped cases and the versions as JSON")
    bench.add_argument("--csv", metavar="FILE", help="also write the rows as CSV")
    plot = sub.add_parser("plot", help="speed-up and error chart of a file saved by bench --json (needs matplotlib)")
    plot.add_argument("file", help="JSON written by python -m orthla bench --json FILE")
    plot.add_argument("-o", "--output", help="image file (default: FILE with .png)")
    from ._check_gpu import add_parser, cmd_check_gpu

    add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "bench":
        bad = [f for f in args.family if f not in FAMILIES]
        if bad:
            parser.error(f"unknown family {', '.join(bad)}; choose from {', '.join(FAMILIES)}")
    return {"info": cmd_info, "bench": cmd_bench, "plot": cmd_plot,
            "check-gpu": cmd_check_gpu}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
