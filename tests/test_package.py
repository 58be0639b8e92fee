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

    code = "import sys, orthla; bad = [m for m in ('numba', 'cupy', 'torch') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(importlib.import_module("pathlib").Path(orthla.__file__).parents[1]))
    assert out.stdout.strip() == "[]"


def test_version():
    assert orthla.__version__.count(".") >= 2
