"""The contract every public callable keeps, swept over hostile variants of its array arguments.

For each registered case (``cases_<family>.py``) and backend: the example call works and passes its
check; then each array argument is replaced in turn by a mutation (see ``_case.MUTATIONS``) and the
outcome must be one the contract allows:

* invalid input (NaN, inf, bool, object, float16 where unsupported, wrong ndim...) raises
  ``ValueError``/``TypeError`` whose message names the argument;
* masked arrays, ``np.matrix`` and arrays of another library raise ``TypeError``;
* valid variants (strided, Fortran order, read-only, a list) give the same result as the example;
* any result from finite input is finite; homogeneous cases scaled by 2**±500 still pass the check;
* no input is ever modified, and no call runs past its time limit (the run is killed with a
  traceback, since a hang inside LAPACK cannot be interrupted).

``test_registry_covers_public_api`` fails when a public function, class or method has no case.
"""

from __future__ import annotations

import copy
import faulthandler
import importlib
import inspect
import pkgutil
import warnings
from dataclasses import is_dataclass
from pathlib import Path

import numpy as np
import pytest

import orthla
from orthla._testing import to_host

from ._case import MUTATIONS, Case

FAMILIES = ("kron", "ortho", "pivoting", "qmc", "svdupdate", "tensor")
CALL_TIMEOUT_S = 120.0


def _load_cases() -> list[Case]:
    cases: list[Case] = []
    here = [str(Path(__file__).parent)]
    for info in sorted(pkgutil.iter_modules(here), key=lambda i: i.name):
        if info.name.startswith("cases_"):
            cases.extend(importlib.import_module(f"{__package__}.{info.name}").CASES)
    return cases


CASES = _load_cases()


# ---------------------------------------------------------------- the public surface

def _is_data_type(cls: type) -> bool:
    # Results and records: named tuples and dataclasses are built by orthla, not by users.
    return issubclass(cls, tuple) or is_dataclass(cls) or issubclass(cls, Warning)


def _public_methods(cls: type) -> list[str]:
    names = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("orthla"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in names:
                continue
            if isinstance(value, staticmethod | classmethod) or inspect.isfunction(value):
                names.append(name)
    return names


def public_targets() -> set[str]:
    """Every public callable: functions, user-built classes and their methods."""
    targets: set[str] = set()
    for fam in FAMILIES:
        try:
            mod = importlib.import_module(f"orthla.{fam}")
        except ImportError:
            continue
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj):
                if not _is_data_type(obj):
                    targets.add(name)
                targets.update(f"{name}.{m}" for m in _public_methods(obj))
            elif callable(obj):
                targets.add(name)
    return targets


def test_registry_covers_public_api():
    registered = {c.target for c in CASES}
    missing = sorted(public_targets() - registered)
    assert not missing, f"public callables without a contract case: {missing}"
    unknown = sorted(registered - public_targets())
    assert not unknown, f"contract cases for names that are not public: {unknown}"


def test_top_level_exports_are_family_names():
    for name in orthla.__all__:
        obj = getattr(orthla, name)
        assert inspect.ismodule(obj) or name == "__version__" or any(
            name in getattr(orthla, fam).__all__ for fam in FAMILIES if hasattr(orthla, fam)
        ), name


# ---------------------------------------------------------------- mutations

NUMPY_ONLY = {"float16", "object", "noncontig", "fortran", "readonly", "list", "masked", "matrix"}
SCALE = {"big": 2.0**500, "small": 2.0**-500}


def _backend_name(xp) -> str:
    name = xp.__name__
    for b in ("array_api_strict", "torch", "cupy", "numpy"):
        if b in name:
            return b
    return name


