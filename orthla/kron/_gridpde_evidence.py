"""Log evidence of a field on a tensor grid under a product spectral-mixture GP, with its gradient.

Private helper of :func:`orthla.kron.fit_grid_pde_spectrum`: ``-log N(vec(U) | 0, K_1 ⊗ ⋯ ⊗ K_d + s2 I)``
and its derivatives in every mixture parameter, through one symmetric eigendecomposition per axis.
"""

from __future__ import annotations

import math
from typing import Any

from ._modeprod import multi_mode_product
from ._spectral_kernels import _matern_poly

TWO_PI = 2 * math.pi


def sm_gram_and_derivatives(g: Any, mu: Any, log_s: Any, lw: Any, xp: Any, *, grad: bool = True,
                            spectrum: str = "gaussian", dof: int | None = None) -> tuple:
    """``K = k(g, g)`` of the mixture and ``contract(G) = (sum_ij G_ij dK_ij / dθ)`` for θ = mu, log s, log w.

    On a uniform grid (NumPy or torch) the kernel and its derivatives are evaluated at the
    ``2n - 1`` lags only and the contraction runs over the diagonal sums of ``G``: ``O(n Q + n^2)``
    instead of ``O(n^2 Q)`` work and memory.
    """
    lags = _uniform_lags(g, xp)
    if lags is not None:
        n = int(g.shape[0])
        vals, der = _components(lags[:, None], mu, log_s, lw, xp, grad, spectrum, dof)
        idx = _lag_index(n, xp, g.device)
        gram = xp.reshape(xp.take(xp.sum(vals, axis=1), idx), (n, n))

        def contract_lags(gk):
            sums = _diagonal_sums(gk, idx, 2 * n - 1, xp)
            return tuple(sums @ d for d in der)

        return gram, (contract_lags if grad else None)
    t = (g[:, None] - g[None, :])[:, :, None]
    vals, der = _components(t, mu, log_s, lw, xp, grad, spectrum, dof)
    gram = xp.sum(vals, axis=2)

    def contract(gk):
        return tuple(xp.sum(gk[:, :, None] * d, axis=(0, 1)) for d in der)

    return gram, (contract if grad else None)


def _uniform_lags(g: Any, xp: Any) -> Any:
    """The lags ``(i - n + 1) h``, i < 2n - 1, of a uniform grid on NumPy/torch; else None."""
    from .._backend import is_numpy, is_torch

    n = int(g.shape[0])
    if n < 3 or not (is_numpy(xp) or is_torch(xp)):
        return None
    steps = g[1:] - g[:-1]
    h = (g[-1] - g[0]) / (n - 1)
    if float(xp.max(xp.abs(steps - h))) > 1e-12 * float(xp.abs(g[-1] - g[0])):
        return None
    k = xp.arange(-(n - 1), n, dtype=g.dtype, device=g.device)
    return k * h


def _lag_index(n: int, xp: Any, device: Any) -> Any:
    i = xp.arange(n, device=device)
    return xp.reshape(i[:, None] - i[None, :] + (n - 1), (-1,))


def _diagonal_sums(gk: Any, idx: Any, m: int, xp: Any) -> Any:
    """``S_l = sum_{i - j = l} G_ij`` (NumPy bincount, torch index_add)."""
    from .._backend import is_numpy

    flat = xp.reshape(gk, (-1,))
    if is_numpy(xp):
        import numpy as np

        return np.bincount(idx, weights=flat, minlength=m)
    return xp.zeros(m, dtype=gk.dtype, device=gk.device).index_add(0, idx, flat)


def _components(t: Any, mu: Any, log_s: Any, lw: Any, xp: Any, grad: bool, spectrum: str, dof: int | None) -> tuple:
    """Components ``w_q k_q(t)`` (on a last axis of ``t``'s broadcast with the parameters) and their derivatives."""
    s = xp.exp(log_s)
    b = TWO_PI * mu
    cos = xp.cos(b * t)
    if spectrum == "gaussian":
        a = (2 * math.pi**2) * s * s
        env = xp.exp(lw - a * t * t)
    else:  # Student-t: Matérn envelope P(y) exp(-y), y = lam |t|, lam = 2 pi sqrt(dof) s
        assert dof is not None
        y = (TWO_PI * math.sqrt(dof)) * s * xp.abs(t)
        env = xp.exp(lw - y) * _horner(_matern_poly(dof, 0), y)
    comp = env * cos
    if not grad:
        return comp, None
    d_mu = env * xp.sin(b * t) * (-TWO_PI * t)
    if spectrum == "gaussian":
        d_logs = comp * (-2 * a) * (t * t)
    else:  # d/dlog s of P(y) e^{-y} = y (P'(y) - P(y)) e^{-y}
        assert dof is not None
        d_logs = xp.exp(lw - y) * y * _horner(_matern_poly(dof, 1), y) * cos
    return comp, (d_mu, d_logs, comp)


