"""Contract cases for orthla.ortho.msign and orthla.ortho.polar (see ``_case.Case``).

Both are scale-invariant in ``U`` (``H`` scales with the input), so every case is homogeneous.
The checks are independent of the library: NumPy's SVD in float64 with the singular values
pushed through the schedule's polynomials (``msign``) or set to one (``polar``).
"""

import numpy as np

from orthla.ortho import msign, polar
from orthla.ortho._schedules import resolve_schedule

from ._case import Case, host

_rng = np.random.default_rng(20261213)
A74 = _rng.standard_normal((7, 4))
A47 = _rng.standard_normal((4, 7))
A255 = _rng.standard_normal((2, 5, 3))


def _as64(a):
    a = np.asarray(a)
    a = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
    amax = np.max(np.abs(a), axis=(-2, -1), keepdims=True)
    return a / np.where(amax > 0, amax, 1.0), amax


def _msign_reference(a, schedule, steps, norm):
    """W p(S / ||a||) V^H with the composed scalar polynomial: the exact-arithmetic msign."""
    x, _ = _as64(a)
    w, s, vh = np.linalg.svd(x, full_matrices=False)
    sched = resolve_schedule(schedule, steps)
    if norm == "fro":
        nrm = np.sqrt(np.sum(s**2, axis=-1, keepdims=True))
    else:
        nrm = np.sum(s**4, axis=-1, keepdims=True) ** 0.25
    t = s / (nrm * sched.divisor)
    for ca, cb, cc in sched.coefficients:
        t = ca * t + cb * t**3 + cc * t**5
    return (w * t[..., None, :]) @ vh


def _check_msign(schedule, steps, norm="fro"):
    def check(res, arrays):
        u = host(res).astype(np.complex128 if np.iscomplexobj(host(res)) else np.float64)
        ref = _msign_reference(arrays["a"], schedule, steps, norm)
        assert u.shape == ref.shape
        np.testing.assert_allclose(u, ref, rtol=0, atol=1e-11)

    return check


def _check_polar(side):
    def check(res, arrays):
        u, h = (host(x) for x in res)
        x, amax = _as64(arrays["a"])
        w, s, vh = np.linalg.svd(x, full_matrices=False)
        np.testing.assert_allclose(u, w @ vh, rtol=0, atol=1e-11)
        if side == "right":
            h_ref = (np.swapaxes(vh, -1, -2).conj() * s[..., None, :]) @ vh
        else:
            h_ref = (w * s[..., None, :]) @ np.swapaxes(w, -1, -2).conj()
        # H scales with the input: compare relative to the input's largest entry
        np.testing.assert_allclose(h / amax, h_ref, rtol=0, atol=1e-11)

    return check


CASES = [
    Case("msign", lambda xp, a: msign(a), {"a": A74}, id="polar-express",
         homogeneous=True, check=_check_msign("polar-express", None)),
    Case("msign", lambda xp, a: msign(a, schedule="muon"), {"a": A47}, id="muon-wide",
         homogeneous=True, check=_check_msign("muon", None)),
    Case("msign", lambda xp, a: msign(a, schedule="cubic", steps=12, norm="schatten4"), {"a": A255},
         id="cubic-batched-schatten4", homogeneous=True, check=_check_msign("cubic", 12, "schatten4")),
    Case("msign", lambda xp, a: msign(a, schedule=[(2.0, -1.5, 0.5), (1.5, -0.5)], return_info=True)[0],
         {"a": A74}, id="custom-info", homogeneous=True,
         check=_check_msign([(2.0, -1.5, 0.5), (1.5, -0.5, 0.0)], None)),
    Case("polar", lambda xp, a: polar(a), {"a": A74}, id="auto", homogeneous=True, check=_check_polar("right")),
    Case("polar", lambda xp, a: polar(a, method="qdwh"), {"a": A74}, id="qdwh",
         homogeneous=True, check=_check_polar("right")),
    Case("polar", lambda xp, a: polar(a, method="newton-schulz", side="left"), {"a": A47},
         id="newton-schulz-left", homogeneous=True, check=_check_polar("left")),
    Case("polar", lambda xp, a: polar(a, method="svd"), {"a": A255}, id="svd-batched",
         homogeneous=True, check=_check_polar("right")),
    Case("polar", lambda xp, a: polar(a, method="qdwh", side="left"), {"a": A255}, id="qdwh-batched-left",
         homogeneous=True, check=_check_polar("left")),
]
