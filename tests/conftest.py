"""The backend matrix: every test taking ``xp`` runs once per selected array library.

Select with ``ORTHLA_XP`` (comma list of numpy, array_api_strict, torch, cupy);
default: every installed one.  CuPy is skipped unless a CUDA device is usable;
torch runs with float64 as its default dtype.
"""

import importlib
import importlib.util
import os

import numpy as np
import pytest

ALL_BACKENDS = ("numpy", "array_api_strict", "torch", "cupy")


def _selected():
    env = os.environ.get("ORTHLA_XP", "").strip()
    if env:
        names = tuple(s.strip() for s in env.split(",") if s.strip())
        unknown = set(names) - set(ALL_BACKENDS)
        if unknown:
            raise pytest.UsageError(f"ORTHLA_XP: unknown backends {sorted(unknown)}; choose from {ALL_BACKENDS}")
        return names
    return tuple(b for b in ALL_BACKENDS if importlib.util.find_spec(b) is not None)


def _cupy_usable():
    try:
        import cupy

        return cupy.cuda.is_available()
    except Exception:
        return False


@pytest.fixture(params=_selected(), scope="session")
def xp(request):
    """Array namespace of one backend (array-api-compat wrapped where needed)."""
    name = request.param
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed")
    if name == "cupy" and not _cupy_usable():
        pytest.skip("cupy is installed but no CUDA device is usable")
    mod = importlib.import_module(name)
    if name == "torch":
        mod.set_default_dtype(mod.float64)
    if name == "array_api_strict":
        return mod
    from array_api_compat import array_namespace

    return array_namespace(mod.asarray(np.zeros(1)) if name != "torch" else mod.zeros(1))


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """One BLAS thread for the whole run: on 2-core CI machines a 2-thread OpenBLAS was measured
    3-60x slower for mid-size LAPACK calls.  SciPy's own OpenBLAS is loaded first so it is pinned too."""
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def needs_numba():
    """Skip the test when numba is not installed (the nonumba session)."""
    pytest.importorskip("numba")


@pytest.fixture
def torch_host_syncs(monkeypatch):
    """Count device-to-host synchronisations on torch tensors during a test.

    Every ``bool()``, ``float()``, ``int()``, ``operator.index()`` and ``.item()`` on a tensor adds
    one to ``counts["n"]`` (reset it between calls); tests assert an algorithm's sync budget with it.
    """
    torch = pytest.importorskip("torch")
    counts = {"n": 0}
    for name in ("__bool__", "__float__", "__int__", "item", "__index__"):
        orig = getattr(torch.Tensor, name)

        def counting(self, *args, _orig=orig, **kw):
            counts["n"] += 1
            return _orig(self, *args, **kw)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return counts