def mutate(a: np.ndarray, kind: str):
    """The mutated argument (a NumPy object or a Python list), or None when not applicable."""
    real = not np.iscomplexobj(a)
    floating = np.issubdtype(a.dtype, np.inexact)
    if kind in ("nan", "inf"):
        if a.size == 0 or not floating:
            return None
        b = a.copy()
        b.flat[a.size // 2] = np.nan if kind == "nan" else np.inf
        return b
    if kind == "empty":
        shape = list(a.shape)
        if not shape:
            return None
        if len(shape) >= 2 and shape[-1] == shape[-2]:
            shape[-1] = shape[-2] = 0
        else:
            shape[0] = 0
        return np.zeros(shape, a.dtype)
    if kind == "ndim_up":
        return a[None].copy()
    if kind == "ndim_down":
        return a[0].copy() if a.ndim else None
    if kind == "bool":
        return a != 0
    if kind == "int":
        return np.round(a).astype(np.int64) if real and floating else None
    if kind == "float16":
        return a.astype(np.float16) if real and floating else None
    if kind == "float32":
        return a.astype(np.complex64 if not real else np.float32) if floating else None
    if kind == "complex":
        return a.astype(np.complex128) if real and floating else None
    if kind == "object":
        return a.astype(object)
    if kind == "noncontig":
        if a.ndim == 0 or a.size == 0:
            return None
        b = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
        b[..., ::2] = a
        return b[..., ::2]
    if kind == "fortran":
        return np.asfortranarray(a) if a.ndim >= 2 else None
    if kind == "readonly":
        b = a.copy()
        b.setflags(write=False)
        return b
    if kind == "list":
        return a.tolist() if a.ndim else None
    if kind == "masked":
        if a.size == 0:
            return None
        mask = np.zeros(a.shape, bool)
        mask.flat[0] = True
        return np.ma.masked_array(a, mask=mask)
    if kind == "matrix":
        if a.ndim != 2:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return np.asmatrix(a)
    if kind == "mixed":
        return a.copy()
    if kind in SCALE:
        return a * SCALE[kind] if floating else None
    raise AssertionError(kind)


def _as_host(value) -> np.ndarray:
    """NumPy view of what the reference check sees for a mutated argument."""
    if isinstance(value, list):
        return np.asarray(value)
    if isinstance(value, np.ndarray):
        return np.asarray(value)
    return to_host(value)


def _leaves(obj, depth=0):
    """Floating arrays inside a result (tuples, lists, dicts, dataclasses, plain objects)."""
    if depth > 4 or obj is None or isinstance(obj, str | bytes | bool | int):
        return
    if isinstance(obj, float | complex | np.floating | np.complexfloating):
        yield np.asarray(obj)
        return
    if isinstance(obj, tuple | list):
        for o in obj:
            yield from _leaves(o, depth + 1)
        return
    if isinstance(obj, dict):
        for o in obj.values():
            yield from _leaves(o, depth + 1)
        return
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        try:
            h = to_host(obj)
        except Exception:
            return
        if np.issubdtype(h.dtype, np.inexact):
            yield h
        return
    if is_dataclass(obj) or hasattr(obj, "__dict__"):
        for key, o in vars(obj).items():
            if not key.startswith("__"):
                yield from _leaves(o, depth + 1)


def _call(case: Case, xp, passed: dict):
    """Run the call; return ("ok", result) or ("raised", exception)."""
    faulthandler.dump_traceback_later(CALL_TIMEOUT_S, exit=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = ("ok", case.call(xp, **passed))
            except Exception as exc:  # the contract decides which types are allowed
                out = ("raised", exc)
    finally:
        faulthandler.cancel_dump_traceback_later()
    numeric = [w for w in caught if w.category in (RuntimeWarning, np.exceptions.ComplexWarning)]
    if numeric:
        raise AssertionError(f"{case.label}: NumPy warned during the call: {numeric[0].message}")
    return out


def _to_backend(xp, a: np.ndarray):
    return xp.asarray(np.array(a, copy=True))


def _assert_same(res, base, what):
    got = list(_leaves(res))
    want = list(_leaves(base))
    assert len(got) == len(want), f"{what}: result structure differs from the example call's"
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
        scale = max(float(np.max(np.abs(w))) if w.size else 0.0, 1e-300)
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-10 * scale, err_msg=what)


def _assert_finite(case, res, what):
    if not case.finite_result:
        return
    for leaf in _leaves(res):
        assert np.all(np.isfinite(leaf)), f"{what}: non-finite output from finite input"


def _assert_named_error(exc, case: Case, key: str, what: str, types=(ValueError, TypeError)):
    if not isinstance(exc, types):
        raise AssertionError(f"{what}: raised {type(exc).__name__}, not {types}: {exc}") from exc
    if types == (TypeError,):
        return
    name = case.arg_name(key)
    assert name in str(exc), f"{what}: the message does not name `{name}`: {exc}"


@pytest.fixture(params=CASES, ids=lambda c: c.label)
def case(request):
    return request.param


def test_example_call(case, xp):
    """The registered call works on this backend and passes its own check."""
    bname = _backend_name(xp)
    if bname not in case.backends:
        pytest.skip(f"{case.label} does not support {bname}")
    passed = {k: _to_backend(xp, v) for k, v in case.arrays.items()}
    status, res = _call(case, xp, passed)
    if status == "raised":
        raise res
    _assert_finite(case, res, case.label)
    if case.check is not None:
        case.check(res, dict(case.arrays))


@pytest.mark.parametrize("kind", MUTATIONS)
def test_contract_sweep(case, xp, kind):
    """Every array argument of the case, replaced by one mutation, keeps the contract."""
    bname = _backend_name(xp)
    if bname not in case.backends:
        pytest.skip(f"{case.label} does not support {bname}")
    if kind in case.skip:
        pytest.skip(case.skip[kind])
    if kind in NUMPY_ONLY and bname != "numpy":
        pytest.skip("a NumPy-only variant")
    if kind == "mixed" and (bname == "numpy" or len(case.arrays) < 2):
        pytest.skip("needs two array arguments on a non-NumPy backend")
    if not case.arrays:
        pytest.skip("no array arguments")
    base_passed = {k: _to_backend(xp, v) for k, v in case.arrays.items()}
    status, base = _call(case, xp, base_passed)
    if status == "raised":
        raise base
    ran = False
    for key, a in case.arrays.items():
        m = mutate(np.asarray(a), kind)
        if m is None:
            continue
        ran = True
        what = f"{case.label} on {bname}: `{key}` {kind}"
        passed = dict(base_passed)
        if kind in NUMPY_ONLY or kind == "mixed":
            passed[key] = m
        else:
            passed[key] = _to_backend(xp, m)
        before = {k: copy.deepcopy(v) if isinstance(v, list) else np.array(_as_host(v), copy=True)
                  for k, v in passed.items()}
        status, out = _call(case, xp, passed)
        for k, v in passed.items():
            now = v if isinstance(v, list) else _as_host(v)
            if isinstance(v, list):
                assert now == before[k], f"{what}: the call modified `{k}`"
            else:
                np.testing.assert_array_equal(now, before[k], err_msg=f"{what}: the call modified `{k}`")
        host_arrays = {k: (_as_host(v) if k == key else np.asarray(case.arrays[k]))
                       for k, v in passed.items()}
        _judge(case, key, kind, what, status, out, base, host_arrays)
    if not ran:
        pytest.skip(f"{kind} does not apply to these arguments")


def _judge(case, key, kind, what, status, out, base, host_arrays):
    if kind in ("masked", "matrix", "mixed"):
        assert status == "raised", f"{what}: accepted (must raise TypeError)"
        _assert_named_error(out, case, key, what, types=(TypeError,))
        return
    if kind in ("noncontig", "fortran", "readonly", "list"):
        if status == "raised":
            raise AssertionError(f"{what}: valid input refused: {out!r}") from out
        _assert_same(out, base, what)
        return
    if kind in ("nan", "inf"):
        if kind in case.accepts:
            if status == "raised":
                raise AssertionError(f"{what}: documented input refused: {out!r}") from out
            return
        assert status == "raised", f"{what}: accepted silently"
        _assert_named_error(out, case, key, what)
        return
    if kind in ("bool", "object") and kind not in case.accepts:
        assert status == "raised", f"{what}: accepted silently"
        _assert_named_error(out, case, key, what)
        return
    if kind in SCALE and case.homogeneous:
        if status == "raised":
            raise AssertionError(f"{what}: a homogeneous call refused a scaled input: {out!r}") from out
        _assert_finite(case, out, what)
        if case.check is not None:
            case.check(out, host_arrays)
        return
    # empty, ndim changes, int, float16, float32, complex, non-homogeneous scales:
    # a result (finite, and right where checkable) or a named error.
    if status == "raised":
        if kind in case.accepts:
            raise AssertionError(f"{what}: documented input refused: {out!r}") from out
        _assert_named_error(out, case, key, what)
        return
    _assert_finite(case, out, what)
    if kind == "int" and case.check is not None:
        case.check(out, host_arrays)
