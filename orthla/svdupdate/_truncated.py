"""A truncated SVD kept current as rows, columns and low-rank terms arrive or leave."""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import numbers
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import scipy.linalg
from scipy.linalg import blas, lapack

from .._backend import array_namespace, capability, device, is_numpy, numba_available
from .._validate import (
    as_floating,
    as_rng,
    check_bool,
    check_choice,
    check_finite,
    check_int,
    check_ndim,
    check_real,
    eps,
)
from . import _basis, _dispatch
from ._basis import GRAM_MIN_BATCH, METHODS, W_FROM_G_MAX_COND, is_exact, residual_basis, robust_svd
from ._dispatch import STRATEGIES, Prediction
from ._extended import append_sparse_rows_extended as _append_sparse_rows_extended
from ._kept import KeptMatrix
from ._operand import (
    as_dense,
    as_operand,
    binary_exponent,
    check_arraylike,
    dense,
    fro_norm,
    is_sparse,
    namespace_of,
    rmatmul,
    transpose,
)

__all__ = ["TruncatedSVD", "UpdateRecord"]

FIT_METHODS = ("exact", "rpi")
#: Sparse row batches of at most this many rows, on a V with at least this many
#: n r^2 flops, use the extended right basis V = V' K_v.
V_EXTENDED_MAX_BATCH = 256
V_EXTENDED_MIN_WORK = 1_000_000
#: Appended rows keep U = U' K_u when the factor has at least this many m r^2 flops.
U_EXTENDED_MIN_WORK = 1_000_000
#: ... or at least this many within a run of appends of one kind (rows after rows, or
#: right after the fit): measured on dense single rows and 5-40-row batches at r = 10-20,
#: with the extended form's small factorizations in LAPACK, from about 1.5e5 the extended
#: form costs less than rotating U (25% less per row at m = 10^4, r = 14).  Not across
#: a switch between rows and columns: there a small graph grown node by node (2000 nodes,
#: r = 20, where V stays explicit) would enter the form (a Gram matrix, O(m r^2)) at every
#: row and fold it at every column, 25% slower than rotating.
U_EXTENDED_RUN_MIN_WORK = 150_000
#: Sparse batches of at most this many rows (columns for ``add_columns``) that the
#: planner sends to the dense path are densified and take the lean path (measured: the
#: node-by-node graph and 10-row sparse batches, where sparse bookkeeping dominated).
LEAN_SPARSE_MAX_BATCH = 64
#: The orthogonality monitor takes the exact ``||U^T U - I||_2`` every this many updates.
FULL_CHECK_EVERY = 32
#: Between probes the loss of orthogonality is bounded by ``PROBE_GROWTH sqrt(max(m, n))
#: eps`` per update (raised per state to the measured drift if that is larger) and the
#: probe skips at most ``PROBE_MAX_SKIP`` updates (0: probe after every update).
PROBE_GROWTH = 1.0
PROBE_MAX_SKIP = 8
#: The slots of the left and the right factor (basis, small factor, row buffer, Gram
#: matrix, condition bound): a column append is a row append with them exchanged.
_FACTOR_SLOTS = (("_Ub", "_Vb"), ("_Ku", "_Kv"), ("_Ubuf", "_Vbuf"), ("_Gu", "_Gv"),
                 ("_cond_ku", "_cond_kv"))


class UpdateRecord(NamedTuple):
    """What one update did and what the state monitored afterwards.

    Attributes
    ----------
    kind : str
        ``"fit"``, ``"add_rows"``, ``"add_columns"``, ``"update"``, ``"remove_rows"``
        or ``"remove_columns"``.
    method : str
        Residual method actually used (``"exact"`` when ``l`` covered the whole batch).
    shape : tuple of int
        Shape of the tracked matrix after the update.
    residual_rank : int
        Number of new basis directions taken from the residual(s).
    residual_sigma_min : float
        Smallest kept residual singular value relative to the threshold scale: how
        close the residual basis came to the rank threshold (``nan`` if not measured).
        For batches of several rows on the lean NumPy path (dense, or small sparse
        ones densified; see Notes of :class:`TruncatedSVD`) it is the certified lower bound ``1 / ||T^-1||_F`` of
        the residual's triangular factor ``T``, within ``sqrt(p)`` of the value.
    ortho_u, ortho_v : float
        Estimated ``||U^T U - I||`` and ``||V^T V - I||`` after the update (before any
        re-orthogonalization it triggered): the probe's estimate, or for an update the
        probe skipped the bound from the last estimate (see Notes of
        :class:`TruncatedSVD`).
    reorthogonalized : bool
        Whether ``U`` and ``V`` were re-orthonormalized after this update.
    cond_k : float
        Condition number of the small factor ``K_u`` of the extended left basis
        ``U = U' K_u`` after the update, or an upper bound of it (1.0 when ``U`` is
        held explicitly); measured exactly whenever the bound exceeds ``max_cond_k``.
        For ``add_columns`` the same for ``K_v`` of the growing ``V = V' K_v``.
    path : str
        The path the update took: ``"sparse"`` (Deng et al.'s sparse inner product or
        extended basis), ``"dense"`` (Zha-Simon on the dense residual, or the
        ``"gkl"``/``"rpi"`` operator), ``"recompute"`` (SVD of the kept matrix; also
        :meth:`TruncatedSVD.fit`) or ``"downdate"`` (removals).
    predicted : tuple or None
        Under ``strategy="auto"``, a named tuple ``(sparse, dense, recompute)`` of the
        predicted seconds of each path (``nan`` where a path did not apply: no sparse
        batch, no kept matrix); ``None`` when the path was requested explicitly, and for
        fit and removals.
    """

    kind: str
    method: str
    shape: tuple[int, int]
    residual_rank: int
    residual_sigma_min: float
    ortho_u: float
    ortho_v: float
    reorthogonalized: bool
    cond_k: float = 1.0
    path: str = "dense"
    predicted: Prediction | None = None


def _validated_matrix(A: Any, name: str) -> tuple[Any, Any]:
    """Return ``(xp, A)`` for dense (any namespace, or a list) or sparse input, validated."""
    check_arraylike(A, name)
    if is_sparse(A):
        xp = namespace_of(A)
        dt = A.dtype if A.dtype in (np.float32, np.float64) else np.float64
        A = as_operand(A, name, xp, dt)
    else:
        xp = array_namespace(A)
        A = as_operand(A, name, xp, None)
    if min(A.shape) == 0:
        raise ValueError(f"`{name}` is empty (shape {tuple(A.shape)}); a truncated SVD needs at "
                         "least one row and one column.")
    return xp, A


def _validated_factors(xp, U, s, V):
    """The constructor's ``U``, ``s``, ``V``: arrays of ``xp`` with one real floating dtype.

    Returns ``(U, s, V, eps)`` with ``eps`` the machine epsilon of the least precise input
    (what the orthonormality of the factors can be held to).
    """
    out, e = [], 0.0
    for name, x, nd in (("U", U, 2), ("s", s, 1), ("V", V, 2)):
        x = as_dense(x, name, xp)
        check_ndim(x, name, nd)
        x = as_floating(x, name, xp, allow_complex=False)
        check_finite(x, name, xp)
        e = max(e, eps(x.dtype, xp))
        out.append(x)
    U, s, V = out
    r = s.shape[0]
    if r == 0:
        raise ValueError("`s` must hold at least one singular value; got shape (0,).")
    if U.shape[1] != r or V.shape[1] != r:
        raise ValueError(f"`U`, `s`, `V` must have matching numbers of components; got shapes "
                         f"{tuple(U.shape)}, {tuple(s.shape)}, {tuple(V.shape)}.")
    for name, x in (("U", U), ("V", V)):
        if x.shape[0] < r:
            raise ValueError(f"`{name}` has {x.shape[0]} rows, fewer than its {r} columns, so "
                             f"they cannot be orthonormal; got shape {tuple(x.shape)}.")
    dt = xp.result_type(U, s, V)
    U, s, V = (x if x.dtype == dt else xp.astype(x, dt) for x in (U, s, V))
    smin = float(xp.min(s))
    if smin < 0:
        raise ValueError(f"`s` must be non-negative (singular values); got min(s) = {smin!r}.")
    if r > 1:
        rise = s[1:] - s[:-1]
        if bool(xp.any(rise > 0)):
            i = int(xp.argmax(xp.astype(rise > 0, xp.int8))) + 1
            raise ValueError(f"`s` must be non-increasing (singular values in descending order); "
                             f"got s[{i}] = {float(s[i])!r} > s[{i - 1}] = {float(s[i - 1])!r}.")
    return U, s, V, e


def _orthonormal_tolerances(e, size):
    """``(exact, loose)`` bounds on ``||X^T X - I||_2`` for the constructor's factors.

    ``exact = 10 max(100, 10 sqrt(size)) e``, ten times the default ``ortho_tol``:
    LAPACK's factors are orthonormal to a few ``sqrt(size) eps`` and a state's own ones to
    ``ortho_tol`` (re-orthonormalized beyond it), so they are kept as given.  ``loose =
    max(exact, sqrt(e))``: semi-orthogonal factors, as Lanczos with partial
    reorthogonalization gives them (``scipy.sparse.linalg.svds(solver="propack")``: loss
    ~1e-10), are accepted and re-orthonormalized; beyond it the input is not an SVD.
    """
    exact = 10.0 * max(100.0, 10.0 * math.sqrt(size)) * e
    return exact, max(exact, math.sqrt(e))


def _check_orthonormal(xp, X, name, e, size):
    """``||X^T X - I||_2``; ``ValueError`` above the loose tolerance (see above)."""
    tol = _orthonormal_tolerances(e, size)[1]
    amax = float(xp.max(xp.abs(X)))
    if amax > 2.0:
        # A column norm above 2: ||X^T X - I|| >= amax^2 - 1 (and X^T X could overflow).
        raise ValueError(f"`{name}` must have orthonormal columns; ||{name}^T {name} - I||_2 >= "
                         f"{amax * amax - 1.0:.3g} (an entry of magnitude {amax:.3g}); the "
                         f"tolerance is {tol:.3g}.")
    r = X.shape[1]
    S = X.mT @ X - xp.eye(r, dtype=X.dtype, device=device(X))
    loss = float(xp.max(xp.abs(xp.linalg.eigvalsh((S + S.mT) / 2))))
    if not loss <= tol:
        raise ValueError(f"`{name}` must have orthonormal columns; ||{name}^T {name} - I||_2 = "
                         f"{loss:.3g} exceeds the tolerance {tol:.3g} (sqrt(eps) of its dtype, "
                         f"or 10 max(100, 10 sqrt({size})) eps).")
    return loss


