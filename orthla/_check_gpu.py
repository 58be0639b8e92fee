"""``python -m orthla check-gpu``: the whole GPU evidence in one call, written to one JSON file.

Runs, on a machine with a CUDA device and CuPy:

1. the CuPy test selection: ``pytest <tests> -k cupy`` with ``ORTHLA_XP=cupy`` (every test that
   takes the ``xp`` fixture, the contract sweep included), with a JUnit report parsed for the
   pass/fail/skip counts, the failures and the slowest tests;
2. the GPU benchmark cases: ``python -m orthla bench --backend cupy --quick --json``;

and writes versions (Python, NumPy, SciPy, CuPy, CUDA runtime and driver, torch, Numba, pytest,
array-api-compat/extra/strict), the device (name, memory, compute capability), the counts and
the timings to ``--output`` (default ``orthla-check-gpu.json``).  Each step runs in a child
process with a time limit, so a crashing kernel is reported rather than ending the check.

Only packages a GPU image usually has are needed (numpy, scipy, cupy, pytest; numba, torch,
pytest-benchmark used when present); no nox, no registry access.  The pure-Python test
dependencies that such images lack travel as wheels (see ``docs/backends.md``, "Scale").

Exit status: 0 when the tests pass and the benchmarks ran, 1 when a test failed or a step
failed, 2 when there is no usable CUDA device (the JSON is still written, with the reason).
``--backend numpy`` rehearses the same steps on a machine without a GPU (no CUDA check).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

NO_CUDA = 2
#: distributions whose versions the report lists (read from their metadata: nothing is imported)
VERSION_DISTS = {"numpy": ("numpy",), "scipy": ("scipy",),
                 "cupy": ("cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x", "cupy"), "torch": ("torch",),
                 "numba": ("numba",), "pytest": ("pytest",), "pytest-benchmark": ("pytest-benchmark",),
                 "array-api-compat": ("array-api-compat", "array_api_compat"),
                 "array-api-extra": ("array-api-extra", "array_api_extra"),
                 "array-api-strict": ("array-api-strict", "array_api_strict"),
                 "hypothesis": ("hypothesis",), "mpmath": ("mpmath",), "threadpoolctl": ("threadpoolctl",)}


def cuda_device() -> tuple[dict | None, str]:
    """``(device description, "")`` for CuPy's current CUDA device, or ``(None, reason)``."""
    if importlib.util.find_spec("cupy") is None:
        return None, "cupy is not installed (pip install cupy-cuda12x, or cupy-cuda13x for a CUDA 13 driver)"
    try:
        import cupy

        if not cupy.cuda.is_available():
            return None, "cupy is installed but no CUDA device is usable (no driver or no GPU visible)"
        rt = cupy.cuda.runtime
        dev = cupy.cuda.Device()
        props = rt.getDeviceProperties(dev.id)
        name = props["name"]
        free, total = dev.mem_info
        return {
            "name": name.decode() if isinstance(name, bytes) else str(name),
            "id": dev.id,
            "count": rt.getDeviceCount(),
            "compute_capability": dev.compute_capability,
            "memory_total_gib": round(total / 2**30, 2),
            "memory_free_gib": round(free / 2**30, 2),
            "cuda_runtime": rt.runtimeGetVersion(),
            "cuda_driver": rt.driverGetVersion(),
        }, ""
    except Exception as exc:  # a broken CUDA install is a reason, not a crash
        return None, f"cupy failed to reach a CUDA device: {type(exc).__name__}: {exc}"


def versions() -> dict[str, str]:
    """Versions of Python, orthla and the packages of ``VERSION_DISTS`` ("missing" if absent)."""
    from importlib import metadata

    from . import __version__

    out = {"orthla": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for key, dists in VERSION_DISTS.items():
        out[key] = "missing"
        for dist in dists:
            try:
                out[key] = metadata.version(dist) + ("" if dist == dists[0] or key != "cupy" else f" ({dist})")
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def default_tests() -> Path | None:
    """The ``tests/`` folder of the checkout orthla runs from, else ``./tests``."""
    for cand in (Path(__file__).resolve().parent.parent / "tests", Path.cwd() / "tests"):
        if (cand / "conftest.py").is_file():
            return cand
    return None


def _run(cmd: list[str], env: dict, timeout: float, cwd: Path) -> dict:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False)
        rc: int | str = proc.returncode
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = "timeout"
        out = ((exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or ""))
        out += f"\n[check-gpu] stopped after {timeout:.0f} s"
    return {"command": cmd, "returncode": rc, "wall_s": round(time.perf_counter() - t0, 2),
            "output_tail": out[-6000:]}


