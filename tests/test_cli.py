import subprocess
import sys
from pathlib import Path

import pytest

from orthla import __version__
from orthla.__main__ import main
from orthla._bench import FAMILIES, BenchCase, family_cases, run_case


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"orthla {__version__}" in out
    assert "numpy" in out and "numba" in out
    assert "threads" in out


def test_bench_quick_prints_a_table(capsys):
    assert main(["bench", "--quick", "pivoting"]) == 0
    out = capsys.readouterr().out
    assert "== pivoting (numpy" in out
    assert "mgs_qr 500x50" in out and "scipy.linalg.qr" in out
    # Every case row has two times, a ratio and two errors.
    row = next(line for line in out.splitlines() if line.startswith("mgs_qr 500x50"))
    assert "x " in row and "e-" in row


def test_bench_lists_missing_families_as_not_available(capsys, monkeypatch):
    import orthla.__main__ as cli

    monkeypatch.setattr(cli, "family_cases", lambda fam: None)
    assert main(["bench", "--quick", *FAMILIES]) == 0
    out = capsys.readouterr().out
    assert out.count("not available yet") == len(FAMILIES)


def test_bench_rejects_unknown_family(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "linear-algebra"])
    assert "unknown family linear-algebra" in capsys.readouterr().err


def test_run_case_times_both_sides_on_same_inputs():
    seen = []

    def setup(xp, rng):
        return {"x": rng.standard_normal(4)}

    case = BenchCase(
        name="toy", setup=setup, run_orthla=lambda i: seen.append(("o", id(i["x"]))) or 1.0,
        anchors={"ref": lambda i: seen.append(("a", id(i["x"]))) or 2.0},
        error=lambda i, out: out - 1.0,
    )
    (row,) = run_case(case, "numpy", min_time=0.0, max_reps=2)
    assert row["orthla_err"] == 0.0 and row["anchor_err"] == 1.0
    assert row["anchor"] == "ref" and row["orthla_s"] > 0
    assert len({x for _, x in seen}) == 1  # one input object for both sides
    assert row["orthla_cpu_s"] >= 0 and row["anchor_cpu_s"] >= 0


def test_run_case_interleaves_the_two_sides():
    order = []
    case = BenchCase(
        name="toy", setup=lambda xp, rng: None, run_orthla=lambda i: order.append("o"),
        anchors={"ref": lambda i: order.append("a")}, error=lambda i, out: 0.0,
    )
    run_case(case, "numpy", min_time=0.0, max_reps=3)
    # warm-up of both, then alternating rounds of one call each, not all of one side first
    assert order[:6] == ["o", "a", "o", "a", "o", "a"]
    assert order.count("o") == order.count("a") == 3  # a round over min_time=0 ends after two


def test_family_cases_unknown_family():
    with pytest.raises(ValueError, match="`family` must be one of"):
        family_cases("nope")


def test_python_dash_m_entry_point():
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-m", "orthla", "info"], capture_output=True, text=True,
                         check=True, cwd=root)
    assert res.stdout.startswith("orthla ")
