import importlib

import orthla


def test_all_names_resolve_and_are_sorted():
    names = [n for n in orthla.__all__ if n != "__version__"]
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    for name in orthla.__all__:
        assert getattr(orthla, name) is not None


def test_families_reexport_their_public_names():
    for fam in ("pivoting", "tensor", "kron", "qmc", "svdupdate"):
        mod = importlib.import_module(f"orthla.{fam}")
        for name in mod.__all__:
            assert hasattr(mod, name), f"orthla.{fam}.{name}"


def test_import_does_not_pull_optional_dependencies():
    import subprocess
    import sys

    code = ("import sys, orthla, orthla._testing, orthla._bench; "
            "bad = [m for m in ('numba', 'cupy', 'torch', 'array_api_extra', 'sklearn', 'dask', 'jax', "
            "'scipy.stats') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(importlib.import_module("pathlib").Path(orthla.__file__).parents[1]))
    assert out.stdout.strip() == "[]"


def test_version():
    assert orthla.__version__.count(".") >= 2


def test_runtime_dependencies_are_the_imported_ones():
    """Every runtime dependency in pyproject is imported by the package, and array-api-extra is a
    test dependency only."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(orthla.__file__).parents[1]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0].replace("-", "_") for d in deps}
    assert "array_api_extra" not in names
    source = "\n".join(p.read_text() for p in (root / "orthla").rglob("*.py"))
    for name in names:
        assert re.search(rf"^\s*(import|from) {name}\b", source, re.M), f"{name} is never imported"