def parse_junit(path: Path) -> dict:
    """Counts, failures and the slowest tests from a pytest JUnit XML report."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {"tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures, times = [], []
    for suite in suites:
        for case in suite.iter("testcase"):
            counts["tests"] += 1
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            times.append((float(case.get("time", 0) or 0), name))
            kind = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), None)
            if kind == "failure":
                counts["failed"] += 1
            elif kind == "error":
                counts["errors"] += 1
            elif kind == "skipped":
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
            if kind in ("failure", "error"):
                node = next(c for c in case if c.tag == kind)
                failures.append({"test": name, "kind": kind, "message": (node.get("message") or "")[:500]})
    times.sort(reverse=True)
    return {**counts, "failures": failures[:100],
            "slowest": [{"test": n, "s": round(t, 3)} for t, n in times[:15]]}


def run_tests(backend: str, tests: Path, extra: list[str], timeout: float) -> dict:
    env = {**os.environ, "ORTHLA_XP": backend}
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", str(tests), "-k", backend, "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", "-o", "junit_family=xunit2", *extra]
        root = next((d for d in tests.parents if (d / "pyproject.toml").is_file()), tests.parent)
        res = _run(cmd, env, timeout, root)
        if junit.is_file():
            res.update(parse_junit(junit))
    res["ok"] = res["returncode"] == 0
    return res


def run_bench(backend: str, timeout: float, cwd: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [sys.executable, "-m", "orthla", "bench", "--backend", backend, "--quick", "--json", str(out)]
        res = _run(cmd, dict(os.environ), timeout, cwd)
        if out.is_file():
            data = json.loads(out.read_text())
            keep = ("family", "case", "engine", "anchor", "orthla_s", "orthla_median_s", "anchor_s",
                    "anchor_median_s", "speed_up", "orthla_err", "anchor_err", "error_name")
            res["rows"] = [{k: r.get(k) for k in keep} for r in data.get("rows", [])]
            res["skipped"] = data.get("skipped", [])
            res["machine"] = data.get("machine")
    res["ok"] = res["returncode"] == 0 and bool(res.get("rows"))
    return res


def check(*, backend: str = "cupy", output: str = "orthla-check-gpu.json", tests: str | None = None,
          pytest_args: list[str] | None = None, skip_tests: bool = False, skip_bench: bool = False,
          timeout: float = 3600.0, stream: Any = None) -> int:
    """Run the check and write the JSON report; returns the exit status (see the module doc)."""
    stream = stream or sys.stdout
    report: dict[str, Any] = {
        "created_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "backend": backend, "versions": versions()}
    status = 0
    if backend == "cupy":
        dev, why = cuda_device()
        report["device"] = dev
        if dev is None:
            report.update(status="no-cuda", reason=why)
            Path(output).write_text(json.dumps(report, indent=1))
            print(f"python -m orthla check-gpu: no CUDA device: {why}.\nNothing was run; the reason is "
                  f"in {output}.  Run this on a machine with an NVIDIA GPU, its driver and CuPy.",
                  file=sys.stderr)
            return NO_CUDA
        print(f"device: {dev['name']} ({dev['memory_total_gib']} GiB, CUDA runtime {dev['cuda_runtime']})",
              file=stream)
    else:
        report["device"] = {"name": "cpu (rehearsal, no CUDA check)"}
    if not skip_tests:
        path = Path(tests).resolve() if tests else default_tests()
        if path is None or not path.exists():
            report["tests"] = {"ok": False, "reason": "no tests/ folder found: run from an orthla checkout "
                               "or pass --tests PATH"}
        else:
            print(f"tests: pytest {path} -k {backend} (ORTHLA_XP={backend}) ...", file=stream, flush=True)
            report["tests"] = run_tests(backend, path, pytest_args or [], timeout)
            t = report["tests"]
            print(f"  passed {t.get('passed', '?')}, failed {t.get('failed', '?')}, errors {t.get('errors', '?')}, "
                  f"skipped {t.get('skipped', '?')} in {t['wall_s']} s", file=stream)
        status |= not report["tests"]["ok"]
    if not skip_bench:
        print(f"bench: python -m orthla bench --backend {backend} --quick ...", file=stream, flush=True)
        report["bench"] = run_bench(backend, timeout, Path.cwd())
        b = report["bench"]
        print(f"  {len(b.get('rows', []))} rows in {b['wall_s']} s (exit {b['returncode']})", file=stream)
        status |= not b["ok"]
    report["status"] = "pass" if status == 0 else "fail"
    Path(output).write_text(json.dumps(report, indent=1, default=str))
    print(f"{report['status']}: wrote {output}", file=stream)
    return int(status)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("check-gpu", help="CuPy tests + GPU benchmarks in one call, one JSON report")
    p.add_argument("-o", "--output", default="orthla-check-gpu.json", help="JSON report (default %(default)s)")
    p.add_argument("--tests", metavar="PATH", help="test folder or file (default: the checkout's tests/)")
    p.add_argument("--backend", default="cupy", choices=("cupy", "numpy"),
                   help="cupy (default); numpy rehearses the steps without a GPU")
    p.add_argument("--skip-tests", action="store_true", help="benchmarks only")
    p.add_argument("--skip-bench", action="store_true", help="tests only")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per step (default %(default)s)")
    p.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[],
                   help="passed to pytest (last option: everything after it goes to pytest)")


def cmd_check_gpu(args: Any) -> int:
    return check(backend=args.backend, output=args.output, tests=args.tests, pytest_args=args.pytest_args,
                 skip_tests=args.skip_tests, skip_bench=args.skip_bench, timeout=args.timeout)