def _all_or_nothing(method):
    """Make an update all-or-nothing: on any exception the state is exactly as before.

    The update works on new arrays and commits at the end, but on its way it may fold an
    extended form (``U' K_u`` formed into ``U``), draw from the random streams or stage
    work; all of that is part of the state's representation, and the next update computes
    from it.  So the attribute dictionary and the update stream are saved on entry and
    put back on failure, and the probe stream is put back to where the probe found it
    (see :func:`_restore`): a failed update followed by an update gives bit for bit what
    the update alone gives.  (In-place writes are confined to the commit, which undoes
    them.)
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        stream = self._rng.bit_generator.state
        n_records = len(self.history)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            _restore(self, saved, n_records)
            self._rng.bit_generator.state = stream
            raise
    return wrapper


def _restore(self, saved, n_records):
    """Put back the attributes ``saved`` on entry to a failed update and its records.

    The probe stream is read only by the orthogonality probe, which saves its state in
    ``_probe_drawn`` before it draws (a new object each time); a ``_probe_drawn`` that is
    not the one saved on entry was written by this update, so the stream goes back to it.
    Saving the stream on every entry instead cost as much as the rest of the guard, on
    updates that mostly skip the probe.
    """
    drawn = self.__dict__.get("_probe_drawn")
    self.__dict__.clear()
    self.__dict__.update(saved)
    if drawn is not None and drawn is not saved.get("_probe_drawn"):
        self._probe_rng.bit_generator.state = drawn
    del self.history[n_records:]


class _ClassOnly(classmethod):
    """A classmethod that refuses to be called through an instance.

    ``TruncatedSVD.fit(A, k)`` builds a new state; ``svd.fit(A)`` on an existing state (the
    scikit-learn habit) would otherwise run the classmethod and silently drop ``svd``, or fail
    with "missing argument 'k'".  Through an instance the attribute is a function that raises
    a ``TypeError`` saying what to call instead.  Still a ``classmethod`` for introspection
    (Sphinx, the contract registry).
    """

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return super().__get__(obj, objtype)
        name = self.__func__.__name__
        cls = type(obj).__name__

        @functools.wraps(self.__func__)
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise TypeError(
                f"`{cls}.{name}` is a classmethod that builds a new state: call "
                f"`{cls}.{name}(A, k)` (it returns the state), not `{name}` on an existing "
                "state; change a state with add_rows/add_columns/update/remove_rows/"
                "remove_columns.  For scikit-learn's estimator interface (fit, partial_fit, "
                "transform, get_params) use `orthla.svdupdate.IncrementalSVD`."
            )

        return refuse


if TYPE_CHECKING:  # type checkers know classmethod; the subclass only changes instance access
    _class_only = classmethod
else:
    _class_only = _ClassOnly


def _clone_rng(gen):
    """An independent generator in ``gen``'s state, its seed sequence copied too.

    ``copy.deepcopy`` goes through pickling (about 0.25 ms per generator, which on a short
    stream of small updates is 5-10% of the work); rebuilding the seed sequence and the
    bit generator and setting the state costs a third of that.  Anything unusual (a bit
    generator without a :class:`numpy.random.SeedSequence`) is deep-copied.
    """
    bg = gen.bit_generator
    ss = getattr(bg, "seed_seq", None)
    if type(gen) is not np.random.Generator or type(ss) is not np.random.SeedSequence:
        return copy.deepcopy(gen)
    ss = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size,
                                n_children_spawned=ss.n_children_spawned)
    new = type(bg)(ss)
    new.state = bg.state
    return np.random.Generator(new)


def _rotate(xp, left, s_pad, right):
    """SVD of the small core; returns its factors (descending singular values)."""
    core = left @ right.mT
    if s_pad is not None:
        core = core + s_pad
    return robust_svd(xp, core, full_matrices=False)


def _diag(xp, s, rows, cols):
    """``diag(s)`` padded with zeros to ``rows x cols``."""
    r = s.shape[0]
    d = xp.eye(r, dtype=s.dtype, device=device(s)) * s[None, :]
    if rows > r:
        d = xp.concat([d, xp.zeros((rows - r, r), dtype=s.dtype, device=device(s))], axis=0)
    if cols > r:
        d = xp.concat([d, xp.zeros((rows, cols - r), dtype=s.dtype, device=device(s))], axis=1)
    return d


@capability("svdupdate", numba=False,
            notes="sparse updates: SciPy sparse on NumPy; CuPy and torch not yet run")
class TruncatedSVD:
    """Rank-k truncated SVD ``A ~= U diag(s) Vt`` kept current under updates.

    Create one with :meth:`TruncatedSVD.fit`; then :meth:`add_rows`,
    :meth:`add_columns`, :meth:`update` (``A + D E^T``), :meth:`remove_rows` and
    :meth:`remove_columns` change the tracked matrix and its SVD in place.  The state
    tracks ``r = k + oversample`` components and exposes the leading ``k``; every
    update is all-or-nothing (on an exception the state is put back exactly as it
    was, extended forms and random streams included, so the next update gives bit for
    bit what it would have given without the failed one).  Works on NumPy (dense or
    SciPy sparse updates) and on any array-API library for dense input; lists are
    converted as NumPy converts them.

    *Not scikit-learn's* ``TruncatedSVD``, although the name is the same: this class is an
    updatable factorization, not an estimator.  ``fit`` is a classmethod that returns a
    new state (``svd = TruncatedSVD.fit(A, k)``; calling it on a state raises
    ``TypeError``), the options go to ``fit``, not to the constructor (which takes
    existing factors ``U, s, V``), the factors are ``U``, ``s`` and ``Vt`` (not
    ``components_``/``singular_values_``), any array-API library and SciPy sparse input
    are accepted, and nothing is centered or sign-flipped.  For the scikit-learn interface
    (``fit``/``partial_fit``/``transform``, pipelines, ``get_params``) use
    :class:`~orthla.svdupdate.IncrementalSVD`, a scikit-learn estimator built on this
    class (``pip install "orthla[sklearn]"``).

    Parameters
    ----------
    U : array, shape (m, r)
        Orthonormal left factor of all ``r`` tracked components.
    s : array, shape (r,)
        Tracked singular values, non-negative and non-increasing.
    V : array, shape (n, r)
        Orthonormal right factor (``Vt = V.T``).  ``U``, ``s`` and ``V`` are real
        (float32/float64, integers promoted; one common dtype is used), finite, and
        copied into the state.  ``||U^T U - I||_2`` and ``||V^T V - I||_2`` must be at
        most ``max(sqrt(eps), 10 max(100, 10 sqrt(max(m, n))) eps)`` (``eps`` of the
        least precise of the three arrays): an ``O((m + n) r^2)`` check, the cost of
        one Gram matrix of each factor (:meth:`fit` skips it, its factors come from
        LAPACK).  Factors within ten times the default ``ortho_tol`` (LAPACK's, a
        state's own) are kept as given; semi-orthogonal ones (Lanczos with partial
        reorthogonalization, ``scipy.sparse.linalg.svds(solver="propack")``) are
        re-orthonormalized on entry: QR of both and the SVD of the ``r x r`` core,
        which keeps ``U diag(s) V^T`` to ``O(loss)`` of its norm.
    k : int
        Number of exposed components, ``1 <= k <= r``.
    decay : float, default 1.0
        Forgetting factor in ``(0, 1]``: before every update the current matrix is
        scaled by ``decay`` (removals are not scaled).
    rtol : float, optional
        Relative rank threshold in ``[0, 1)``: residual directions with singular value
        at most ``rtol * max(s_1, ||update||_F)`` are dropped (default
        ``max(m, n, p) * eps``).
    ortho_tol : float, optional
        Re-orthonormalize ``U`` and ``V`` when the monitored loss of orthogonality
        exceeds this (``>= 0``; ``inf`` switches it off).  Default
        ``max(100, 10 sqrt(max(m, n))) * eps`` for the current shape: rounding alone
        moves ``X^T X`` of an ``n``-row factor by about ``sqrt(n) eps`` per update (and
        its measurement by as much), so a fixed ``100 eps`` would re-orthonormalize a
        20000-row factor for noise.
    rng : {None, int, numpy.random.Generator}
        Randomness for the ``"gkl"``/``"rpi"`` methods and the orthogonality probe.

    Raises
    ------
    ValueError
        NaN/Inf in ``U``, ``s`` or ``V``; wrong ndim or mismatched shapes; ``s``
        negative or increasing; ``U`` or ``V`` without orthonormal columns (the
        message reports the measured loss); ``k`` or an option out of range (NaN
        included).
    TypeError
        Complex, boolean, string, object or float16 arrays, masked arrays,
        ``numpy.matrix``, arrays of different libraries; ``k`` not an integer (a
        boolean included), an option that is not a real number.

    Attributes
    ----------
    decay, rtol, ortho_tol : float
        The options above; assigning one later checks it the same way.
    n_updates : int
        Number of updates applied since :meth:`fit`.
    history : list of UpdateRecord
        One record per call (``fit`` included): method used, residual rank and
        conditioning, monitored orthogonality, re-orthogonalizations.
    max_cond_k : float
        Largest condition number allowed for ``K_u`` and ``K_v`` in the extended
        bases (default 10, finite and ``>= 0``; 0 always folds) before they are
        folded into ``U`` and ``V``.  The
        orthogonality monitor reads ``K^T (U'^T U') K`` from a tracked Gram matrix,
        whose rounding error grows like ``eps cond(K)^2``: 10 keeps it near the
        default ``ortho_tol`` of a small matrix.

    Notes
    -----
    *Exact updates* (Zha-Simon [1]_, Brand [2]_).  For new rows ``E`` (p x n) the
    part of ``E^T`` outside ``range(V)`` is orthonormalized, ``E^T = V C + Q B``
    (Gram-Schmidt with a measured second pass, Householder QR and a relative rank
    threshold), and the SVD of the small ``(r+p) x (r+q)`` matrix
    ``[[diag(s), 0], [C^T, B^T]] = F Theta G^T`` gives ``U_new = [U F_1; F_2]``,
    ``V_new = [V, Q] G``.  The result is the exact rank-``r`` truncated SVD of
    ``U diag(s) V^T`` updated by the new data, so a matrix of rank at most ``r`` is
    tracked to rounding error; otherwise the error is that of the truncations made
    along the way (bounded by the root-sum-square of the discarded singular values).
    Cost per batch: ``O(n p (r + p) + (r + p)^3 + n r (r + q))``.  Sparse batches of
    32 or more rows first try Deng et al.'s inner product [5]_: the residual's Gram
    matrix ``E E^T - C^T C`` (never the dense residual) gives the basis, followed by an
    explicit Cholesky-QR pass and exact coefficients; it is used only when it can be
    certified (bounded condition number, dropped directions measured), otherwise the
    Householder path runs (``history`` records ``"exact-gram"`` or ``"exact"``).  Appended rows use
    the extended form ``U = U' K_u`` of Deng et al. [5]_: the old rows of ``U'`` are
    never touched (``O(p r^2 + r^3)`` on the left instead of ``O(m r^2)``);
    ``cond(K_u)`` is monitored (through the bound ``cond(K_u F_1) <= cond(K_u) /
    sqrt(1 - ||F_2||^2)`` of the CS decomposition, ``O(p r)``, with an exact ``r x r``
    SVD only when the bound exceeds ``max_cond_k``) and ``K_u`` folded into ``U'`` when
    it exceeds ``max_cond_k`` or a new direction displaces an old one (``K_u`` is never
    inverted, the new rows are obtained by a solve).  Sparse row batches (up to 256 rows)
    on NumPy also hold ``V = V' K_v``: the residual basis comes from the batch's Gram
    matrix without being formed, only the rows of ``V'`` in the batch's columns change
    (``O(u r^2)`` for ``u`` touched columns instead of ``O(n r^2)``).  The Gram matrix's
    eigenvectors, scaled by the row norms, split the residual: directions that keep at
    least 1/64 of their energy outside ``range(V)`` stay implicit (accurate to ``64 eps``);
    weaker ones (rows nearly inside ``range(V)``, nearly parallel rows) are formed
    explicitly, projected once more and orthonormalized with the rank threshold
    (``O(n r q_w)`` for ``q_w`` of them, a rank-``q_w`` change of every row of ``V'``).
    ``cond(K_v)`` is bounded like ``cond(K_u)``; when it would exceed ``max_cond_k``
    the new ``V`` is formed explicitly for that batch.  Once ``V = V' K_v`` is held the
    coordinates are least-squares ones through the tracked ``V^T V``, so a loss of
    orthogonality of ``V`` is not amplified by weak rows (``"exact-extended"`` in
    ``history``).  Column appends are row appends of the transposed matrix and take the
    same code with the two factors exchanged: over a run of column appends the right
    factor grows as ``V = V' K_v`` (new rows of ``V'`` only) and small sparse column
    batches change only the rows of ``U'`` that they touch (``U = U' K_u``), with the same
    certification, monitoring and fold-back rules (``cond_k`` then refers to ``K_v``).
    The forms survive a switch between row and column appends (each factor grows in
    one kind and has rows touched in the other, so a graph grown node by node stays in
    extended form); ``update`` and removals form both factors explicitly.

    *Krylov and randomized updates* (``method="gkl"``, Vecharynski-Saad [3]_;
    ``method="rpi"``, Yamazaki et al. [4]_) replace ``Q`` by ``l`` vectors that
    approximate the dominant part of the residual, applied as an implicit operator
    ``(I - V V^T) E^T`` (sparse ``E`` is never densified); they are exact when the
    residual has rank at most ``l`` and fall back to the exact method when ``l >= p``.
    Lanczos breakdown restarts with a random vector.  Sparse row (column) appends on
    NumPy take them on the extended bases, as the exact method does: the subspace is
    found in the ``p``-dimensional row space of the batch from the residual's Gram
    matrix ``E E^T - C^T C`` (Lanczos on it for ``"gkl"``, ``G^t Omega`` for ``"rpi"``,
    then a Rayleigh-Ritz step), so nothing of size ``n`` is formed and only the rows of
    ``V'`` in the batch's columns change (``"gkl-extended"``/``"rpi-extended"`` in
    ``history``); directions with less than 1/64 of their rows' energy outside
    ``range(V)`` are formed explicitly, as for the exact method.

    *Downdates* (Brand [2]_) delete rows/columns from the model and restore
    orthonormality by a QR of the remaining block, ``O((m + n) r^2)``.

    *Choosing the path* (``strategy=`` of every update).  ``"sparse"`` is the Deng et
    al. path above (Gram-matrix residual, extended right basis), ``"dense"`` Zha-Simon on
    the dense residual, ``"recompute"`` a rank-``r`` SVD of the whole matrix, which the
    state can only do when it keeps the matrix (``fit(..., keep_matrix=True)``; ``svds``
    for a sparse matrix, LAPACK for a dense one).  ``"auto"`` takes the sparse path where
    its measured eligibility rules hold, else the dense one, and recomputes instead when
    a cost model predicts that cheaper: work counted per kind of operation (matrix
    products, Householder/Cholesky factorizations, small SVDs, ARPACK Lanczos steps
    ``ncv (nnz + ncv min(m, n))``), each priced by a rate measured on the development
    machine.  Large batches that touch much of the matrix (1000 rows of a 20000 x 5000
    matrix with ``r = 80``: a (r + 1000)-order core SVD and an n x 1000 QR) are
    recomputed; batches of up to a few hundred rows are not.  A recompute gives the
    exact truncated SVD of the current matrix (more accurate than any update), keeps
    the tracked rank ``k + oversample`` and goes through the same monitoring;
    ``history`` records the path taken and the predictions.

    *Monitoring*: ``||U^T U - I||`` and ``||V^T V - I||`` are estimated with two random
    probe vectors drawn afresh each time (``O((m + n) r)``; ``O(r^2)`` for a factor held
    in extended form, through its Gram matrix kept up to date), every
    ``FULL_CHECK_EVERY = 32`` updates the exact norms are taken as well (``O((m + n)
    r^2)``, ``O(r^3)`` in extended form), and both factors are re-orthonormalized (QR of
    each and an ``r x r`` SVD) when the estimate exceeds ``ortho_tol``.  The probe is
    proportionate: rounding moves ``X^T X`` by about ``sqrt(max(m, n)) eps`` per update,
    so between probes the loss is bounded by the last estimate plus that much per update
    (the rate is raised for a state whose probes see faster drift), and the probe runs
    again before the bound could reach ``ortho_tol`` (after at most ``PROBE_MAX_SKIP =
    8`` updates); ``history`` records the bound for the updates in between.  Dense NumPy
    row batches of the state's dtype take a lean path (the same exact update with
    LAPACK called directly: Householder QR of the residual, ``T^-1`` for ``V^T Q`` and a
    certified ``sigma_min(T)``, the core SVD in place, ``V_new = V (G_1 - W G_2) + Q
    G_2`` with the correction of ``Q`` against ``V`` folded into the small rotation and
    ``[V, Q]`` never formed; the general path whenever anything is unusual), so small
    problems are not dominated by per-call overhead.  So do small sparse batches (at
    most 64 rows, or columns for ``add_columns``) that ``strategy="auto"`` or
    ``"dense"`` sends to the dense path without the Gram-matrix residual: that path
    forms the dense residual anyway, so the batch is densified once, after validation
    and planning (``strategy="sparse"`` is never densified).

    References
    ----------
    .. [1] H. Zha, H. D. Simon, "On updating problems in latent semantic indexing",
       SIAM J. Sci. Comput. 21 (1999).
    .. [2] M. Brand, "Fast low-rank modifications of the thin singular value
       decomposition", Linear Algebra Appl. 415 (2006).
    .. [3] E. Vecharynski, Y. Saad, "Fast updating algorithms for latent semantic
       indexing", SIAM J. Matrix Anal. Appl. 35 (2014).
    .. [4] I. Yamazaki, J. Kurzak, P. Luszczek, J. Dongarra, "Randomized algorithms
       to update partial singular value decomposition on a hybrid CPU/GPU cluster",
       Proc. SC15 (2015).
    .. [5] H. Deng et al., "Fast updating truncated SVD for representation learning
       with sparse matrices", ICLR (2024).

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.svdupdate import TruncatedSVD
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((100, 6)) @ rng.standard_normal((6, 30))  # rank 6
    >>> svd = TruncatedSVD.fit(A[:60], 5)  # tracks 5 + ceil(5/4) = 7 components
    >>> svd = svd.add_rows(A[60:80]).add_rows(A[80:])
    >>> svd.shape, svd.n_updates, svd.U.shape, svd.Vt.shape
    ((100, 30), 2, (100, 5), (5, 30))
    >>> bool(np.allclose(svd.s, np.linalg.svd(A, compute_uv=False)[:5]))
    True

    Keeping the matrix lets ``strategy="auto"`` recompute when that is cheaper (here
    40 rows onto 60: a small dense matrix), and any path can be requested:

    >>> kept = TruncatedSVD.fit(A[:60], 5, keep_matrix=True)
    >>> kept.add_rows(A[60:]).history[-1].path
    'recompute'
    >>> kept.add_rows(A[:2], strategy="dense").history[-1].path
    'dense'
    """

    def __init__(self, U: Any, s: Any, V: Any, k: int, *, decay: float = 1.0,
                 rtol: float | None = None, ortho_tol: float | None = None, rng: Any = None):
        for name, x in (("U", U), ("s", s), ("V", V)):
            check_arraylike(x, name)
        xp = array_namespace(U, s, V)
        U, s, V, tol_eps = _validated_factors(xp, U, s, V)
        # The state owns its factors (extended updates write rows of V' in place, and the
        # caller may change theirs later): one O((m + n) r) copy.
        U, s, V = (xp.asarray(x, copy=True) for x in (U, s, V))
        size = max(U.shape[0], V.shape[0])
        loss = max(_check_orthonormal(xp, U, "U", tol_eps, size),
                   _check_orthonormal(xp, V, "V", tol_eps, size))
        if loss > _orthonormal_tolerances(tol_eps, size)[0]:
            # Semi-orthogonal factors: QR of both and the SVD of the r x r core keep
            # U diag(s) V^T (to O(loss) of it) with orthonormal factors.
            U, s, V = _reorthonormalize(xp, U, s, V)
        self._setup(xp, U, s, V, k, decay=decay, rtol=rtol, ortho_tol=ortho_tol, rng=rng)

    def _setup(self, xp, U, s, V, k, *, decay, rtol, ortho_tol, rng):
        """Initialize the state from validated factors (the constructor and :meth:`fit`)."""
        r = s.shape[0]
        self._k = check_int(k, "k", low=1, high=r, high_expr="number of tracked components")
        self.decay = decay
        self.rtol = rtol
        self.ortho_tol = ortho_tol
        self.max_cond_k = 1e1
        self._rng = as_rng(rng)
        self._xp = xp
        self._U, self._s, self._V = U, s, V  # U goes through the property: U' = U, K_u = I
        self._pending_buf = self._pending_gu = self._pending_v = None
        self._append_kind = "add_rows"  # "add_columns" while the factors are exchanged
        self._r_target = r  # fit raises it to k + oversample: the state regrows to it
        self._probe = None
        self._probe_rng = self._rng.spawn(1)[0]  # probe draws leave the update stream alone
        self._kept = None
        self.n_updates = 0
        self.history: list[UpdateRecord] = []

    # ------------------------------------------------------------------ options
    # Every option is checked when it is set (also later, as an attribute): a NaN would
    # switch the comparisons it takes part in off silently.
    @property
    def decay(self) -> float:
        """Forgetting factor in ``(0, 1]`` applied before every update."""
        return self._decay

    @decay.setter
    def decay(self, value: Any) -> None:
        self._decay = check_real(value, "decay", low=0.0, low_open=True, high=1.0)

    @property
    def rtol(self) -> float | None:
        """Relative rank threshold of new directions in ``[0, 1)`` (``None``: the default)."""
        return self._rtol

    @rtol.setter
    def rtol(self, value: Any) -> None:
        self._rtol = None if value is None else check_real(value, "rtol", low=0.0, high=1.0,
                                                           high_open=True)

    @property
    def ortho_tol(self) -> float | None:
        """Re-orthonormalization threshold, ``>= 0`` (``inf``: never; ``None``: the default)."""
        return self._ortho_tol

    @ortho_tol.setter
    def ortho_tol(self, value: Any) -> None:
        self._ortho_tol = None if value is None else check_real(value, "ortho_tol", low=0.0,
                                                                allow_inf=True)

    @property
    def max_cond_k(self) -> float:
        """Largest condition number of ``K_u``/``K_v`` kept in extended form (finite, ``>= 0``)."""
        return self._max_cond_k

    @max_cond_k.setter
    def max_cond_k(self, value: Any) -> None:
        self._max_cond_k = check_real(value, "max_cond_k", low=0.0)

    # ------------------------------------------------------------------ construction
    @_class_only
    def fit(cls, A: Any, k: int, *, oversample: int | None = None, method: str = "exact",
            t: int = 2, keep_matrix: bool = False, decay: float = 1.0, rtol: float | None = None,
            ortho_tol: float | None = None, rng: Any = None) -> TruncatedSVD:
        """Initial rank-k SVD of a dense or sparse matrix.

        Parameters
        ----------
        A : array or sparse matrix, shape (m, n)
            Dense array of any array-API library, or a SciPy sparse matrix/array in
            CSR, CSC or COO format.  Real; integers are promoted to float64.
        k : int
            Exposed rank, ``1 <= k <= min(m, n)``.
        oversample : int, optional
            Extra tracked components (default ``ceil(k / 4)``, capped at ``min(m, n)``):
            tracking more than ``k`` is the largest accuracy lever of any updating
            scheme, because components just below ``sigma_k`` can rise later.  While the
            matrix is smaller than ``k + oversample`` fewer are tracked (and fewer than
            ``k`` exposed); updates regrow the state to ``k + oversample``.
        method : {"exact", "rpi"}, default "exact"
            ``"exact"``: LAPACK SVD (dense) or ARPACK ``svds`` to machine precision
            (sparse).  ``"rpi"``: randomized range finder with ``t`` power passes.
        t : int, default 2
            Power passes of ``"rpi"``.
        keep_matrix : bool, default False
            Keep a copy of the tracked matrix and apply every update to it too, so that
            an update can recompute the truncated SVD instead (``strategy="recompute"``,
            or ``"auto"`` when predicted cheaper, typically for batches that touch a
            large part of the matrix).  Costs the memory of the matrix; row appends add
            ``O(nnz(E))`` work, other updates ``O(nnz(A))``.  A sparse matrix stays
            sparse unless :meth:`update` adds a dense term.
        decay, rtol, ortho_tol, rng
            Stored in the state; see :class:`TruncatedSVD`.

        Returns
        -------
        TruncatedSVD

        Raises
        ------
        TypeError
            Called on an existing state (``svd.fit(A)``): ``fit`` builds a new one; see
            the class docstring (and :class:`~orthla.svdupdate.IncrementalSVD` for the
            scikit-learn interface).
        ValueError
            ``A`` not 2-D, empty or not finite (stored sparse entries included), ``k``
            or ``oversample`` out of range, unknown ``method``, an option out of range
            (NaN included; checked before the SVD is computed).
        TypeError
            Non-real, boolean, float16 or object dtype, masked arrays, ``numpy.matrix``,
            a sparse format other than CSR/CSC/COO; ``k``, ``oversample`` or ``t`` not
            an integer (booleans refused), ``keep_matrix`` not a boolean.
        """
        xp, A = _validated_matrix(A, "A")
        m, n = A.shape
        kmax = min(m, n)
        k = check_int(k, "k", low=1, high=kmax, high_expr="min(m, n)")
        p = math.ceil(k / 4) if oversample is None else check_int(oversample, "oversample", low=0)
        r = min(k + p, kmax)
        check_choice(method, "method", FIT_METHODS)
        t = check_int(t, "t", low=0)
        keep_matrix = check_bool(keep_matrix, "keep_matrix")
        state = cls.__new__(cls)
        # The options first: a bad one is refused before the SVD is paid for.
        state.decay, state.rtol, state.ortho_tol = decay, rtol, ortho_tol
        gen = as_rng(rng)
        if method == "rpi":
            U, s, V = _randomized_svd(xp, A, r, t, gen)
        elif is_sparse(A) and r < kmax - 1:
            U, s, V = _svds(xp, A, r, gen)
        else:
            U, s, Vt = robust_svd(xp, dense(A, xp), full_matrices=False)
            U, s, V = U[:, :r], s[:r], Vt[:r, :].mT
        if not bool(xp.all(xp.isfinite(s))):
            raise ValueError("the SVD of `A` is not finite (its entries are too close to the "
                             "overflow threshold); scale `A` down by a power of two.")
        state._setup(xp, U, s, V, min(k, r), decay=decay, rtol=rtol, ortho_tol=ortho_tol, rng=gen)
        state._k, state._r_target = k, k + p
        state._kept = KeptMatrix.of(A, xp) if keep_matrix else None
        state.history.append(UpdateRecord("fit", method, (m, n), r, float("nan"),
                                          *state._ortho_estimates(), False, path="recompute"))
        return state

    def copy(self) -> TruncatedSVD:
        """Independent copy of the state (arrays copied, history and counters kept).

        The copy's random streams (``gkl``/``rpi`` and the orthogonality probe) start where
        the original's are, so the same updates on a copy and on the original give the same
        result, however many copies were taken before.
        """
        xp = self._xp
        new = TruncatedSVD.__new__(TruncatedSVD)
        new.__dict__.update(self.__dict__)
        new._Ub, new._s, new._Vb = (xp.asarray(x, copy=True) for x in (self._Ub, self._s, self._Vb))
        new._Kv = None if self._Kv is None else xp.asarray(self._Kv, copy=True)
        new._Gv = None if self._Gv is None else xp.asarray(self._Gv, copy=True)
        new._Ubuf = new._Vbuf = None  # never share a row buffer: both states would append into it
        new._Gu = None if self._Gu is None else xp.asarray(self._Gu, copy=True)
        new._Ku = None if self._Ku is None else xp.asarray(self._Ku, copy=True)
        new._rng = _clone_rng(self._rng)  # a clone: spawn() would advance the original's seed
        new._probe_rng = _clone_rng(self._probe_rng)
        new._kept = None if self._kept is None else self._kept.copy()
        new.history = list(self.history)
        return new

    # ------------------------------------------------------------------ properties
    @property
    def _U(self) -> Any:
        # The explicit left factor; folds the extended form U = U' K_u when it is held.
        if self._Ku is not None:
            self._Ub, self._Ku, self._Ubuf, self._Gu = self._Ub @ self._Ku, None, None, None
            self._cond_ku = 1.0
        return self._Ub

    @_U.setter
    def _U(self, value: Any) -> None:
        self._Ub, self._Ku, self._Ubuf, self._Gu = value, None, None, None
        self._cond_ku = 1.0

    @property
    def _V(self) -> Any:
        # The explicit right factor; folds the extended form V = V' K_v when it is held.
        if self._Kv is not None:
            self._Vb, self._Kv, self._Vbuf, self._Gv = self._Vb @ self._Kv, None, None, None
            self._cond_kv = 1.0
        return self._Vb

    @_V.setter
    def _V(self, value: Any) -> None:
        self._Vb, self._Kv, self._Vbuf, self._Gv = value, None, None, None
        self._cond_kv = 1.0

    @property
    def U(self) -> Any:
        """Left singular vectors, shape (m, k) (a copy)."""
        if self._Ku is not None:  # extended form: U' K_u[:, :k], without folding the state
            return self._Ub @ self._Ku[:, :self._k]
        return self._xp.asarray(self._Ub[:, :self._k], copy=True)

    @property
    def s(self) -> Any:
        """Leading ``k`` singular values, non-increasing (a copy)."""
        return self._xp.asarray(self._s[:self._k], copy=True)

    @property
    def Vt(self) -> Any:
        """Right singular vectors as rows, shape (k, n) (a copy)."""
        if self._Kv is not None:
            return (self._Vb @ self._Kv[:, :self._k]).mT
        return self._xp.asarray(self._Vb[:, :self._k].mT, copy=True)

    @property
    def shape(self) -> tuple[int, int]:
        """Shape ``(m, n)`` of the tracked matrix."""
        return (self._Ub.shape[0], self._Vb.shape[0])

    @property
    def k(self) -> int:
        """Number of exposed components: ``k``, or fewer while the matrix is smaller."""
        return min(self._k, self._s.shape[0])

    @property
    def n_tracked(self) -> int:
        """Number of tracked components (``k`` plus oversampling)."""
        return self._s.shape[0]

    @property
    def rank(self) -> int:
        """Numerical rank of the exposed part: singular values above ``max(m, n) eps s_1``."""
        s = self._s[:self._k]
        tol = max(self.shape) * eps(s.dtype, self._xp) * float(self._s[0])
        return int(self._xp.sum(self._xp.astype(s > tol, self._xp.int64)))

    def transform(self, X: Any) -> Any:
        """Coordinates ``X @ V_k`` of rows ``X`` (p x n, dense or sparse) in the k-dim subspace.

        ``X`` is validated as the blocks of :meth:`add_rows` are (a list is converted;
        NaN/Inf raise ``ValueError``, unusable dtypes ``TypeError``, naming ``X``).
        """
        X = as_operand(X, "X", self._xp, self._s.dtype, device(self._s))
        self._check_cols(X, "X", self.shape[1], "columns")
        if self._Kv is not None:
            return (X @ self._Vb) @ self._Kv[:, :self._k]
        return X @ self._Vb[:, :self._k]

    def project(self, X: Any) -> Any:
        """Orthogonal projection ``X V_k V_k^T`` of rows ``X`` onto the tracked row space.

        Parameters
        ----------
        X : array or sparse matrix, shape (p, n)
            Rows to project (dense of the state's library, a list, or SciPy sparse on
            NumPy).

        Returns
        -------
        array, shape (p, n)
            Dense; ``X - project(X)`` is the part of ``X`` the k components miss.

        Raises
        ------
        ValueError, TypeError
            As :meth:`transform`.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.svdupdate import TruncatedSVD
        >>> rng = np.random.default_rng(0)
        >>> A = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 20))  # rank 3
        >>> svd = TruncatedSVD.fit(A, 3)
        >>> x = A[:2]
        >>> bool(np.allclose(svd.project(x), x))
        True
        """
        return self.transform(X) @ self.Vt

    def __repr__(self) -> str:
        m, n = self.shape
        return (f"TruncatedSVD(shape=({m}, {n}), k={self._k}, tracked={self.n_tracked}, "
                f"n_updates={self.n_updates})")

    # ------------------------------------------------------------------ updates
    def add_rows(self, E: Any, *, method: str = "exact", l: int = 10, t: int = 2,
                 strategy: str = "auto") -> TruncatedSVD:
        """Append rows: the tracked matrix becomes ``[decay * A; E]``.

        Parameters
        ----------
        E : array or sparse matrix, shape (p, n)
            New rows (dense of the state's library, a list, or SciPy CSR/CSC/COO on
            NumPy).
        method : {"exact", "gkl", "rpi"}, default "exact"
            How the part of ``E`` outside the current row space is captured:
            all of it (Zha-Simon), ``l`` Golub-Kahan-Lanczos vectors
            (Vecharynski-Saad) or a randomized range finder with ``l`` columns and
            ``t`` power passes (Yamazaki et al.).  With ``l >= p`` all three are exact.
        l : int, default 10
            Subspace size of ``"gkl"``/``"rpi"``.
        t : int, default 2
            Power passes of ``"rpi"``.
        strategy : {"auto", "sparse", "dense", "recompute"}, default "auto"
            ``"sparse"``: Deng et al.'s sparse path (needs a SciPy sparse batch on a
            NumPy state and an exact update; when a batch cannot be certified for it
            the dense path runs, and ``history`` says so).  ``"dense"``: Zha-Simon on
            the dense residual.  ``"recompute"``: truncated SVD of the whole matrix
            (needs ``fit(..., keep_matrix=True)``).  ``"auto"``: the sparse path where
            it applies, else the dense one, or a recompute when the matrix is kept and
            that is predicted cheaper (see Notes of :class:`TruncatedSVD`).

        Returns
        -------
        TruncatedSVD
            ``self``, updated in place (so calls can be chained).

        Raises
        ------
        ValueError
            Wrong ndim or number of columns, empty, NaN/Inf (stored sparse entries
            included), unknown method or strategy, ``l``/``t`` out of range;
            ``strategy="sparse"`` for a dense batch or an inexact method,
            ``strategy="recompute"`` without a kept matrix.
        TypeError
            Complex, boolean, float16, string or object dtype, masked arrays,
            ``numpy.matrix``, an array of another library, an unusable sparse format;
            ``l``/``t`` not an integer (booleans refused).
        """
        done = self._lean(E, method, l, t, strategy, columns=False)
        return self._add_rows(E, method, l, t, strategy) if done is None else done

    def _lean(self, E, method, l, t, strategy, *, columns):
        """A dense NumPy batch by :func:`_append_lean` (columns: in the exchanged view) under
        its own guard; ``None``, the state unchanged, where it does not apply or declines."""
        if not (type(E) is np.ndarray and method == "exact" and (strategy == "auto" or strategy == "dense")
                and self._kept is None and type(l) is int and type(t) is int and l >= 1 and t >= 0
                and is_numpy(self._xp) and (E.ndim == 2 or not columns)):
            return None
        # The lean path draws from no stream but the probe's: its guard saves the
        # attributes only (see _restore), the general path's saves the update stream too.
        saved, n_records = dict(self.__dict__), len(self.history)
        try:
            if not columns:
                return _append_lean(self, E, strategy)
            self._exchange()
            try:
                done = _append_lean(self, np.ascontiguousarray(E.T), strategy)
            finally:
                self._exchange()
        except BaseException:
            _restore(self, saved, n_records)
            raise
        if done is not None:
            self._transpose_last_record()
        return done

    @_all_or_nothing
    def _add_rows(self, E, method, l, t, strategy):
        """:meth:`add_rows` by the general path (all-or-nothing)."""
        E = self._operand(E, "E", self.shape[1], "columns", (method, l, t, strategy))
        exact = is_exact(method, l, self.shape[1], E.shape[0], self._s.shape[0])
        extended = self._v_extension_applies(E, forced=strategy == "sparse")
        path, pred = self._plan(strategy, E, None, exact, "add_rows", extended=extended)
        kept = None if self._kept is None else self._kept.with_rows(E, self.decay)
        if path == "recompute":
            return self._recompute(kept, "add_rows", pred)
        done = self._append_sparse_lean(E, False, method, l, strategy, path, pred, kept)
        if done is not None:
            return done
        return self._append_rows(E, method, l, t, strategy, path, pred, extended, kept)

    def add_columns(self, E: Any, *, method: str = "exact", l: int = 10, t: int = 2,
                    strategy: str = "auto") -> TruncatedSVD:
        """Append columns: the tracked matrix becomes ``[decay * A, E]``.

        Parameters
        ----------
        E : array or sparse matrix, shape (m, p)
            New columns.
        method, l, t, strategy
            As in :meth:`add_rows` (here the column space is extended; the sparse path
            is the Gram-matrix residual).

        Returns
        -------
        TruncatedSVD
            ``self``, updated in place.

        Raises
        ------
        ValueError, TypeError
            As in :meth:`add_rows`.
        """
        done = self._lean(E, method, l, t, strategy, columns=True)
        return self._add_columns(E, method, l, t, strategy) if done is None else done

    @_all_or_nothing
    def _add_columns(self, E, method, l, t, strategy):
        """:meth:`add_columns` by the general path (all-or-nothing)."""
        E = self._operand(E, "E", self.shape[0], "rows", (method, l, t, strategy), axis=0)
        exact = is_exact(method, l, self.shape[0], E.shape[1], self._s.shape[0])
        extended = self._v_extension_applies(E, forced=strategy == "sparse", columns=True)
        path, pred = self._plan(strategy, E, None, exact, "add_columns", extended=extended)
        kept = None if self._kept is None else self._kept.with_columns(E, self.decay)
        if path == "recompute":
            return self._recompute(kept, "add_columns", pred)
        done = self.n_updates
        with self._factors_exchanged():
            if self._append_sparse_lean(E, True, method, l, strategy, path, pred, kept) is None:
                # the new columns as rows of the transposed matrix
                self._append_rows(transpose(E), method, l, t, strategy, path, pred, extended,
                                  kept)
        if self.n_updates > done:
            self._transpose_last_record()
        return self

    def _transpose_last_record(self):
        """The last record, written in the transposed view, in the state's own."""
        rec = self.history[-1]
        # (the fields in order: cheaper than rec._replace, on every column append)
        self.history[-1] = UpdateRecord(rec.kind, rec.method, rec.shape[::-1],
                                        rec.residual_rank, rec.residual_sigma_min,
                                        rec.ortho_v, rec.ortho_u, rec.reorthogonalized,
                                        rec.cond_k, rec.path, rec.predicted)

    @_all_or_nothing
    def update(self, D: Any, E: Any, *, method: str = "exact", l: int = 10, t: int = 2,
               strategy: str = "auto") -> TruncatedSVD:
        """Low-rank modification: the tracked matrix becomes ``decay * A + D @ E.T``.

        Parameters
        ----------
        D : array or sparse matrix, shape (m, p)
        E : array or sparse matrix, shape (n, p)
        method, l, t, strategy
            As in :meth:`add_rows`, applied to both the column and the row space (the
            sparse path applies to whichever of ``D``, ``E`` is sparse).

        Returns
        -------
        TruncatedSVD
            ``self``, updated in place.

        Raises
        ------
        ValueError
            ``D``/``E`` shapes not ``(m, p)``/``(n, p)``, NaN/Inf, bad options.
        TypeError
            As in :meth:`add_rows`.
        """
        D = self._operand(D, "D", self.shape[0], "rows", (method, l, t, strategy), axis=0)
        E = self._operand(E, "E", self.shape[1], "rows", None, axis=0)
        if D.shape[1] != E.shape[1]:
            raise ValueError(f"`D` and `E` must have the same number of columns p; got shapes "
                             f"{tuple(D.shape)} and {tuple(E.shape)}.")
        m, n = self.shape
        p, r = D.shape[1], self._s.shape[0]
        exact = is_exact(method, l, m, p, r) and is_exact(method, l, n, p, r)
        path, pred = self._plan(strategy, D, E, exact, "update")
        kept = None if self._kept is None else self._kept.plus_outer(D, E, self.decay)
        if path == "recompute":
            return self._recompute(kept, "update", pred)
        xp = self._xp
        s = self._s * self.decay
        gram = _gram_flag(path, strategy)
        rtol, scale = self._tolerance(D.shape[1], max(float(s[0]), fro_norm(D, xp) * fro_norm(E, xp)))
        bd = residual_basis(xp, self._U, D, method=method, l=l, t=t, rtol=rtol,
                            scale=scale / max(fro_norm(E, xp), 1e-300), rng=self._rng, gram=gram)
        be = residual_basis(xp, self._V, E, method=method, l=l, t=t, rtol=rtol,
                            scale=scale / max(fro_norm(D, xp), 1e-300), rng=self._rng, gram=gram)
        r, qd, qe = s.shape[0], bd.Q.shape[1], be.Q.shape[1]
        left = xp.concat([bd.C, bd.B], axis=0)
        right = xp.concat([be.C, be.B], axis=0)
        F, theta, Gt = _rotate(xp, left, _diag(xp, s, r + qd, r + qe), right)
        kk = min(self._r_target, theta.shape[0])
        U = xp.concat([self._U, bd.Q], axis=1) @ F[:, :kk]
        V = xp.concat([self._V, be.Q], axis=1) @ Gt[:kk, :].mT
        measured = [x for x in (bd.sigma_min, be.sigma_min) if not math.isnan(x)]
        smin = min(measured) if measured else math.nan
        used = bd.method if bd.method == be.method else f"{bd.method}+{be.method}"
        rec = UpdateRecord("update", used, self.shape, qd + qe, smin, math.nan, math.nan, False,
                           path=_path_of(used), predicted=pred)
        return self._commit(U, theta[:kk], V, rec, kept=kept)

    @_all_or_nothing
    def remove_rows(self, idx: Any) -> TruncatedSVD:
        """Delete rows ``idx`` of the tracked matrix (Brand's downdate).

        Parameters
        ----------
        idx : int, sequence of int, or integer array
            Distinct row indices in ``[0, m)``: a Python/NumPy integer, a sequence of
            them (a ``range`` included), or a 0-d/1-D integer array of the state's
            library (a NumPy array for a NumPy state: arrays of another library are
            refused, as everywhere in orthla); at least one row must remain.

        Returns
        -------
        TruncatedSVD
            ``self``, updated in place.

        Raises
        ------
        ValueError
            Indices out of range (negative ones included), repeated, empty, more than
            1-D, or removing every row.
        TypeError
            Booleans (``True``, a boolean mask: pass ``numpy.flatnonzero(mask)``), a
            non-integer dtype, or an array of another library.

        Notes
        -----
        The model ``U S V^T`` without those rows is ``U_keep S V^T``; a QR of
        ``U_keep`` and an SVD of the small ``R S`` give its SVD exactly, in
        ``O((m + n) r^2)``.  It equals the SVD of the true downdated matrix whenever
        the tracked components capture the removed rows (always if the matrix has
        rank at most the tracked rank).
        """
        keep = self._keep(idx, self.shape[0], "rows")
        U, s, V, rec = _downdate(self, self._U, self._s, self._V, keep)
        kept = None if self._kept is None else self._kept.without(keep, 0)
        return self._commit(U, s, V, rec._replace(kind="remove_rows"), kept=kept)

    @_all_or_nothing
    def remove_columns(self, idx: Any) -> TruncatedSVD:
        """Delete columns ``idx`` of the tracked matrix (see :meth:`remove_rows`).

        Parameters
        ----------
        idx : int, sequence of int, or integer array
            Distinct column indices in ``[0, n)``, as in :meth:`remove_rows`; at least
            one column must remain.

        Returns
        -------
        TruncatedSVD
            ``self``, updated in place.

        Raises
        ------
        ValueError, TypeError
            As in :meth:`remove_rows`.
        """
        keep = self._keep(idx, self.shape[1], "columns")
        V, s, U, rec = _downdate(self, self._V, self._s, self._U, keep)
        kept = None if self._kept is None else self._kept.without(keep, 1)
        return self._commit(U, s, V, rec._replace(kind="remove_columns"), kept=kept)

    #: Alias of :meth:`remove_rows` (the name used in the literature).
    downdate_rows = remove_rows

    # ------------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _factors_exchanged(self):
        """View the state as the SVD of the transposed matrix (left and right swapped).

        Inside, :meth:`_append_rows` appends columns: the right factor grows in a row
        buffer as ``V = V' K_v`` and only the rows of ``U'`` that the new columns touch
        change, by the same code as for rows.  Always swapped back, also on errors (the
        commit restores the state first, so updates stay all-or-nothing).
        """
        self._exchange()
        try:
            yield
        finally:
            self._exchange()

    def _exchange(self):
        """Swap the left and right factors and the append kind (its own inverse).

        A dict swap of plain attributes (getattr/setattr cost 6 us a swap); the dense
        column append calls it directly, without the context manager's 4 us.
        """
        d = self.__dict__
        for a, b in _FACTOR_SLOTS:
            d[a], d[b] = d[b], d[a]
        last = d.get("_probe_last")  # the monitor's last (U, V) measurement
        if last is not None:
            d["_probe_last"] = (last[1], last[0])
        self._append_kind = "add_columns" if self._append_kind == "add_rows" else "add_rows"

    def _append_rows(self, E, method, l, t, strategy, path, pred, extended, kept):
        """Append rows ``E`` by the planned ``path`` (columns: in the exchanged view).

        Extended forms are kept over any run of row and column appends (see
        :meth:`_in_append_stream`); ``update`` and removals fold them.
        """
        kind = self._append_kind
        if path == "sparse" and extended:
            if method == "exact" or is_exact(method, l, E.shape[1], E.shape[0], self._s.shape[0]):
                done = _append_sparse_rows_extended(self, E)
            else:  # GKL/RPI directions of the implicit residual, the batch kept sparse
                done = _append_sparse_rows_extended(self, E, method=method, l=l, t=t)
            if done is not None:
                F, s, rec, V = done
                Ub, Ku, cond = self._extend_rows(F)
                return self._commit(Ub, s, V, rec._replace(kind=kind, cond_k=cond, predicted=pred),
                                    Ku=Ku, kept=kept)
        F, s, V, rec = _append(self, None, self._s * self.decay, self._V, transpose(E), method, l, t,
                               gram=_gram_flag(path, strategy))
        Ub, Ku, cond = self._extend_rows(F)
        return self._commit(Ub, s, V, rec._replace(kind=kind, cond_k=cond, predicted=pred),
                            Ku=Ku, kept=kept)

    def _append_sparse_lean(self, E, transposed, method, l, strategy, path, pred, kept):
        """Small sparse rows (of ``E``, or of ``E^T`` when ``transposed``) by the lean path.

        The dense path forms the ``n x p`` residual anyway: a batch of at most
        ``LEAN_SPARSE_MAX_BATCH`` rows for which it would not try the Gram-matrix residual
        is densified once and appended by :func:`_append_lean` (the same algorithm, NumPy
        and LAPACK called directly), for a fraction of the sparse bookkeeping's cost.
        Empty rows (common in sparse batches; they made the residual rank-deficient and
        sent the batch to the general path) become zero rows of ``U`` and the rest
        takes the lean path.  Returns ``None`` (nothing changed) where this does not
        apply.
        """
        p, n = E.shape[::-1] if transposed else E.shape
        gram = _gram_flag(path, strategy)
        if not (path == "dense" and is_sparse(E) and p <= LEAN_SPARSE_MAX_BATCH
                and (gram is False or (gram is None and p < _basis.GRAM_MIN_BATCH))
                and is_exact(method, l, n, p, self._s.shape[0]) and is_numpy(self._xp)):
            return None
        rows = None
        if E.format == ("csc" if transposed else "csr"):
            ptr = E.indptr
            counts = ptr[1:] - ptr[:-1]  # (np.diff and .all() cost 4 us a call)
            if np.count_nonzero(counts) < p:  # empty rows: zero rows of U, the rest by the lean path
                rows = np.flatnonzero(counts)
                if rows.shape[0] == 0:
                    return None
        D = _dense_rows(E, transposed)
        return _append_lean(self, D if rows is None else D[rows], strategy, kept=kept, pred=pred,
                            rows=rows, p_all=p)

    def _operand(self, X, name, size, what, options, axis=1):
        self._clear_pending()
        if options is not None:
            method, l, t, strategy = options
            # (plain str and int options that pass the checks skip them: 7 us a call)
            if not (type(method) is str and method in METHODS and type(strategy) is str
                    and strategy in STRATEGIES and type(l) is int and l >= 1
                    and type(t) is int and t >= 0):
                check_choice(method, "method", METHODS)
                check_int(l, "l", low=1)
                check_int(t, "t", low=0)
                check_choice(strategy, "strategy", STRATEGIES)
        X = as_operand(X, name, self._xp, self._s.dtype, device(self._s))
        self._check_cols(X, name, size, what, axis)
        if X.shape[1 - axis] == 0:
            raise ValueError(f"`{name}` is empty (shape {tuple(X.shape)}); nothing to update.")
        return X

    def _check_cols(self, X, name, size, what, axis=1):
        if X.shape[axis] != size:
            m, n = self.shape
            raise ValueError(f"`{name}` must have {size} {what} to match the tracked {m} x {n} matrix; "
                             f"got shape {tuple(X.shape)}.")

    def _v_extension_applies(self, E, *, forced=False, columns=False):
        """Small sparse row batches on NumPy, where touching only their columns pays.

        Any method: the exact one and ``"gkl"``/``"rpi"`` (their directions are found
        from the batch's Gram matrix, see :mod:`._extended`).  ``forced``
        (``strategy="sparse"``) drops the measured size thresholds.  ``columns``: ``E``
        holds new columns, whose rows of ``U`` would be touched (the question of the
        exchanged view, asked without exchanging the factors).
        """
        Xb, K = (self._Ub, self._Ku) if columns else (self._Vb, self._Kv)
        n, r = Xb.shape
        p = E.shape[1] if columns else E.shape[0]
        if not (is_numpy(self._xp) and is_sparse(E)):
            return False
        return forced or (p <= V_EXTENDED_MAX_BATCH and n * r * r >= V_EXTENDED_MIN_WORK
                          and (K is not None or self._in_append_stream()))

    def _in_append_stream(self):
        """Whether the previous step was the fit or an append (of rows or of columns).

        Entering an extended form costs ``O(n r^2)`` (a private copy and a Gram matrix),
        which pays over a run of appends.  Row and column appends keep both forms: each
        factor is the growing one (new rows of ``X'``) in one kind and the touched one
        (rows of ``X'`` changed in place) in the other, so a graph grown node by node (a
        row, then a column) stays in extended form.  ``update`` and removals fold them.
        """
        return not self.history or self.history[-1].kind in ("fit", "add_rows", "add_columns")

    def _in_run(self):
        """Whether the previous step was the fit or an append of the kind now running."""
        return not self.history or self.history[-1].kind in ("fit", self._append_kind)

    def _plan(self, strategy, X, Y, exact, kind, *, extended=False):
        """``(path, prediction)`` for an update with block ``X`` (and ``Y`` for ``update``).

        ``X`` is the new rows (p x n) for ``add_rows``, the new columns (m x p) for
        ``add_columns`` and ``D`` (m x p) for ``update`` (then ``Y = E``, n x p).
        """
        xp = self._xp
        if strategy == "recompute" and self._kept is None:
            raise ValueError("`strategy='recompute'` needs the matrix itself: create the state with "
                             "`TruncatedSVD.fit(A, k, keep_matrix=True)`.")
        blocks = (X,) if Y is None else (X, Y)
        if strategy == "sparse":
            if not (is_numpy(xp) and any(is_sparse(b) for b in blocks)):
                raise ValueError("`strategy='sparse'` needs a SciPy sparse update block on a NumPy "
                                 f"state; got {', '.join(type(b).__name__ for b in blocks)}.")
            if not (exact or extended):
                raise ValueError("`strategy='sparse'` runs `method='gkl'`/`'rpi'` only for "
                                 "appended rows or columns; use `method='exact'` (or `l` at "
                                 "least the batch size) or `strategy='dense'`.")
        if strategy != "auto":
            return strategy, None
        return _dispatch.choose("auto", pred := self._predict(X, Y, exact, kind, extended)), pred

    def _predict(self, X, Y, exact, kind, extended):
        """Predicted seconds of the sparse, dense and recompute paths (see ``_dispatch``)."""
        m, n = self._Ub.shape[0], self._Vb.shape[0]
        r = self._s.shape[0]
        nan = math.nan
        # (SciPy's nnz property recounts: read once per block.  Asked once per update of
        # a stream of single rows, so written without helper closures: 8 us -> 3 us.)
        sx = is_sparse(X)
        nnz_x = int(X.nnz) if sx else None
        if Y is not None:
            sy = is_sparse(Y)
            nnz_y = int(Y.nnz) if sy else None
        if kind == "add_rows":
            p, width, other = X.shape[0], n, m
            new_shape = (m + p, n)
        else:
            p, width, other = X.shape[1], m, n
            new_shape = (m, n + p) if kind == "add_columns" else (m, n)
        on_numpy = is_numpy(self._xp)
        sparse = nan
        if Y is None:
            dense = _dispatch.append_dense(width, p, r, nnz_x)
            if (exact or extended) and sx and on_numpy:  # gram_applies(xp, X)
                if extended:
                    sparse = _dispatch.append_extended(min(nnz_x, width), p, r, nnz_x)
                elif p >= GRAM_MIN_BATCH:
                    sparse = _dispatch.append_gram(width, p, r, nnz_x)
            # The other factor: an explicit rotation of its rows, except for row appends
            # onto a left factor already held as U = U' K_u (new rows only).
            grown = self._Ku if kind == "add_rows" else self._Kv if kind == "add_columns" else None
            left = _dispatch.rotate(p if grown is not None else other, r)
            dense += left
            sparse += left
        else:
            dense = _dispatch.append_dense(m, p, r, nnz_x) + _dispatch.append_dense(n, p, r, nnz_y)
            if (exact or extended) and (sx or sy) and on_numpy:
                if extended:
                    sparse = _dispatch.append_extended(min(nnz_x, width), p, r, nnz_x)
                elif p >= GRAM_MIN_BATCH:
                    sparse = sum(_dispatch.append_gram(w, p, r, c) if s
                                 else _dispatch.append_dense(w, p, r, None)
                                 for s, c, w in ((sx, nnz_x, m), (sy, nnz_y, n)))
        # Every path ends with the orthogonality probe over both factors.
        probe = _dispatch.probe(m, n, r)
        dense += probe
        sparse += probe
        recompute = nan
        if self._kept is not None:
            kept_nnz = self._kept.nnz
            if kept_nnz is not None:
                if kind == "update":
                    # sparse D E^T: at most nnz(D) nnz(E) / p entries on average
                    grow = nnz_x * nnz_y // max(p, 1) if sx and sy else None
                else:
                    grow = nnz_x if sx else X.shape[0] * X.shape[1]
                kept_nnz = None if grow is None else kept_nnz + grow
            recompute = _dispatch.recompute(*new_shape, self._r_target, kept_nnz) + probe
        return Prediction(sparse, dense, recompute)

    def _recompute(self, kept, kind, pred):
        """Rank-r truncated SVD of the kept matrix; the state keeps its tracked rank."""
        xp = self._xp
        A = kept.matrix()
        m, n = A.shape
        r = min(self._r_target, m, n)
        if is_sparse(A) and r < min(m, n) - 1:
            U, s, V = _svds(xp, A, r, self._rng, v0=self._warm_start(m, n))
            method = "svds"
        else:
            U, s, Vt = robust_svd(xp, dense(A, xp), full_matrices=False)
            U, s, V = U[:, :r], s[:r], Vt[:r, :].mT
            method = "lapack"
        dt = self._s.dtype
        U, s, V = (x if x.dtype == dt else xp.astype(x, dt) for x in (U, s, V))
        rec = UpdateRecord(kind, method, (m, n), r, math.nan, math.nan, math.nan, False,
                           path="recompute", predicted=pred)
        return self._commit(U, s, V, rec, kept=kept)

    def _warm_start(self, m, n):
        """ARPACK's start vector for a recompute: the current factor on the smaller side,
        weighted by ``s`` (zero on new rows/columns): starting inside the subspace to be
        found saves ARPACK restarts."""
        side, size = ((self._Vb, self._Kv), n) if m >= n else ((self._Ub, self._Ku), m)
        X, K = side
        x = np.asarray(X @ (self._s if K is None else K @ self._s))
        v0 = np.zeros(size)
        rows = min(size, x.shape[0])
        v0[:rows] = x[:rows]
        if not np.any(v0):
            v0 = self._rng.standard_normal(size)
        return v0

    def _clear_pending(self):
        # Work staged by an update that then failed must never leak into the next one.
        self._pending_buf = self._pending_gu = self._pending_v = None

    def _keep(self, idx, size, what):
        """The indices in ``[0, size)`` that ``idx`` does not name (validated), on the device.

        ``idx``: a Python/NumPy integer, a sequence of them, or an integer array of the
        state's library (a NumPy array for a NumPy state).  Booleans are refused (a mask is
        not a list of indices), as are other dtypes, arrays of another library, repeats,
        out-of-range values and removing everything.
        """
        self._clear_pending()
        xp, dev = self._xp, device(self._s)
        if isinstance(idx, bool | np.bool_):
            raise TypeError(f"`idx` must be an integer or a sequence of integers; got the boolean {idx!r}.")
        if isinstance(idx, numbers.Integral):  # Python and NumPy integers
            idx = [int(idx)]
        if isinstance(idx, range):
            idx = list(idx)
        if isinstance(idx, list | tuple):
            if not idx:
                raise ValueError(f"`idx` must name at least one of the {what}; got an empty sequence.")
            if any(isinstance(v, bool | np.bool_) for v in idx):
                raise TypeError(f"`idx` must hold integer indices, not booleans; got {idx!r} (for a "
                                "boolean mask pass `numpy.flatnonzero(mask)`).")
            if all(isinstance(v, numbers.Integral) for v in idx):
                # Python integers beyond int64 would become an object array: range-check first.
                lo, hi = min(idx), max(idx)
                if lo < 0 or hi >= size:
                    raise ValueError(f"`idx` must hold {what} in [0, {size}); got values in "
                                     f"[{lo}, {hi}].")
            idx = as_dense(idx, "idx", xp, dev)
        else:
            if not hasattr(idx, "dtype"):
                raise TypeError(f"`idx` must be an integer or a sequence of integers; got {idx!r}.")
            try:
                same = array_namespace(idx) is xp
            except TypeError as exc:  # masked arrays, numpy.matrix
                raise TypeError(f"`idx`: {exc}") from None
            if not same:
                raise TypeError(f"`idx` is a {type(idx).__module__}.{type(idx).__name__} but the SVD "
                                f"state lives in {xp.__name__}; pass a list or an array of that "
                                "library.")
        dt = idx.dtype
        if xp.isdtype(dt, "bool"):
            raise TypeError("`idx` must hold integer indices, not booleans (for a boolean mask pass "
                            "`numpy.flatnonzero(mask)`).")
        if not xp.isdtype(dt, "integral"):
            raise TypeError(f"`idx` must have an integer dtype; got {dt}.")
        if idx.ndim > 1:
            raise ValueError(f"`idx` must be an integer or a 1-D sequence of integers; got shape "
                             f"{tuple(idx.shape)}.")
        idx = xp.reshape(xp.astype(idx, xp.int64), (-1,))
        p = idx.shape[0]
        if p == 0:
            raise ValueError(f"`idx` must name at least one of the {what}; got an empty sequence.")
        lo, hi = int(xp.min(idx)), int(xp.max(idx))
        if lo < 0 or hi >= size:
            raise ValueError(f"`idx` must hold {what} in [0, {size}); got values in [{lo}, {hi}].")
        srt = xp.sort(idx)
        if p > 1 and bool(xp.any(srt[1:] == srt[:-1])):
            raise ValueError("`idx` must not repeat an index.")
        if p >= size:
            raise ValueError(f"`idx` would remove all {size} {what}; at least one must remain.")
        # The complement without a scatter (array-API): i is removed iff srt holds it.
        every = xp.arange(size, dtype=xp.int64, device=dev)
        pos = xp.clip(xp.searchsorted(srt, every), max=p - 1)
        return every[xp.take(srt, pos) != every]

    def _ortho_threshold(self):
        """``ortho_tol``, or its default for the current shape (see the class docstring)."""
        if self.ortho_tol is not None:
            return self.ortho_tol
        return max(100.0, 10.0 * math.sqrt(max(self.shape))) * eps(self._s.dtype, self._xp)

    def _tolerance(self, p, scale):
        m, n = self.shape
        rtol = self.rtol if self.rtol is not None else max(m, n, p) * eps(self._s.dtype, self._xp)
        return rtol, scale

    def _ortho_estimates(self):
        """Estimates of ``||U^T U - I||_2`` and ``||V^T V - I||_2`` after an update.

        Every update: two fresh random unit vectors ``w`` (a new pair each time, so no
        direction of loss stays unseen) give ``||(U^T U - I) w||``, a lower bound that is
        within a small factor of the norm with high probability; ``O((m + n) r)``, or
        ``O(r^2)`` for a factor held in extended form (``K^T (U'^T U') K``, Gram matrix
        kept up to date).  Every ``FULL_CHECK_EVERY`` updates the exact 2-norm is taken
        as well (``O((m + n) r^2)`` for explicit factors, ``O(r^3)`` for extended ones),
        which bounds how long any loss can hide from the probe.
        """
        xp, r = self._xp, self._s.shape[0]
        self._probe_drawn = self._probe_rng.bit_generator.state  # for _restore
        w = self._probe_rng.standard_normal((r, 2))
        w /= np.sqrt(np.add.reduce(w * w, axis=0))  # unit columns (einsum's overhead is more)
        full = (self.n_updates + 1) % FULL_CHECK_EVERY == 0
        if is_numpy(xp):
            w = w.astype(self._s.dtype, copy=False)
            self._probe = w
            return (_factor_loss(xp, self._Ub, self._Ku, self._Gu, w, full),
                    _factor_loss(xp, self._Vb, self._Kv, self._Gv, w, full))
        w = xp.asarray(w, dtype=self._s.dtype, device=device(self._s))
        self._probe = w
        return (_factor_loss(xp, self._Ub, self._Ku, self._Gu, w, full),
                _factor_loss(xp, self._Vb, self._Kv, self._Gv, w, full))

    def _monitor(self):
        """``(ortho_u, ortho_v, reorthonormalize)`` after an update (see the class Notes).

        The probe runs when it is due; in between, the loss is bounded by the last
        measurement plus ``PROBE_GROWTH sqrt(max(m, n)) eps`` per update (rounding moves
        ``X^T X`` of an ``n``-row factor by about ``sqrt(n) eps`` per update, so the loss
        grows at most linearly in the number of updates), and the next probe is due
        before that bound can reach ``ortho_tol`` (at most ``PROBE_MAX_SKIP`` updates
        later; the exact check every ``FULL_CHECK_EVERY`` updates always runs).  A probe
        that finds more growth than the bound allowed (beyond a factor 2 and one step of
        slack: the probe is a randomized estimate) raises the per-update rate of this state to what it saw, so the
        schedule follows the factor's actual drift.
        """
        d = self.__dict__
        root = math.sqrt(max(self._Ub.shape[0], self._Vb.shape[0]))
        e = _eps_of(self._s.dtype, self._xp)
        tol = self._ortho_tol
        if tol is None:  # the default of _ortho_threshold, without a second lookup
            tol = max(100.0, 10.0 * root) * e
        full = (self.n_updates + 1) % FULL_CHECK_EVERY == 0
        step = d.get("_probe_rate", PROBE_GROWTH) * root * e
        due, since = d.get("_probe_due", 0), d.get("_probe_since", 0) + 1
        if due > 0 and not full:
            lu, lv = self._probe_last
            bu, bv = lu + since * step, lv + since * step
            if max(bu, bv) <= tol:  # (ortho_tol may have been lowered since)
                self._probe_due, self._probe_since = due - 1, since
                return bu, bv, False
        ou, ov = self._ortho_estimates()
        loss = max(ou, ov)
        reorth = loss > tol
        last = d.get("_probe_last")
        if last is not None and not reorth and loss > 2.0 * max(last) + (since + 1) * step:
            # More drift than the model allows (one step of slack for the probe's own
            # rounding): follow the measured rate from now on.
            grown = (loss - max(last)) / since
            self._probe_rate = d.get("_probe_rate", PROBE_GROWTH) * grown / step
            step = grown
        if reorth:
            self._probe_last, self._probe_due = None, 0  # measure the restored factors next
        else:
            self._probe_last = (ou, ov)
            room = (tol - loss) / step if step > 0 else math.inf
            self._probe_due = int(min(max(room - 1.0, 0.0), PROBE_MAX_SKIP))
        self._probe_since = 0
        return ou, ov, reorth

    def _extend_rows(self, F):
        """New left factor after appending rows, as ``(U', K_u, cond(K_u))``.

        ``U_new = [U F1; F2]``.  Held as ``U' = [U'; F2 K^-1]``, ``K = K_u F1`` it costs
        O((p + r) r^2) instead of O(m r^2): the old rows are never touched.  When ``K``
        would be ill-conditioned (a new direction displaces an old one, as in the
        adversarial case) the product is formed explicitly instead (``K`` never inverted).
        """
        xp = self._xp
        r = self._s.shape[0]
        kk = F.shape[1]
        F1, F2 = F[:r, :], F[r:, :]
        # Below the thresholds the explicit product is cheaper than the small factorizations.
        work = self._Ub.shape[0] * r * r
        worth_it = (self._Ku is not None
                    or (work >= U_EXTENDED_MIN_WORK and self._in_append_stream())
                    or (work >= U_EXTENDED_RUN_MIN_WORK and self._in_run()))
        if kk == r and worth_it:
            K = F1 if self._Ku is None else self._Ku @ F1
            # F has orthonormal columns, so sigma_min(F1)^2 = 1 - ||F2||_2^2 (CS
            # decomposition) and cond(K_u F1) <= cond(K_u) / sigma_min(F1): an O(p r)
            # bound (||F2||_F >= ||F2||_2 keeps it one).  The r x r SVD for the exact
            # condition number runs only when the bound exceeds max_cond_k.
            lap = _LAPACK.get(F.dtype.char) if type(F) is np.ndarray else None
            f2 = float(np.vdot(F2, F2)) if lap is not None else float(xp.sum(F2 * F2))
            cond = self._cond_ku / math.sqrt(1.0 - f2) if f2 < 1.0 else math.inf
            if cond > self.max_cond_k:
                if lap is not None:  # LAPACK direct: NumPy's wrapper costs more than the SVD
                    _, sv, _, info = lap.gesdd(K, compute_uv=0)
                    if info != 0:
                        sv = np.linalg.svd(K, compute_uv=False)
                else:
                    sv = xp.linalg.svdvals(K)
                smax, smin = float(sv[0]), float(sv[-1])
                cond = smax / smin if smin > 0 else math.inf
            if cond <= self.max_cond_k:
                if lap is None:
                    rows = xp.linalg.solve(K.mT, F2.mT).mT
                    return self._append_to_buffer(rows), K, cond
                _, _, rows_t, info = lap.gesv(K.T, F2.T)
                if info == 0:
                    return self._append_to_buffer(rows_t.T), K, cond
        if type(F) is np.ndarray:
            U = self._U
            out = np.empty((U.shape[0] + F2.shape[0], kk), dtype=F.dtype)
            np.matmul(U, F1, out=out[:U.shape[0]])  # written in place: no concatenation
            out[U.shape[0]:] = F2
            return out, None, 1.0
        return xp.concat([self._U @ F1, F2], axis=0), None, 1.0

    def _append_to_buffer(self, rows):
        """``[U'; rows]`` in amortized O(p r): U' lives in a row buffer grown by doubling.

        Rows past the current ``m`` are invisible to the current state, so writing them
        before the commit keeps updates all-or-nothing.
        """
        xp = self._xp
        m, p = self._Ub.shape[0], rows.shape[0]
        buf = self._Ubuf
        if buf is None or buf.shape[0] < m + p:
            cap = max(m + p + 64, (3 * (m + p)) // 2)
            buf = xp.zeros((cap, rows.shape[1]), dtype=rows.dtype, device=device(rows))
            buf[:m, :] = self._Ub
        buf[m:m + p, :] = rows
        # Gram matrix of U' for the orthogonality monitor (computed once on entry).
        gram = self._Gu if self._Gu is not None else self._Ub.mT @ self._Ub
        self._pending_buf, self._pending_gu = buf, gram + rows.mT @ rows
        return buf[:m + p, :]

    def _commit(self, U, s, V, rec, Ku=None, kept=None):
        # All work is done on new arrays; only now does the state change (all-or-nothing).
        buf, gram, pend_v = self._pending_buf, self._pending_gu, self._pending_v
        self._pending_buf = self._pending_gu = self._pending_v = None
        if type(s) is np.ndarray:
            # A finite sum proves every entry finite (NaN and inf propagate): one reduction
            # instead of isfinite and all on every update; the full check only otherwise.
            finite = math.isfinite(np.add.reduce(s)) or np.isfinite(s).all()
        else:
            finite = self._xp.all(self._xp.isfinite(s))
        if not bool(finite):
            raise FloatingPointError("the update produced non-finite singular values; state unchanged.")
        old = (self._Ub, self._Ku, self._s, self._Vb, self._Kv, self._Gv, self._Ubuf, self._Gu,
               self._cond_ku, self._cond_kv, self._Vbuf)
        old_rows = None
        # Everything from the first change on is undone on any exception, KeyboardInterrupt
        # included: the rows of V' written in place below belong to the saved state too, so
        # restoring the attributes alone (``_all_or_nothing``) would leave them changed.
        try:
            self._Ub, self._Ku, self._s = U, Ku, s
            self._cond_ku = rec.cond_k if Ku is not None else 1.0
            self._Ubuf, self._Gu = (buf, gram) if Ku is not None else (None, None)
            if pend_v is None:
                self._V = V
            else:
                # Extended right basis: only the rows the batch touches change (in place).
                Vb, uid, delta, Kv, Gv, cond_kv = pend_v
                if uid is not None:  # else Vb is a new array, already updated
                    old_rows = Vb[uid].copy()
                    Vb[uid] += delta
                else:
                    self._Vbuf = None  # a row buffer holding the old V' is stale now
                self._Vb, self._Kv, self._Gv, self._cond_kv = Vb, Kv, Gv, cond_kv
            ou, ov, reorth = self._monitor()
            if reorth:
                self._U, self._s, self._V = _reorthonormalize(self._xp, self._U, s, self._V)
        except BaseException:
            (self._Ub, self._Ku, self._s, self._Vb, self._Kv, self._Gv, self._Ubuf,
             self._Gu, self._cond_ku, self._cond_kv, self._Vbuf) = old
            if old_rows is not None:
                pend_v[0][pend_v[1]] = old_rows
            raise
        if kept is not None:
            self._kept = kept
        self.n_updates += 1
        # (the fields in order: cheaper than rec._replace, on every update)
        self.history.append(UpdateRecord(rec.kind, rec.method, self.shape, rec.residual_rank,
                                         rec.residual_sigma_min, ou, ov, reorth, rec.cond_k,
                                         rec.path, rec.predicted))
        return self


def _factor_loss(xp, B, K, G, w, full):
    """Loss of orthogonality of the factor ``B`` (or ``B K`` with ``G = B^T B``).

    The probe ``max ||(X^T X - I) w||`` over the columns of ``w``; with ``full`` also the
    exact 2-norm of ``X^T X - I`` (the larger of the two is returned).
    """
    if type(w) is np.ndarray:
        return _factor_loss_np(B, K, G, w, full)
    if K is not None and G is not None:
        ew = K.mT @ (G @ (K @ w)) - w
        gram = (lambda: K.mT @ G @ K) if full else None
    elif K is None:
        ew = B.mT @ (B @ w) - w
        gram = (lambda: B.mT @ B) if full else None
    else:
        ew = K.mT @ (B.mT @ (B @ (K @ w))) - w
        gram = (lambda: K.mT @ (B.mT @ B) @ K) if full else None
    est = float(xp.max(xp.linalg.vector_norm(ew, axis=0)))
    if gram is not None:
        S = gram()
        S = S - xp.eye(S.shape[0], dtype=S.dtype, device=device(S))
        est = max(est, float(xp.max(xp.abs(xp.linalg.eigvalsh((S + S.mT) / 2)))))
    return est


_EPS: dict = {}

class _Lapack(NamedTuple):
    gesdd: Any
    gesdd_lwork: Any
    geqrf: Any
    orgqr: Any
    trtri: Any
    gesv: Any


#: The LAPACK routines of the lean path per dtype character, called directly (NumPy's
#: wrappers add a C-order copy and checks that cost as much as a 20 x 20 SVD itself).
_LAPACK = {"d": _Lapack(lapack.dgesdd, lapack.dgesdd_lwork, lapack.dgeqrf, lapack.dorgqr,
                        lapack.dtrtri, lapack.dgesv),
           "f": _Lapack(lapack.sgesdd, lapack.sgesdd_lwork, lapack.sgeqrf, lapack.sorgqr,
                        lapack.strtri, lapack.sgesv)}
#: ``gesdd``'s queried (optimal) workspace per core order: 13% faster than SciPy's
#: default workspace at order 36 (158 against 181 us), equal at 11-30 and at 50.
#: (``gesvd`` was 5% faster on random triangular cores up to order 21 but 7-15% slower
#: on the cores of a real stream, n = 50, rank 14, single rows: not used.)
_GESDD_LWORK: dict = {}


def _core_svd(lap, K):
    """``(F, theta, Gt, info)``: thin SVD of the square F-ordered core ``K``, overwritten."""
    k = K.shape[0]
    key = (lap.gesdd, k)
    lwork = _GESDD_LWORK.get(key)
    if lwork is None:
        work, info = lap.gesdd_lwork(k, k, compute_uv=1, full_matrices=0)
        lwork = _GESDD_LWORK[key] = int(work) if info == 0 else 0
    if lwork <= 0:
        return lap.gesdd(K, compute_uv=1, full_matrices=0, overwrite_a=1)
    return lap.gesdd(K, compute_uv=1, full_matrices=0, overwrite_a=1, lwork=lwork)


def _core_matrix(s, p):
    """``[[diag(s), 0], [0, 0]]`` of order ``r + p``, F-ordered (its last ``p`` rows are filled
    by the caller)."""
    r = s.shape[0]
    K = np.zeros((r + p, r + p), dtype=s.dtype, order="F")
    K.ravel(order="F")[:r * (r + p + 1):r + p + 1] = s  # diag(s) (a view: K is F-contiguous)
    return K


def _arrow_core(s, c, rho, kk):
    """``(F, theta, Gt)`` of the one-row core ``[[diag(s), 0], [c^T, rho]]``, top ``kk``, by its
    secular equation in ``O(r^2)`` (:mod:`._arrow_numba`); ``None`` where that kernel cannot be
    used (no Numba, a core that needs deflation), and ``gesdd`` factors it.  A float32 core is
    factored in float64 (more accurate than ``sgesdd``) and the factors rounded back."""
    kernel = _arrow_kernel()
    if kernel is None:
        return None
    arrow_core_svd, dlasd4 = kernel
    dt = s.dtype
    if dt != np.float64:
        s, c = s.astype(np.float64), c.astype(np.float64)
    r = s.shape[0]
    F = np.empty((r + 1, kk), order="F")
    theta = np.empty(kk)
    Gt = np.empty((kk, r + 1))
    if arrow_core_svd(dlasd4, s, c, float(rho), kk, F, theta, Gt) != 0:
        return None
    if dt != np.float64:
        return F.astype(dt, order="F"), theta.astype(dt), Gt.astype(dt)
    return F, theta, Gt


@functools.cache
def _lean_kernel():
    """:func:`._lean_numba.lean_rows` with its LAPACK routines bound, or ``None`` without Numba."""
    if not numba_available():
        return None
    try:
        from ._lean_numba import DGEQRF, DGESDD, DORGQR, DTRTRI, lean_rows
    except ImportError:  # Numba present but unusable: the Python calls
        return None

    def lean(E, V, s, tol, e, kk, implicit_cond, F, theta, V_new):
        # C-contiguous and writeable: a read-only or strided array would compile (and
        # cache) another specialization of the kernel
        E, V, s = (a if a.flags.c_contiguous and a.flags.writeable else np.array(a, order="C")
                   for a in (E, V, s))
        return lean_rows(DGEQRF, DORGQR, DTRTRI, DGESDD, E, V, s, tol, e, kk, implicit_cond, F,
                         theta, V_new)

    return lean


@functools.cache
def _arrow_kernel():
    if not numba_available():
        return None
    try:
        from ._arrow_numba import DLASD4, arrow_core_svd
    except ImportError:  # Numba present but unusable: gesdd
        return None
    return arrow_core_svd, DLASD4


_GEMM = {"d": blas.dgemm, "f": blas.sgemm}
_SYEVD = {"d": lapack.dsyevd, "f": lapack.ssyevd}


def _eps_of(dtype, xp):
    """``eps(dtype)``, cached per dtype (the monitor asks after every update)."""
    # (str(dtype) cost more than the rest of the monitor.)  The namespace comes first in
    # the key, so dtypes of different libraries are never compared with each other.
    key = (xp, dtype)
    e = _EPS.get(key)
    if e is None:
        e = _EPS[key] = eps(dtype, xp)
    return e


#: Size ``m r`` of an explicit factor from which the probe uses two GEMVs, not one GEMM.
_PROBE_GEMV_MIN = 15_000


def _factor_loss_np(B, K, G, w, full):
    """:func:`_factor_loss` with NumPy called directly (the probe of every NumPy update)."""
    if full:
        # The Gram matrix S = X^T X (fresh, so private) gives the probe too: S w - w.
        if K is None:
            S = B.T @ B
        elif G is not None:
            S = K.T @ G @ K
        else:
            S = K.T @ (B.T @ B) @ K
        ew = S @ w
    elif K is None:
        if B.shape[0] * B.shape[1] >= _PROBE_GEMV_MIN:
            # one pair of matrix-vector products per probe column: GEMM with two columns
            # is slower on a tall factor (2000 x 20: 53 -> 38 us a probe; 1000 x 16: 25 -> 22;
            # 800 x 13: 21 -> 22, below the threshold)
            ew = np.empty_like(w)
            for j in range(w.shape[1]):
                ew[:, j] = B.T @ (B @ w[:, j])
        else:
            ew = B.T @ (B @ w)
    elif G is not None:
        ew = K.T @ (G @ (K @ w))
    else:
        ew = K.T @ (B.T @ (B @ (K @ w)))
    ew -= w
    est = math.sqrt(float(np.add.reduce(ew * ew, axis=0).max()))
    if full:
        # S^T, F-contiguous, for LAPACK (a triangle of it is one of S: no copy)
        S = S.T if S.flags.c_contiguous else np.array(S, order="F")
        S.ravel(order="F")[::S.shape[0] + 1] -= 1.0  # S - I (its eigenvalues to eps ||S - I||)
        # One triangle of S - I, as good as its symmetric part: LAPACK's eigensolver direct
        # (numpy.linalg.eigvalsh's wrapper costs more than a 20 x 20 solve).
        lam, _, info = _SYEVD[S.dtype.char](S, compute_v=0, overwrite_a=1)
        if info != 0:
            lam = np.linalg.eigvalsh((S + S.T) / 2)
        est = max(est, float(max(-lam[0], lam[-1])))
    return est


def _append_lean(self, E, strategy, *, kept=None, pred=None, rows=None, p_all=None):
    """Dense NumPy rows appended to ``self`` by exact Zha-Simon with NumPy called directly.

    The same algorithm as the general path (one Gram-Schmidt pass measured against
    ``V``, a QR of the residual, the rank threshold, the core SVD, the extended or
    explicit left factor, the commit and its orthogonality monitor) with the checks
    that a plain ``float32``/``float64`` array of the state's dtype needs and no
    namespace dispatch: small updates (rank 10-20, a few hundred columns) are
    dominated by per-call overhead, so LAPACK's SVD is called directly on arrays laid
    out for it and no block is copied twice.  Returns ``None`` (nothing changed)
    whenever anything is unusual (other dtype or shape, non-finite entries, extreme
    scales, a rank-deficient residual, heavy cancellation, a LAPACK failure): the
    general path then validates, reports and handles it.

    ``rows`` (with ``p_all``): ``E`` holds the rows ``rows`` of a batch of ``p_all``
    rows whose others are exactly zero (empty rows of a sparse batch); those become
    zero rows of ``U`` (exactly what the general path's rank-revealing step gives them)
    and the rest of the batch takes the lean path.
    """
    s0 = self._s
    dt = s0.dtype
    if E.ndim != 2 or E.dtype != dt:
        return None
    p, n = E.shape
    m = self._Ub.shape[0]
    r = s0.shape[0]
    if n != self._Vb.shape[0] or p == 0 or p + r > n:
        return None
    enorm = math.sqrt(np.vdot(E, E))  # also NaN/Inf in E, and overflow/underflow
    if not 1e-100 < enorm < 1e100:
        return None
    lap = _LAPACK.get(dt.char)
    if lap is None:
        return None
    self._clear_pending()
    # V = V' K_v formed here, not folded into the state: the returns of None below must
    # leave the state as it was (the general path then saves and guards that state)
    V = self._Vb if self._Kv is None else self._Vb @ self._Kv
    s = s0 * self.decay if self.decay != 1.0 else s0
    e = _eps_of(dt, np)
    p_all = p if rows is None else p_all
    rtol = self.rtol if self.rtol is not None else max(m, n, p_all) * e
    scale = max(float(s[0]), enorm)
    tol = rtol * scale
    # K = [[diag(s), 0], [C, T]] in Fortran order, which LAPACK factors in place (built
    # below where gesdd needs it).
    K = None
    Qmap = None  # Q itself, or the T^-1 that maps Y to it
    core = None  # (F, theta, Gt) when found without gesdd
    if p == 1:  # the QR is a normalization, T = rho
        x = E[0]
        c = V.T @ x                             # r
        y = x - V @ c                           # n, one Gram-Schmidt pass
        g = V.T @ y
        rho = math.sqrt(np.dot(y, y))
        if not rho > tol:
            return None
        q, smin = y / rho, rho
        w2 = float(np.dot(g, g)) / (rho * rho)
        W = None
        if w2 > (10 * e) ** 2:
            if w2 > e:
                return None  # heavy cancellation: the general path's second pass
            W = (g / rho)[:, None]              # q - V W has Gram matrix 1 - W^T W
            c = c + g
        core = _arrow_core(s, c, rho, min(self._r_target, r + 1))
        if core is None:
            K = _core_matrix(s, p)
            K[r, :r] = c
            K[r, r] = rho
        Q = q[:, None]
    else:
        lean = _lean_kernel() if dt.char == "d" else None
        if lean is not None:  # the same steps in one Numba call (NumPy's per-call costs)
            kk = min(self._r_target, r + p)
            F = np.empty((r + p, kk))
            theta = np.empty(kk)
            V_new = np.empty((n, kk))
            code, smin = lean(E, V, s, tol, e, kk, _IMPLICIT_Q_COND, F, theta, V_new)
            if code != 0:
                return None
            return _lean_commit(self, F, theta, V_new, smin / scale, p, p_all, rows, strategy,
                                pred, kept)
        C = E @ V                               # p x r
        Y = (E - C @ V.T).T                     # n x p (F-contiguous), one Gram-Schmidt pass
        G = V.T @ Y
        # Householder QR Y = Q T by LAPACK in place (an SVD of Y costs 2-5x as much at
        # p = 10-40).  T^-1 (p^3 / 3 flops) gives both V^T Q = G T^-1, without touching
        # Q, and the certified bound sigma_min(T) >= 1 / ||T^-1||_F for the rank
        # threshold (within sqrt(p) of sigma_min; a batch that this bound cannot clear
        # takes the general path, which measures the singular values of T).
        qr, tau, _, info = lap.geqrf(Y, overwrite_a=0)  # Y kept: Q = Y T^-1 below
        if info != 0:
            return None
        # a copy (orgqr overwrites qr); np.triu's own overhead matters for small p only
        T = np.where(_upper(p), qr[:p], 0.0) if p <= _UPPER_CACHED else np.triu(qr[:p])
        Tinv, info = lap.trtri(T)
        if info != 0:
            return None
        tinv_f = math.sqrt(np.vdot(Tinv, Tinv))
        smin = 1.0 / tinv_f
        if not smin > tol:
            return None                         # near the threshold: the general path
        if math.sqrt(np.vdot(T, T)) * tinv_f <= _IMPLICIT_Q_COND * p:
            # Q = Y T^-1 is never formed: it enters V_new only through Q G_2^T = Y (T^-1 G_2^T),
            # an r x p x kk product, and Y T^-1 is as orthonormal as Householder's Q to within
            # cond(T) eps (orgqr was a third of the update's non-SVD time at p = 40)
            Q, Qmap = Y, Tinv
            W = G @ Tinv                        # V^T Q to within cond(T) eps
        else:
            Q, _, info = lap.orgqr(qr, tau, overwrite_a=1)
            if info != 0:
                return None
            # measured: G T^-1 is V^T Q only to within cond(T) eps, and the correction
            # Q - V W below must be orthogonal to rounding (1000 eps lost at cond(T) = 5e3)
            W = V.T @ Q
        w2 = float(np.vdot(W, W))
        if w2 > (10 * e) ** 2:
            if w2 > e:
                return None  # heavy cancellation: the general path's second pass
            C = C + G.T                         # Q - V W has Gram matrix I - W^T W; W T = G
        else:
            W = None
        K = _core_matrix(s, p)
        K[r:, :r] = C
        K[r:, r:] = T.T
    if core is None:
        F, theta, Gt, info = _core_svd(lap, K)
        if info != 0:
            return None
    else:
        F, theta, Gt = core
    kk = min(self._r_target, theta.shape[0])
    # V_new = [V, Q - V W] G[:, :kk] = V (G_1 - W G_2) + Q G_2: the correction of Q
    # against V (needed on most updates: ||W|| is 20-120 eps on graded rows) costs an
    # r x p x kk product instead of an n x r x p one, and [V, Q] is never formed.  The
    # rank-p term is added in place by one GEMM on the F-contiguous view V_new^T (NumPy's
    # own outer product and addition cost twice that for p = 1).
    G1 = Gt[:kk, :r].T
    if W is not None:
        G1 = G1 - W @ Gt[:kk, r:].T
    V_new = V @ G1
    G2 = Gt[:kk, r:] if Qmap is None else Gt[:kk, r:] @ Qmap.T
    _GEMM[dt.char](1.0, G2, Q, beta=1.0, c=V_new.T, trans_b=1, overwrite_c=1)
    return _lean_commit(self, F[:, :kk], theta[:kk], V_new, smin / scale, p, p_all, rows, strategy,
                        pred, kept)


def _lean_commit(self, F, theta, V_new, sigma_min, p, p_all, rows, strategy, pred, kept):
    """The lean path's end: the planner's prediction for the record, the batch's zero rows,
    the new left factor and the commit (``F`` (r + p) x kk, ``theta`` and ``V_new`` kk wide)."""
    r = self._s.shape[0]
    m, n = self._Ub.shape[0], V_new.shape[0]
    if strategy == "auto" and pred is None:
        rotated = p_all if self._Ku is not None else m
        dense_s = (_dispatch.append_dense(n, p_all, r, None) + _dispatch.rotate(rotated, r)
                   + _dispatch.probe(m, n, r))
        pred = Prediction(math.nan, dense_s, math.nan)
    if rows is not None:  # the batch's zero rows: zero rows of the left rotation
        full = np.zeros((r + p_all, F.shape[1]), dtype=F.dtype)
        full[:r] = F[:r]
        full[r + rows] = F[r:]
        F = full
    Ub, Ku, cond = self._extend_rows(F)
    rec = UpdateRecord(self._append_kind, "exact", (0, 0), p, sigma_min, math.nan,
                       math.nan, False, cond_k=cond, path="dense", predicted=pred)
    return self._commit(Ub, theta, V_new, rec, Ku=Ku, kept=kept)


def _dense_rows(E, transposed):
    """The rows of sparse ``E`` (of ``E^T`` when ``transposed``) as a dense array.

    Where the rows are ``E``'s compressed axis (CSR rows, CSC columns) and the dtype is
    float64, one ``bincount`` scatters them, duplicates summed as ``toarray`` sums them
    (SciPy's ``toarray`` and transpose cost more than a one-row update's arithmetic);
    otherwise ``toarray``.
    """
    p, n = E.shape[::-1] if transposed else E.shape
    if E.format != ("csc" if transposed else "csr") or E.dtype != np.float64:
        return E.toarray().T if transposed else E.toarray()
    ptr = E.indptr
    nnz = int(ptr[-1])
    idx = E.indices[:nnz].astype(np.intp, copy=False)
    if p > 1:
        idx = np.repeat(np.arange(p, dtype=np.intp) * n, np.diff(ptr)) + idx
    return np.bincount(idx, weights=E.data[:nnz], minlength=p * n).reshape(p, n)


#: Largest ``||T||_F ||T^-1||_F / p`` (``||T||_F ||T^-1||_F`` bounds the residual's condition
#: number and is ``p`` for an orthonormal one) for which the lean path keeps ``Q = Y T^-1``
#: implicit: its loss of orthogonality then stays within a few times Householder's own
#: (10 against 6 eps on the 40-row bench stream, condition number 7).
_IMPLICIT_Q_COND = W_FROM_G_MAX_COND  # (the same bound decides where W = G T^-1 is used)


#: Batch sizes whose upper-triangle mask is cached (at most 64 masks of at most 4 KiB).
_UPPER_CACHED = 64


@functools.lru_cache(maxsize=_UPPER_CACHED)
def _upper(p):
    """Boolean mask of the upper triangle of a ``p x p`` matrix (read-only, cached)."""
    mask = np.triu(np.ones((p, p), dtype=bool))
    mask.flags.writeable = False
    return mask


def _gram_flag(path, strategy):
    """``gram=`` for :func:`residual_basis`: forced, forbidden or left to its size rule."""
    if strategy == "sparse":
        return True
    return False if path == "dense" and strategy == "dense" else None


def _path_of(method):
    """Record's ``path`` from the residual method that ran."""
    return "sparse" if method.startswith("exact-") or "exact-gram" in method else "dense"


def _append(state, U, s, V, M, method, l, t, gram=None):
    """Rows ``M^T`` appended below ``U diag(s) V^T`` (columns: call with U and V swapped).

    With ``U=None`` the left rotation ``F`` (r + p) x r' is returned in place of ``U_new``.
    """
    xp = state._xp
    p = M.shape[1]
    rtol, scale = state._tolerance(p, max(float(s[0]), fro_norm(M, xp)))
    b = residual_basis(xp, V, M, method=method, l=l, t=t, rtol=rtol, scale=scale, rng=state._rng,
                       gram=gram)
    r, q = s.shape[0], b.Q.shape[1]
    # K = [[diag(s), 0], [C^T, B^T]]: the new rows in the basis [V, Q], the old ones in V.
    K = xp.concat([_diag(xp, s, r, r + q), xp.concat([b.C, b.B], axis=0).mT], axis=0)
    F, theta, Gt = robust_svd(xp, K, full_matrices=False)
    kk = min(state._r_target, theta.shape[0])
    U_new = F[:, :kk] if U is None else xp.concat([U @ F[:r, :kk], F[r:, :kk]], axis=0)
    V_new = V @ Gt[:kk, :r].mT + b.Q @ Gt[:kk, r:].mT
    rec = UpdateRecord("", b.method, (0, 0), q, b.sigma_min, math.nan, math.nan, False,
                       path=_path_of(b.method))
    return U_new, theta[:kk], V_new, rec


def _downdate(state, U, s, V, keep):
    """SVD of ``U[keep] diag(s) V^T`` by a QR of ``U[keep]``."""
    xp = state._xp
    Q, R = xp.linalg.qr(xp.take(U, keep, axis=0))
    F, theta, Gt = robust_svd(xp, R * s[None, :], full_matrices=False)
    kk = min(s.shape[0], theta.shape[0])
    rec = UpdateRecord("", "exact", (0, 0), 0, math.nan, math.nan, math.nan, False, path="downdate")
    return Q @ F[:, :kk], theta[:kk], V @ Gt[:kk, :].mT, rec


def _reorthonormalize(xp, U, s, V):
    """Restore orthonormal factors: QR of both, then the SVD of the small core."""
    Qu, Ru = xp.linalg.qr(U)
    Qv, Rv = xp.linalg.qr(V)
    F, theta, Gt = robust_svd(xp, (Ru * s[None, :]) @ Rv.mT, full_matrices=False)
    return Qu @ F, theta, Qv @ Gt.mT


def _svds(xp, A, r, rng, v0=None):
    """Rank-``r`` SVD of sparse ``A``: ARPACK (``eigsh``, ``tol=0``) on the Gram operator of
    the smaller side, then a Rayleigh-Ritz step for both factors.

    ``Y = A V`` and the eigendecomposition of ``Y^T Y = Z diag(s^2) Z^T`` give
    ``U = Y Z / s`` and ``V Z``: ``O(nnz r + m r^2)``, cheaper than the dense SVD of ``Y``
    that ``scipy.sparse.linalg.svds`` runs.  ``U`` is then orthonormal to about
    ``eps (s_1 / s_r)^2``; for a spread above ``sqrt(10)`` one Cholesky-QR pass and an
    ``r x r`` SVD restore it to rounding.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    tall = A.shape[0] >= A.shape[1]
    B = A if tall else A.T
    # The Gram operator squares the entries: work on A scaled by a power of two (exact) so
    # that it neither underflows nor overflows, and scale the singular values back.
    exponent = binary_exponent(float(abs(B).max()) if B.nnz else 0.0)
    B = (B * np.ldexp(1.0, -exponent)).tocsr()
    n = B.shape[1]
    v0 = rng.standard_normal(n) if v0 is None else v0
    BT = B.T.tocsr()
    gram = LinearOperator((n, n), matvec=lambda x: BT @ (B @ x),
                          matmat=lambda X: BT @ (B @ X), dtype=np.float64)
    _, V = eigsh(gram, k=r, tol=0, v0=v0, which="LA")
    Y = B @ V
    lam, Z = np.linalg.eigh(Y.T @ Y)
    lam, Z = lam[::-1], Z[:, ::-1]
    if not lam[-1] > 0:  # rank-deficient: the SVD of Y through a QR
        Q, R = np.linalg.qr(Y)
        X, s, Wt = np.linalg.svd(R)
        U, V = Q @ X, V @ Wt.T
    else:
        s = np.sqrt(lam)
        U, V = (Y @ Z) / s[None, :], V @ Z
        if lam[0] / lam[-1] > 10.0:
            # U is orthonormal to eps cond(Y^T Y) only: one Cholesky-QR pass (its Gram
            # matrix is now I + O(eps cond)) and the SVD of the r x r factor restore it.
            R = np.linalg.cholesky(U.T @ U).T
            U = scipy.linalg.solve_triangular(R, U.T, trans="T", lower=False).T
            X, s, Wt = np.linalg.svd(R * s[None, :])
            U, V = U @ X, V @ Wt.T
    if not tall:
        U, V = V, U
    s = s * np.ldexp(1.0, exponent)
    return xp.asarray(np.ascontiguousarray(U)), xp.asarray(s), xp.asarray(np.ascontiguousarray(V))


def _randomized_svd(xp, A, r, t, rng):
    """Halko-Martinsson-Tropp range finder with ``t`` power passes (dense or sparse)."""
    m, n = A.shape
    width = min(r + 10, min(m, n))
    dt = A.dtype
    dev = None if is_sparse(A) else device(A)
    omega = xp.asarray(rng.standard_normal((n, width)), dtype=dt, device=dev)
    Q, _ = xp.linalg.qr(A @ omega)
    for _ in range(t):
        Z, _ = xp.linalg.qr(rmatmul(A, Q))
        Q, _ = xp.linalg.qr(A @ Z)
    W, s, Vt = robust_svd(xp, rmatmul(A, Q).mT, full_matrices=False)
    return Q @ W[:, :r], s[:r], Vt[:r, :].mT

