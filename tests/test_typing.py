"""Public signatures reach type checkers: ``mypy --strict`` flags a misspelled keyword.

One mypy run over one generated user script that calls every public callable of the top-level
``orthla.__all__`` (functions and the classes' constructors) with a keyword it does not take.
Decorators such as ``@capability`` must keep the signatures for this to fail for each call.
"""

import inspect
from pathlib import Path

import pytest

import orthla

api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[1]
WRONG = "not_a_parameter_of_orthla"


#: Callables whose signatures are deliberately open, with the reason; the test fails for any other.
KNOWN_OPEN: dict[str, str] = {}


def _callables() -> list[str]:
    names = []
    for name in orthla.__all__:
        obj = getattr(orthla, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        names.append(name)
    return names


def test_mypy_strict_flags_a_wrong_keyword_on_every_public_callable(tmp_path):
    names = _callables()
    assert "mgs_qr" in names and "TruncatedSVD" in names
    header = ["import orthla", ""]
    lines = header + [f"orthla.{name}({WRONG}=1)" for name in names]
    script = tmp_path / "user_script.py"
    script.write_text("\n".join(lines) + "\n")
    stdout, stderr, status = api.run([
        "--strict", "--no-error-summary", "--show-error-codes",
        "--config-file", str(ROOT / "pyproject.toml"),  # skips torch/jax/... (see [tool.mypy])
        "--cache-dir", str(tmp_path / "mypy_cache"),
        str(script),
    ])
    assert status == 1, f"mypy did not report errors (status {status}):\n{stdout}\n{stderr}"
    flagged = set()
    for line in stdout.splitlines():
        parts = line.split(":", 3)
        if len(parts) == 4 and parts[0].endswith("user_script.py") and f'"{WRONG}"' in parts[3]:
            flagged.add(int(parts[1]))
    missed = [name for i, name in enumerate(names, start=len(header) + 1)
              if i not in flagged and name not in KNOWN_OPEN]
    assert not missed, (f"mypy --strict accepts a wrong keyword for {missed} (signature erased?)"
                        f"\n{stdout}")
