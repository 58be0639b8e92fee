"""Test matrix, benchmarks, docs and lint.  `nox -l` lists the sessions."""

import os
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests(numpy)", "tests(nonumba)", "lint"]

TORCH = "torch==2.13.0"  # the CPU build; any other spec pulls gigabytes of CUDA wheels
VARIANTS = {
    # variant: (extras, ORTHLA_XP)
    "numpy": ("numba,test", "numpy,array_api_strict"),
    "nonumba": ("test", "numpy,array_api_strict"),
    "strict": ("numba,test", "array_api_strict"),
    "torch": ("numba,test", "torch"),
    "cupy": ("numba,test,cupy", "cupy"),
    # the cases marked slow (coverage rates over hundreds of randomizations, issue-size
    # accuracy and timing rows), left out of the other sessions to keep them short
    "slow": ("numba,test", "numpy,array_api_strict"),
    # the Dask paths on a local distributed cluster (tests/test_dask.py) and the refusals
    "dask": ("numba,test,dask", "numpy"),
}
DASK_TESTS = ["tests/test_dask.py", "tests/test_unsupported_libraries.py"]


def _has_nvidia_driver() -> bool:
    return shutil.which("nvidia-smi") is not None or os.path.exists("/proc/driver/nvidia/version")


@nox.session
@nox.parametrize("variant", [nox.param(v, id=v) for v in VARIANTS])
def tests(session: nox.Session, variant: str) -> None:
    """Run the test suite on one backend selection (numba on, except 'nonumba')."""
    if variant == "cupy" and not _has_nvidia_driver():
        session.skip("tests(cupy): no NVIDIA driver on this machine; run it where a CUDA GPU is present")
    extras, backends = VARIANTS[variant]
    if variant == "torch":
        session.install(TORCH)
    session.install("-e", f".[{extras}]")
    if variant == "nonumba":
        session.run("python", "-m", "pip", "uninstall", "-y", "-q", "numba", "llvmlite")
    default = {"dask": DASK_TESTS, "slow": ["-m", "slow"]}.get(variant, ["-m", "not slow"])
    args = session.posargs or default
    session.run("python", "-m", "pytest", *args, env={"ORTHLA_XP": backends})


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (orthla vs anchors, same run); JSON goes to .benchmarks/results.json."""
    session.install("-e", ".[bench]")
    os.makedirs(".benchmarks", exist_ok=True)
    args = session.posargs or ["-m", "not slow"]
    session.chdir("benchmarks")
    session.run("python", "-m", "pytest", "--benchmark-json=../.benchmarks/results.json", *args)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs; any Sphinx warning is an error."""
    session.install("-e", ".[docs,numba]", "matplotlib")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, tests, benchmarks and docs scripts; mypy over the package."""
    session.install("ruff>=0.5", "mypy>=1.10", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("mypy")  # files and per-module settings: [tool.mypy] in pyproject.toml
