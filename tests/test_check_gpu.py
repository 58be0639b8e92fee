"""``python -m orthla check-gpu``: the no-GPU exit, and the steps rehearsed on NumPy."""

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from orthla import _check_gpu


def test_no_cuda_device_exits_2_with_the_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_check_gpu, "cuda_device", lambda: (None, "no GPU visible"))
    out = tmp_path / "r.json"
    assert _check_gpu.check(output=str(out)) == 2
    assert "no CUDA device: no GPU visible" in capsys.readouterr().err
    rep = json.loads(out.read_text())
    assert rep["status"] == "no-cuda" and rep["reason"] == "no GPU visible"
    assert rep["versions"]["numpy"] and "tests" not in rep and "bench" not in rep


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="cupy installed: may find a GPU")
def test_command_line_without_cupy(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "orthla", "check-gpu", "-o", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "no CUDA device: cupy is not installed" in proc.stderr
    assert json.loads(out.read_text())["status"] == "no-cuda"


def _suite(tmp_path, body):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text("")
    (tests / "test_demo.py").write_text(textwrap.dedent(body))
    return tests


def test_rehearsal_counts_passes_skips_and_failures(tmp_path, monkeypatch):
    tests = _suite(tmp_path, """
        import pytest

        @pytest.mark.parametrize("xp", ["numpy", "torch"])
        def test_ok(xp):
            pass

        @pytest.mark.parametrize("xp", ["numpy"])
        def test_skip(xp):
            pytest.skip("not here")

        @pytest.mark.parametrize("xp", ["numpy"])
        def test_bad(xp):
            assert 1 == 2, "wrong"
    """)
    rows = [{"family": "kron", "case": "c", "engine": "xp", "anchor": "-", "orthla_s": 0.1}]

    def fake_run(cmd, env, timeout, cwd):
        if "bench" in cmd:
            with open(cmd[-1], "w") as f:
                json.dump({"rows": rows, "skipped": [], "machine": "m"}, f)
            return {"command": cmd, "returncode": 0, "wall_s": 0.0, "output_tail": ""}
        return real_run(cmd, env, timeout, cwd)

    real_run = _check_gpu._run
    monkeypatch.setattr(_check_gpu, "_run", fake_run)
    out = tmp_path / "r.json"
    assert _check_gpu.check(backend="numpy", output=str(out), tests=str(tests), timeout=120) == 1
    rep = json.loads(out.read_text())
    t = rep["tests"]
    assert (t["tests"], t["passed"], t["skipped"], t["failed"], t["errors"]) == (3, 1, 1, 1, 0)  # -k numpy
    assert t["failures"][0]["test"].endswith("test_bad[numpy]") and "wrong" in t["failures"][0]["message"]
    assert rep["bench"]["ok"] and rep["bench"]["rows"][0]["case"] == "c"
    assert rep["status"] == "fail"
