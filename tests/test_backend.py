import numpy as np
import pytest

from orthla import _backend, _validate
from orthla._backend import array_namespace, select_engine


def test_lists_become_numpy():
    xp = array_namespace([[1.0, 2.0]], None)
    assert _backend.is_numpy(xp)


def test_mixed_backends_raise():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="one array library"):
        array_namespace(np.ones(2), strict.ones(2))


def test_select_engine_rules(xp):
    assert select_engine("xp", xp) == "xp"
    if _backend.is_numpy(xp) and _backend.numba_available():
        assert select_engine("auto", xp) == "numba"
    else:
        assert select_engine("auto", xp) == "xp"
    assert select_engine("auto", xp, has_numba_kernel=False) == "xp"
    with pytest.raises(ValueError, match="not available for this function"):
        select_engine("numba", xp, has_numba_kernel=False)


def test_to_numpy_refuses_non_numpy():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="must be a numpy.ndarray for the Numba engine"):
        _backend.to_numpy(strict.ones(2), name="a")


def test_from_numpy_keeps_namespace_and_device(xp):
    like = xp.ones(3)
    out = _backend.from_numpy(np.arange(3.0), xp, like=like)
    assert array_namespace(out) is xp
    assert _backend.device(out) == _backend.device(like)


def test_capability_table_lists_mgs_qr():
    caps = {c.name: c for c in _backend.capability_table()}
    assert caps["mgs_qr"].numba and caps["mgs_qr"].family == "pivoting"


def test_check_symmetric_reports_asymmetry(xp):
    a = xp.asarray(np.array([[1.0, 2.0], [2.1, 1.0]]))
    with pytest.raises(ValueError, match=r"`b` must be symmetric; max\|a - a\^H\| / max\|a\| = 0.0476"):
        _validate.check_symmetric(a, "b", xp)
    _validate.check_symmetric(xp.asarray(np.array([[1.0, 2.0], [2.0, 1.0]])), "b", xp)


def test_check_square_and_rank():
    with pytest.raises(ValueError, match=r"`a` must be a square matrix; got shape \(2, 3\)"):
        _validate.check_square(np.ones((2, 3)), "a")
    with pytest.raises(ValueError, match=r"`rank` must be an integer at least 1 and at most min\(m, n\) = 40; got 57"):
        _validate.check_rank(57, "rank", 40, "min(m, n)")
    with pytest.raises(TypeError, match="`rank` must be an integer; got 2.5"):
        _validate.check_rank(2.5, "rank", 40, "min(m, n)")
    assert _validate.check_rank(np.int64(3), "rank", 40, "min(m, n)") == 3


def test_as_rng():
    assert isinstance(_validate.as_rng(3), np.random.Generator)
    g = np.random.default_rng(1)
    assert _validate.as_rng(g) is g
    with pytest.raises(TypeError, match="legacy RandomState"):
        _validate.as_rng(np.random.RandomState(0))


def test_no_array_arguments_give_numpy_in_a_fresh_process():
    import subprocess
    import sys
    from pathlib import Path

    code = "from orthla._backend import array_namespace; print(array_namespace(None).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "array_api_compat.numpy"


def test_as_array_returns_arrays_of_the_namespace_unchanged():
    # torch warns (an error under our filterwarnings) when asarray() copies a tensor that
    # requires grad; as_array must hand such a tensor back as it is, keeping its graph.
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as tx

    from orthla._backend import as_array

    t = torch.ones(3, dtype=torch.float64, requires_grad=True)
    out = as_array(t, tx)
    assert out is t
    a = np.ones(2)
    assert as_array(a, array_namespace(a)) is a


def test_check_choice_keeps_booleans_and_integers_apart():
    from orthla._validate import check_choice

    assert check_choice(False, "randomize", (False, "lms")) is False
    assert check_choice("lms", "randomize", (False, "lms")) == "lms"
    with pytest.raises(ValueError, match="`randomize` must be one of"):
        check_choice(0, "randomize", (False, "lms"))
    with pytest.raises(ValueError, match="`side` must be one of"):
        check_choice(True, "side", (1, 2))
    with pytest.raises(ValueError, match="`method`"):
        check_choice(np.zeros(2), "method", ("a", "b"))


def test_as_rng_refuses_booleans():
    from orthla._validate import as_rng

    with pytest.raises(TypeError, match="`rng`"):
        as_rng(True)
    assert isinstance(as_rng(1), np.random.Generator)
