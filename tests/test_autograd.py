"""Autograd on torch: every public callable either differentiates or says it does not.

* Sweep over the contract registry: with every floating input a tensor that requires grad, the
  outputs either carry no gradient (the function detaches, as documented) or ``backward()`` runs.
  A function whose outputs claim ``requires_grad=True`` but fail in backward (in-place updates
  of saved tensors) is a defect.
* Gradients of the functions meant for fitting hyperparameters agree with finite differences
  (``torch.autograd.gradcheck`` in float64): kernels with tensor weights, Kronecker logdet and
  solve, grid GP log marginal likelihood.
"""

import dataclasses
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import array_api_compat.torch as txp  # noqa: E402
from contract.test_contract import CASES  # noqa: E402

import orthla  # noqa: E402

#: Not yet detached or differentiable; each has an issue note.  Empty when all are fixed.
PENDING: set[str] = set()


def _tensors(obj, depth=0):
    if depth > 4:
        return []
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, list | tuple):
        return [t for v in obj for t in _tensors(v, depth + 1)]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v, depth + 1)]
    if dataclasses.is_dataclass(obj):
        return [t for f in dataclasses.fields(obj) for t in _tensors(getattr(obj, f.name), depth + 1)]
    if type(obj).__module__.startswith("orthla") and hasattr(obj, "__dict__"):
        return [t for v in vars(obj).values() for t in _tensors(v, depth + 1)]
    return []


GRAD_CASES = [c for c in CASES if "torch" in c.backends and c.arrays
              and any(np.issubdtype(np.asarray(v).dtype, np.floating) for v in c.arrays.values())]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.label for c in GRAD_CASES])
def test_outputs_differentiate_or_carry_no_gradient(case):
    if case.target.split("[")[0] in PENDING:
        pytest.skip("pending: outputs claim a gradient that backward cannot compute")
    arrays = {}
    for k, v in case.arrays.items():
        t = torch.asarray(np.array(v))
        if t.is_floating_point():
            t = t.to(torch.float64).requires_grad_(True)
        arrays[k] = t
    with warnings.catch_warnings():
        # Warnings are the business of each family's tests (e.g. torch's when a grad tensor is
        # read as a Python scalar, a cubature that stops at n_max); here only gradients count.
        warnings.simplefilter("ignore")
        out = case.call(txp, **arrays)
    live = [t for t in _tensors(out) if t.requires_grad]
    if not live:
        return
    total = sum((t.real if t.is_complex() else t).sum() for t in live)
    total.backward()  # must not raise (e.g. "modified by an inplace operation")


@pytest.fixture
def f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("kind", ["lattice", "net"])
def test_kernel_weights_gradient(kind, f64):
    if kind == "lattice":
        x = torch.asarray(orthla.qmc.Lattice(3, rng=1).random(16))
        K = orthla.qmc.ShiftInvariantKernel
    else:
        x = torch.asarray(orthla.qmc.Sobol(3, rng=1).random(16))
        K = orthla.qmc.DigitalShiftInvariantKernel
    w = torch.tensor([1.0, 0.5, 0.25], requires_grad=True)
    scale = torch.tensor(0.7, requires_grad=True)
    y = torch.asarray(np.random.default_rng(0).standard_normal(16))

    def quad(w, scale):
        return y @ (K(3, alpha=2, weights=w, scale=scale)(x) @ y)

    assert torch.autograd.gradcheck(quad, (w, scale))

    def quad_w(w):
        return quad(w, 1.0)
    # and the gradient is not zero: the weights really enter the values
    quad_w(w).backward()
    assert float(torch.linalg.vector_norm(w.grad)) > 0


def _spd(n, seed):
    g = np.random.default_rng(seed).standard_normal((n, n))
    return torch.asarray(g @ g.T / n + np.eye(n))


def test_kron_eigh_logdet_and_solve_gradients(f64):
    a0 = _spd(3, 0).requires_grad_(True)
    a1 = _spd(4, 1).requires_grad_(True)
    y = torch.asarray(np.random.default_rng(2).standard_normal(12)).requires_grad_(True)

    def logdet(a0, a1):
        return orthla.KronEigh([(a0 + a0.T) / 2, (a1 + a1.T) / 2]).logdet()

    def solve(a0, a1, y):
        return orthla.KronEigh([(a0 + a0.T) / 2, (a1 + a1.T) / 2]).solve(y, 0.3)

    assert torch.autograd.gradcheck(logdet, (a0, a1))
    assert torch.autograd.gradcheck(solve, (a0, a1, y))


def test_grid_gp_log_marginal_likelihood_gradient(f64):
    rng = np.random.default_rng(3)
    y = torch.asarray(rng.standard_normal(12))
    t0, t1 = (torch.asarray(np.linspace(0, 1, n)) for n in (3, 4))

    def lml(ell):
        k0 = torch.exp(-((t0[:, None] - t0[None, :]) ** 2) / (2 * ell[0] ** 2))
        k1 = torch.exp(-((t1[:, None] - t1[None, :]) ** 2) / (2 * ell[1] ** 2))
        return orthla.GridGP([k0, k1], 0.1, y).log_marginal_likelihood()

    ell = torch.tensor([0.5, 0.7], requires_grad=True)
    assert torch.autograd.gradcheck(lml, (ell,))


@pytest.mark.parametrize("fn", ["mgs_qr", "jacobi_eigh", "jacobi_svd"])
def test_in_place_algorithms_detach(fn, f64):
    a = torch.asarray(np.random.default_rng(4).standard_normal((6, 6)))
    a = (a @ a.T + torch.eye(6)).requires_grad_(True)
    out = getattr(orthla, fn)(a)
    assert not any(t.requires_grad for t in _tensors(out))
    assert a.requires_grad and a.grad is None  # the caller's tensor is untouched


@pytest.mark.parametrize("kind", ["lattice", "net"])
def test_fast_gram_logdet_and_solve_gradients(kind, f64):
    # The GP objective on QMC points: gradients in the kernel weights flow through the fast
    # transform of the first Gram column (FFT or Walsh), checked against finite differences.
    if kind == "lattice":
        x = torch.asarray(orthla.qmc.Lattice(2, rng=2).random(16))
        K = orthla.qmc.ShiftInvariantKernel
    else:
        x = torch.asarray(orthla.qmc.Sobol(2, rng=2).random(16))
        K = orthla.qmc.DigitalShiftInvariantKernel
    y = torch.asarray(np.random.default_rng(5).standard_normal(16))

    def objective(w):
        g = orthla.qmc.FastGram(x, K(2, alpha=2, weights=w), noise=1e-3)
        return g.logdet() + y @ g.solve(y)

    w = torch.tensor([0.8, 0.3], requires_grad=True)
    out = objective(w)
    assert out.ndim == 0 and out.requires_grad
    assert torch.autograd.gradcheck(objective, (w,))
