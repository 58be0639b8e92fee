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
    assert main(["bench", "--quick", *FAMILIES]) == 1  # nothing ran: a failure, not a success
    captured = capsys.readouterr()
    assert captured.out.count("not available yet") == len(FAMILIES)
    assert "nothing ran" in captured.err


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


def _toy_case(name="toy", orthla_t=0.0):
    return BenchCase(name=name, setup=lambda xp, rng: None, run_orthla=lambda i: 1.0,
                     anchors={"ref": lambda i: 2.0}, error=lambda i, out: out - 1.0, engine="xp")


def test_bench_json_csv_and_skipped_rows(tmp_path, capsys, monkeypatch):
    import csv
    import json

    import orthla.__main__ as cli
    from orthla import _bench

    def cases(fam):
        _bench._SKIPPED.clear()
        _bench.has_tool("surely_not_an_installed_module_xyz", "toy anchor")
        return [_toy_case()]

    monkeypatch.setattr(cli, "family_cases", cases)
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["bench", "--quick", "pivoting", "--json", str(js), "--csv", str(cs)]) == 0
    out = capsys.readouterr().out
    assert "skipped: toy anchor: `surely_not_an_installed_module_xyz` is not installed" in out
    assert "columns: engine" in out  # the legend
    data = json.loads(js.read_text())
    (row,) = data["rows"]
    for key in ("case", "anchor", "orthla_s", "orthla_median_s", "orthla_iqr_s", "orthla_repeats",
                "anchor_s", "anchor_median_s", "anchor_iqr_s", "anchor_repeats", "speed_up",
                "orthla_err", "anchor_err", "engine", "backend", "blas_threads"):
        assert key in row, key
    assert row["engine"] == "xp" and row["orthla_err"] == 0.0 and row["anchor_err"] == 1.0
    assert row["orthla_median_s"] >= row["orthla_s"] > 0
    assert data["versions"]["numpy"] and data["blas_threads"] == 1
    assert data["skipped"] == [{"family": "pivoting", "what": "toy anchor",
                                "why": data["skipped"][0]["why"]}]
    with cs.open() as f:
        assert next(csv.DictReader(f))["case"] == "toy"


def test_bench_progress_only_on_a_terminal(capsys, monkeypatch):
    import orthla.__main__ as cli

    monkeypatch.setattr(cli, "family_cases", lambda fam: [_toy_case()])
    assert main(["bench", "--quick", "pivoting"]) == 0
    assert "\r" not in capsys.readouterr().err  # stderr is not a terminal under pytest


def test_bench_unusable_backend_exits_nonzero(capsys):
    import importlib.util

    if importlib.util.find_spec("cupy"):
        import cupy

        if cupy.cuda.is_available():
            pytest.skip("a CUDA device is usable here")
    assert main(["bench", "--backend", "cupy", "pivoting"]) == 2
    assert "not usable here" in capsys.readouterr().err


def test_version_and_help_without_rst_markup(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "``" not in help_text and "`" not in help_text


def test_plot_draws_a_saved_file(tmp_path):
    pytest.importorskip("matplotlib")
    import json

    js = tmp_path / "r.json"
    js.write_text(json.dumps({"machine": "m", "backend": "numpy", "blas_threads": 1,
                              "versions": {"orthla": __version__},
                              "rows": [{"case": "c", "anchor": "a", "speed_up": 2.0,
                                        "orthla_err": 1e-15, "anchor_err": 1e-12}]}))
    assert main(["plot", str(js)]) == 0
    assert (tmp_path / "r.png").stat().st_size > 1000
