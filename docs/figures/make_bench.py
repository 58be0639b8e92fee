"""Benchmark results page and speed-up figure from a saved run.

    python -m orthla bench --quick --json docs/_static/bench_quick.json
    python docs/figures/make_bench.py docs/_static/bench_quick.json

Writes docs/bench_results.md (one table per family, the machine and versions named) and
docs/_static/bench_speedup.png (the same figure as ``python -m orthla plot``).
"""

import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from orthla.__main__ import main as cli

DOCS = os.path.join(os.path.dirname(__file__), "..")


def _t(s):
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def _e(x):
    return "-" if x is None else f"{x:.1e}"


def main(path):
    with open(path) as f:
        data = json.load(f)
    v = data["versions"]
    lines = [
        "## Latest run",
        "",
        f"`python -m orthla bench {'--quick ' if data.get('quick') else ''}--json` on **{data['machine']}** "
        f"({data['processor']}), backend {data['backend']}, BLAS threads {data['blas_threads']}; "
        + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        "min / median: wall time over the repeats after a warm-up call (orthla and the anchor timed "
        "in alternating rounds on the same inputs); speed-up = anchor min / orthla min (> 1: orthla "
        "faster); the error columns are the accuracy each side reached, measured as named under each "
        "table.",
        "",
        "![speed-up and error of each case](_static/bench_speedup.png)",
        "",
    ]
    fams = list(dict.fromkeys(r["family"] for r in data["rows"]))
    for fam in fams:
        rows = [r for r in data["rows"] if r["family"] == fam]
        lines += [f"### {fam}", "",
                  "| case | engine | anchor | orthla min / median | anchor min / median | speed-up | orthla err | anchor err |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            sp = "-" if r.get("speed_up") is None else f"{r['speed_up']:.2f}x"
            lines.append(f"| {r['case']} | {r['engine']} | {r['anchor']} | {_t(r['orthla_s'])} / "
                         f"{_t(r['orthla_median_s'])} | {_t(r['anchor_s'])} / {_t(r['anchor_median_s'])} | "
                         f"{sp} | {_e(r['orthla_err'])} | {_e(r['anchor_err'])} |")
        names = sorted({r["error_name"] for r in rows})
        lines += ["", "Errors: " + "; ".join(names) + ".", ""]
        skipped = [s for s in data.get("skipped", []) if s["family"] == fam]
        if skipped:
            lines += ["Not run here: " + "; ".join(f"{s['what']} ({s['why']})" for s in skipped) + ".", ""]
    with open(os.path.join(DOCS, "bench_results.md"), "w") as f:
        f.write("\n".join(lines))
    cli(["plot", path, "-o", os.path.join(DOCS, "_static", "bench_speedup.png")])


if __name__ == "__main__":
    main(sys.argv[1])