def _horner(coefs: list, y: Any) -> Any:
    out = coefs[-1] + 0 * y
    for c in coefs[-2::-1]:
        out = out * y + c
    return out


def neg_log_evidence(u: Any, grids: list, params: list, log_noise: float, xp: Any, *, grad: bool = True,
                     spectrum: str = "gaussian", dof: int | None = None) -> tuple:
    """``-log N(vec(u) | 0, ⊗_k K_k + s2 I)`` up to ``N log(2 pi) / 2``, and its gradient.

    ``params[k] = (mu, log_s, lw)`` of axis ``k`` (1-D arrays of ``xp``).  Returns
    ``(value, grads, d_log_noise)`` with ``grads[k] = (d_mu, d_log_s, d_lw)``; gradients are
    ``None`` when ``grad`` is false.  ``O(sum n_k^3 + N sum n_k + sum n_k Q_k)`` flops on uniform
    NumPy/torch axes (lag route), ``n_k^2 Q_k`` in place of ``n_k Q_k`` otherwise.

    With ``K_k = Q_k diag(l_k) Q_k^T``, ``W = 1 / (l_1 ⊗ ⋯ ⊗ l_d + s2)`` and
    ``alpha = (K + s2 I)^{-1} u``: ``d/dθ = tr(G_k dK_k/dθ)`` for a parameter of axis ``k``
    with ``G_k = (Q_k diag(v_k) Q_k^T - A_k B_k^T) / 2``, ``v_k`` the sum of ``W prod_{j != k} l_j``
    over the other axes, ``A_k``/``B_k`` the mode-``k`` unfoldings of ``alpha`` and of
    ``alpha ×_{j != k} K_j`` (Saatci's Kronecker gradient formulas).
    """
    d = len(grids)
    grams, derivs, vecs, vals = [], [], [], []
    for g, (mu, log_s, lw) in zip(grids, params, strict=True):
        gram, contract = sm_gram_and_derivatives(g, mu, log_s, lw, xp, grad=grad, spectrum=spectrum, dof=dof)
        lam, vec = xp.linalg.eigh(gram)
        grams.append(gram)
        derivs.append(contract)
        vals.append(xp.clip(lam, 0.0, None))  # a PSD kernel: negative values are rounding
        vecs.append(vec)
    s2 = math.exp(log_noise)
    lam = vals[0]
    for lk in vals[1:]:
        lam = lam[..., None] * lk
    w = 1.0 / (lam + s2)
    coef = w * multi_mode_product(u, [v.mT for v in vecs])
    alpha = multi_mode_product(coef, vecs)
    value = 0.5 * xp.sum(u * alpha) + 0.5 * xp.sum(xp.log(lam + s2))
    if not grad:
        return value, None, None
    grads = []
    for k in range(d):
        other = w
        for j in range(d):
            if j != k:
                shape = [1] * d
                shape[j] = int(vals[j].shape[0])
                other = other * xp.reshape(vals[j], tuple(shape))
        nk = int(vals[k].shape[0])
        v = xp.sum(xp.reshape(xp.moveaxis(other, k, 0), (nk, -1)), axis=1)
        trace = (vecs[k] * v) @ vecs[k].mT
        mats = [None if j == k else grams[j] for j in range(d)]
        b = multi_mode_product(alpha, mats) if d > 1 else alpha
        au = xp.reshape(xp.moveaxis(alpha, k, 0), (nk, -1))
        bu = xp.reshape(xp.moveaxis(b, k, 0), (nk, -1))
        m = au @ bu.mT
        gk = 0.5 * (trace - 0.5 * (m + m.mT))
        grads.append(derivs[k](gk))
    d_noise = 0.5 * (xp.sum(w) - xp.sum(alpha * alpha)) * s2
    return value, grads, d_noise
