"""scikit-learn estimator face of :class:`~orthla.svdupdate.TruncatedSVD`: fit, stream, transform.

This module imports scikit-learn at import time; ``orthla.svdupdate`` reaches it lazily (module
``__getattr__``), so ``import orthla`` works without scikit-learn.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "orthla.svdupdate.IncrementalSVD needs scikit-learn (>= 1.6), which is not installed; "
        'install it with `pip install "orthla[sklearn]"`.'
    ) from exc

from .._backend import _refuse_ndarray_subclass, array_namespace
from .._validate import check_choice, check_int, check_real
from ._truncated import FIT_METHODS, TruncatedSVD

__all__ = ["IncrementalSVD"]

UPDATE_METHODS = ("exact", "gkl", "rpi")
_SPARSE = ("csr", "csc", "coo")
_DTYPES = [np.float64, np.float32]


def _name_the_argument(exc: Exception, name: str) -> Exception:
    """``exc`` (from scikit-learn's input validation) with a message that names ``name``."""
    msg = str(exc)
    if re.search(rf"\b{name}\b", msg):
        return exc
    kind = TypeError if isinstance(exc, TypeError) else ValueError
    return kind(f"`{name}`: {msg}")


def _random_state(random_state: Any) -> Any:
    """``random_state`` as orthla's ``rng`` (a legacy ``RandomState`` seeds a Generator)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    raise TypeError("`random_state` must be None, an integer, a numpy.random.Generator or a "
                    f"numpy.random.RandomState; got {random_state!r}.")


def _flip_signs(Vt: np.ndarray) -> np.ndarray:
    """Signs making the largest-magnitude entry of each row of ``Vt`` positive (ties: first)."""
    idx = np.argmax(np.abs(Vt), axis=1)
    signs = np.sign(Vt[np.arange(Vt.shape[0]), idx])
    signs[signs == 0] = 1
    return signs.astype(Vt.dtype)


def _column_stats(X: Any) -> tuple[np.ndarray, float]:
    """Column means and the summed squared deviations ``sum_ij (x_ij - mean_j)^2`` (float64)."""
    m = X.shape[0]
    if hasattr(X, "tocsr"):  # SciPy sparse
        X = X.tocsr()
        mean = np.asarray(X.sum(axis=0), dtype=np.float64).ravel() / m
        sq = float(X.multiply(X).sum(dtype=np.float64))
        return mean, max(sq - m * float(mean @ mean), 0.0)
    Xd = np.asarray(X, dtype=np.float64)
    amax = float(np.max(np.abs(Xd))) if Xd.size else 0.0
    c = math.ldexp(1.0, math.frexp(amax)[1]) if amax > 0 else 1.0  # exact power-of-two scale
    mean = Xd.mean(axis=0)
    dev = (Xd / c) - (mean / c)
    return mean, float(np.sum(dev * dev)) * c * c


class IncrementalSVD(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Truncated SVD as a scikit-learn transformer that can learn from a stream of rows.

    A scikit-learn estimator (``fit``, ``partial_fit``, ``transform``, ``inverse_transform``,
    ``fit_transform``, ``get_params``/``set_params``, pipelines, grid search, pickling) backed
    by :class:`orthla.svdupdate.TruncatedSVD`: :meth:`fit` computes the truncated SVD of
    ``X`` (samples as rows), :meth:`partial_fit` appends the rows of each new batch with
    :meth:`TruncatedSVD.add_rows` (the first call fits), so the model follows a data set too
    large, or arriving too late, for one batch SVD.  Needs scikit-learn
    (``pip install "orthla[sklearn]"``); NumPy arrays, lists and SciPy sparse matrices are
    accepted, as by scikit-learn's own estimators.

    The data are **not centered** (like scikit-learn's ``TruncatedSVD`` and latent semantic
    indexing; unlike ``IncrementalPCA``): the components span the dominant row space of ``X``
    itself, sparse input stays sparse, and a stream needs no running mean.  Center the data
    first (``StandardScaler(with_std=False)`` in a pipeline, dense data only) for a PCA.

    Parameters
    ----------
    n_components : int, default 2
        Number of components ``k``.  ``fit`` and the first ``partial_fit`` batch need
        ``k <= min(n_samples, n_features)``.
    oversample : int, optional
        Extra components tracked below the ``k`` exposed ones (default ``ceil(k / 4)``):
        directions that rise above ``sigma_k`` later in a stream are then already tracked, the
        largest accuracy lever of any updating scheme.  Ignored by a single ``fit`` except for
        its cost.
    algorithm : {"exact", "rpi"}, default "exact"
        SVD of the first batch: ``"exact"`` (LAPACK for dense ``X``, ARPACK ``svds`` for
        sparse ``X``) or ``"rpi"`` (randomized range finder with ``n_iter`` power passes).
    n_iter : int, default 2
        Power passes of the ``"rpi"`` fit and updates.
    update_method : {"exact", "gkl", "rpi"}, default "exact"
        How :meth:`partial_fit` captures the part of a batch outside the tracked row space:
        all of it (Zha-Simon), ``update_rank`` Golub-Kahan-Lanczos vectors, or a randomized
        range finder (see :meth:`TruncatedSVD.add_rows`).
    update_rank : int, default 10
        Subspace size of the ``"gkl"``/``"rpi"`` updates (``l`` of ``add_rows``).
    rtol, ortho_tol : float, optional
        Rank threshold of new directions and re-orthonormalization threshold of the
        tracked factors; see :class:`TruncatedSVD`.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Randomness of ARPACK's start vector, the ``"rpi"``/``"gkl"`` methods and the
        orthogonality probe (a ``RandomState`` seeds a new Generator).  With
        ``algorithm="exact"`` and ``update_method="exact"`` the result does not depend on it.

    Attributes
    ----------
    components_ : ndarray, shape (n_components, n_features)
        Right singular vectors (rows, orthonormal), signed so that the largest-magnitude
        entry of each is positive.
    singular_values_ : ndarray, shape (n_components,)
        Singular values of all rows seen, non-increasing.
    explained_variance_ : ndarray, shape (n_components,)
        Variance over the samples of each column of ``X @ components_.T`` (as
        scikit-learn's ``TruncatedSVD``: the projections are not centered, their variance is).
    explained_variance_ratio_ : ndarray, shape (n_components,)
        ``explained_variance_`` over the total variance of the features (zeros for constant
        data).  Not sorted: the components are ordered by singular value.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str
        Feature names of a data frame given to ``fit`` (only then).
    n_samples_seen_ : int
        Number of rows the model has seen.
    svd_ : TruncatedSVD
        The orthla state (read ``svd_.history`` for what each update did).  Update it only
        through this estimator, or its attributes above go stale.

    Raises
    ------
    ValueError
        From ``fit``/``partial_fit``: ``n_components`` larger than ``min(n_samples,
        n_features)`` of the first batch, an option out of range, NaN/Inf, empty or
        non-2-D ``X``, a later batch or a ``transform`` input with another number of
        features.
    TypeError
        Complex, string or masked input, an unsupported sparse format, an option of the
        wrong type.

    See Also
    --------
    TruncatedSVD : the updatable state itself, with column appends, low-rank updates and
        removals.
    sklearn.decomposition.TruncatedSVD : batch truncated SVD (ARPACK or randomized).
    sklearn.decomposition.IncrementalPCA : the centered streaming counterpart.

    Notes
    -----
    :meth:`fit` costs one truncated SVD of ``X``: ``O(m n min(m, n))`` with LAPACK,
    ARPACK iterations on sparse input.  :meth:`partial_fit` with ``p`` new rows costs
    ``O(n p (r + p) + (r + p)^3 + n r (r + p))`` for ``r = n_components + oversample``
    tracked components, independent of the number of rows seen.  An exact update gives the
    exact rank-``r`` truncated SVD of the tracked rank-``r`` model with the new rows
    appended, so a stream whose data have rank at most ``r`` reproduces the batch SVD to
    rounding; otherwise each update's truncation error is at most the root-sum-square of
    the singular values it discards (see :class:`TruncatedSVD`), and the gap to the batch
    SVD of all rows is bounded by those errors accumulated over the stream.

    ``explained_variance_`` after :meth:`fit` is computed from the projected data, as in
    scikit-learn.  In a stream the rows are gone, so it is computed as
    ``s_j^2 / m - (mean . v_j)^2`` from the tracked singular values and the running column
    mean (accurate to about ``eps s_j^2 / m`` in absolute terms: data far from the origin
    lose relative accuracy in it, as in any non-centered variance), and the total
    variance is merged batch by batch (Chan et al.) in float64.

    Differences from ``sklearn.decomposition.TruncatedSVD``: ``partial_fit`` exists; the
    default ``n_components`` is 2 as there; the algorithms are ``"exact"`` (LAPACK/ARPACK)
    and ``"rpi"`` rather than ``"arpack"``/``"randomized"``, and ``n_components`` may equal
    ``n_features``; float32 input is computed in float32.

    Examples
    --------
    >>> import numpy as np
    >>> from orthla.svdupdate import IncrementalSVD
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 4)) @ rng.standard_normal((4, 30))  # rank 4
    >>> est = IncrementalSVD(n_components=4)
    >>> for batch in np.array_split(X, 5):
    ...     est = est.partial_fit(batch)
    >>> batch_fit = IncrementalSVD(n_components=4).fit(X)
    >>> bool(np.allclose(est.singular_values_, batch_fit.singular_values_))
    True
    >>> est.transform(X[:2]).shape
    (2, 4)
    >>> bool(np.allclose(est.inverse_transform(est.transform(X)), X))
    True
    """

    # Fitted attributes (set by fit/partial_fit; declared for type checkers only).
    svd_: TruncatedSVD
    components_: np.ndarray
    singular_values_: np.ndarray
    explained_variance_: np.ndarray
    explained_variance_ratio_: np.ndarray
    n_samples_seen_: int
    _mean: np.ndarray
    _m2: float
    _signs: np.ndarray
    _dtype: np.dtype

    def __init__(self, n_components: int = 2, *, oversample: int | None = None,
                 algorithm: str = "exact", n_iter: int = 2, update_method: str = "exact",
                 update_rank: int = 10, rtol: float | None = None,
                 ortho_tol: float | None = None, random_state: Any = None) -> None:
        self.n_components = n_components
        self.oversample = oversample
        self.algorithm = algorithm
        self.n_iter = n_iter
        self.update_method = update_method
        self.update_rank = update_rank
        self.rtol = rtol
        self.ortho_tol = ortho_tol
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------------ scikit-learn API
    def fit(self, X: Any, y: Any = None) -> IncrementalSVD:
        """Truncated SVD of ``X``; forgets any earlier data.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            Training rows (real; integers and booleans are converted to float64, float32
            is kept).  SciPy sparse CSR/CSC/COO stays sparse; other sparse formats are
            converted to CSR.
        y : None
            Ignored (scikit-learn API).

        Returns
        -------
        IncrementalSVD
            ``self``, fitted.

        Raises
        ------
        ValueError, TypeError
            See :class:`IncrementalSVD`.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.svdupdate import IncrementalSVD
        >>> X = np.random.default_rng(1).standard_normal((20, 6))
        >>> est = IncrementalSVD(n_components=3).fit(X)
        >>> s = np.linalg.svd(X, compute_uv=False)
        >>> bool(np.allclose(est.singular_values_, s[:3]))
        True
        """
        X = self._check_X(X, reset=True)
        self._fit(X)
        Xt = self._project(X)
        self._set_variance(np.var(Xt, axis=0, dtype=np.float64))
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """Fit to ``X`` and return its coordinates ``X @ components_.T``, shape (n_samples, k).

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            As :meth:`fit`.
        y : None
            Ignored.
        **fit_params
            None are accepted (scikit-learn API); passing any raises ``TypeError``.

        Returns
        -------
        ndarray, shape (n_samples, n_components)
            ``U_k diag(s_k)`` of the SVD (equal to ``X @ components_.T`` for the exact SVD).

        Raises
        ------
        ValueError, TypeError
            As :meth:`fit`.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.svdupdate import IncrementalSVD
        >>> X = np.random.default_rng(2).standard_normal((10, 5))
        >>> est = IncrementalSVD(n_components=2)
        >>> Xt = est.fit_transform(X)
        >>> bool(np.allclose(Xt, est.transform(X)))
        True
        """
        if fit_params:
            raise TypeError(f"IncrementalSVD.fit_transform takes no fit parameters; got "
                            f"{sorted(fit_params)}.")
        X = self._check_X(X, reset=True)
        self._fit(X)
        U = np.asarray(self.svd_.U, dtype=self._dtype)
        Xt = (U * self.singular_values_) * self._signs
        self._set_variance(np.var(Xt, axis=0, dtype=np.float64))
        return Xt

    def partial_fit(self, X: Any, y: Any = None) -> IncrementalSVD:
        """Append the rows of ``X`` to the model (the first call fits).

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            New rows; after the first call, with as many features as before.  The first
            batch needs at least ``n_components`` rows.
        y : None
            Ignored.

        Returns
        -------
        IncrementalSVD
            ``self``, updated.

        Raises
        ------
        ValueError, TypeError
            As :meth:`fit`; a batch with another number of features raises ``ValueError``.
            A failed update leaves the model as it was.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.svdupdate import IncrementalSVD
        >>> X = np.random.default_rng(3).standard_normal((40, 3)) @ np.ones((3, 8))
        >>> est = IncrementalSVD(n_components=2)
        >>> est = est.partial_fit(X[:20]).partial_fit(X[20:])
        >>> est.n_samples_seen_
        40
        """
        if not hasattr(self, "svd_"):
            return self.fit(X)
        X = self._check_X(X, reset=False)
        method = check_choice(self.update_method, "update_method", UPDATE_METHODS)
        l = check_int(self.update_rank, "update_rank", low=1)
        t = check_int(self.n_iter, "n_iter", low=0)
        mean, m2 = _column_stats(X)
        svd = self.svd_
        try:  # add_rows is all or nothing; the attributes below change only after it succeeded
            svd.add_rows(X, method=method, l=l, t=t)
        except (ValueError, TypeError) as exc:
            raise _name_the_argument(exc, "X") from exc
        m_old, p = self.n_samples_seen_, X.shape[0]
        m = m_old + p
        delta = mean - self._mean
        self._m2 = self._m2 + m2 + float(delta @ delta) * (m_old * p / m)
        self._mean = self._mean + delta * (p / m)
        self.n_samples_seen_ = m
        self._set_components()
        self._set_variance(None)
        return self

    def transform(self, X: Any) -> Any:
        """Coordinates ``X @ components_.T`` of rows ``X`` in the component space.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_samples, n_features)
            Rows to reduce.

        Returns
        -------
        ndarray, shape (n_samples, n_components)
            Dense, of the components' dtype (float32 only for a float32 model and input).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``/``partial_fit``.
        ValueError, TypeError
            As :meth:`fit`; another number of features than in ``fit``.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.svdupdate import IncrementalSVD
        >>> X = np.diag([3.0, 2.0, 1.0])
        >>> IncrementalSVD(n_components=2).fit(X).transform(X).round(6) + 0.0
        array([[3., 0.],
               [0., 2.],
               [0., 0.]])
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self._project(X)

    def inverse_transform(self, X: Any) -> Any:
        """Rows ``X @ components_`` of the data space for coordinates ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_components)
            Coordinates (from :meth:`transform`).

        Returns
        -------
        ndarray, shape (n_samples, n_features)
            The projection of the original rows onto the component space (their best
            approximation from it).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``/``partial_fit``.
        ValueError, TypeError
            NaN/Inf, not 2-D, or not ``n_components`` columns; complex or masked input.

        Examples
        --------
        >>> import numpy as np
        >>> from orthla.svdupdate import IncrementalSVD
        >>> X = np.random.default_rng(4).standard_normal((6, 2)) @ np.ones((2, 5))
        >>> est = IncrementalSVD(n_components=1).fit(X)
        >>> bool(np.allclose(est.inverse_transform(est.transform(X)), X))
        True
        """
        check_is_fitted(self)
        _refuse_ndarray_subclass(X)
        try:
            from sklearn.utils import check_array

            X = check_array(X, dtype=_DTYPES, input_name="X")
        except (ValueError, TypeError) as exc:
            raise _name_the_argument(exc, "X") from exc
        k = self.components_.shape[0]
        if X.shape[1] != k:
            raise ValueError(f"`X` must have n_components = {k} columns; got shape {X.shape}.")
        return X @ self.components_

    @property
    def _n_features_out(self) -> int:
        # ClassNamePrefixFeaturesOutMixin names the outputs incrementalsvd0, incrementalsvd1, ...
        return int(self.components_.shape[0])

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        # The orthla state holds its array namespace (a module, which pickle refuses): store
        # its attributes without it; __setstate__ restores the namespace from the arrays.
        state = dict(super().__getstate__())
        svd = state.get("svd_")
        if isinstance(svd, TruncatedSVD):
            attrs = {k: v for k, v in vars(svd).items() if k != "_xp"}
            state["svd_"] = ("orthla.svdupdate.TruncatedSVD", attrs)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        svd = state.get("svd_")
        if isinstance(svd, tuple) and svd and svd[0] == "orthla.svdupdate.TruncatedSVD":
            new = TruncatedSVD.__new__(TruncatedSVD)
            new.__dict__.update(svd[1])
            new._xp = array_namespace(svd[1]["_s"])
            state = {**state, "svd_": new}
        super().__setstate__(state)

    # ------------------------------------------------------------------ internals
    def _check_X(self, X: Any, *, reset: bool) -> Any:
        _refuse_ndarray_subclass(X)
        try:
            return validate_data(self, X, accept_sparse=_SPARSE, dtype=_DTYPES, reset=reset)
        except (ValueError, TypeError) as exc:
            raise _name_the_argument(exc, "X") from exc

    def _fit(self, X: Any) -> None:
        m, n = X.shape
        k = check_int(self.n_components, "n_components", low=1)
        if k > min(m, n):
            raise ValueError(
                f"`n_components` = {k} must be at most min(n_samples, n_features) of `X` "
                f"(n_samples = {m}, n_features = {n}); a first partial_fit batch needs at "
                "least n_components rows."
            )
        oversample = None if self.oversample is None else check_int(
            self.oversample, "oversample", low=0)
        algorithm = check_choice(self.algorithm, "algorithm", FIT_METHODS)
        check_choice(self.update_method, "update_method", UPDATE_METHODS)
        check_int(self.update_rank, "update_rank", low=1)
        t = check_int(self.n_iter, "n_iter", low=0)
        rtol = None if self.rtol is None else check_real(self.rtol, "rtol", low=0.0, high=1.0,
                                                         high_open=True)
        ortho_tol = None if self.ortho_tol is None else check_real(
            self.ortho_tol, "ortho_tol", low=0.0, allow_inf=True)
        rng = _random_state(self.random_state)
        try:
            svd = TruncatedSVD.fit(X, k, oversample=oversample, method=algorithm, t=t,
                                   rtol=rtol, ortho_tol=ortho_tol, rng=rng)
        except (ValueError, TypeError) as exc:
            raise _name_the_argument(exc, "X") from exc
        self.svd_ = svd
        # The model's dtype is the first batch's (ARPACK returns float64 for float32 sparse X).
        self._dtype = np.dtype(X.dtype)
        self._mean, self._m2 = _column_stats(X)
        self.n_samples_seen_ = m
        self._set_components()

    def _set_components(self) -> None:
        Vt = np.asarray(self.svd_.Vt, dtype=self._dtype)
        self._signs = _flip_signs(Vt)
        self.components_ = Vt * self._signs[:, None]
        self.singular_values_ = np.asarray(self.svd_.s, dtype=self._dtype)

    def _project(self, X: Any) -> Any:
        Xt = X @ self.components_.T
        return np.asarray(Xt)

    def _set_variance(self, explained: np.ndarray | None) -> None:
        m = self.n_samples_seen_
        if explained is None:  # from the tracked singular values and the running mean
            s = self.singular_values_.astype(np.float64)
            mu = self.components_.astype(np.float64) @ self._mean
            explained = np.maximum((s / math.sqrt(m)) ** 2 - mu * mu, 0.0)
        total = self._m2 / m
        ratio = explained / total if total > 0 else np.zeros_like(explained)
        dtype = self.components_.dtype
        self.explained_variance_ = np.asarray(explained, dtype=dtype)
        self.explained_variance_ratio_ = np.asarray(ratio, dtype=dtype)
