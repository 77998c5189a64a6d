"""numpy dtypes and memory layouts of vectors, for add, search and query."""

from __future__ import annotations

import numpy as np
import pytest

import strata

DIM = 16
N = 120


@pytest.fixture
def X():
    return np.random.default_rng(11).standard_normal((N, DIM)).astype(np.float32)


@pytest.fixture
def l2_index(make_index, X):
    idx = make_index("l2", dim=DIM, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add(np.arange(N), vectors=X)
    return idx


def layouts(X):
    """The same values as X in many layouts and dtypes that must convert to exactly X."""
    wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=np.float32)
    wide[:, ::2] = X
    tall = np.zeros((2 * X.shape[0], X.shape[1]), dtype=np.float32)
    tall[::2] = X
    rev = np.ascontiguousarray(X[::-1])
    readonly = X.copy()
    readonly.setflags(write=False)
    return {
        "c": X,
        "fortran": np.asfortranarray(X),
        "T.copy().T": X.T.copy().T,
        "col-strided": wide[:, ::2],
        "row-strided": tall[::2],
        "negative-stride": rev[::-1],
        "float64": X.astype(np.float64),
        "big-endian": X.astype(">f4"),
        "readonly": readonly,
        "list": X.tolist(),
        "[:, ::1]": X[:, ::1],
    }


def test_layouts_are_really_what_they_claim(X):
    L = layouts(X)
    assert L["fortran"].flags.f_contiguous and not L["fortran"].flags.c_contiguous
    assert L["T.copy().T"].flags.f_contiguous and not L["T.copy().T"].flags.c_contiguous
    for name in ("col-strided", "row-strided", "negative-stride"):
        assert not L[name].flags.c_contiguous, name
    for name, arr in L.items():
        np.testing.assert_array_equal(np.asarray(arr, dtype=np.float32), X, err_msg=name)


@pytest.mark.parametrize("layout", list(layouts(np.zeros((2, 2), np.float32))))
def test_search_with_any_layout(l2_index, X, layout):
    expected = l2_index.search(X, k=5, exact=True)
    got = l2_index.search(layouts(X)[layout], k=5, exact=True)
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[1][:, 0].tolist() == list(range(N))


@pytest.mark.parametrize("layout", list(layouts(np.zeros((2, 2), np.float32))))
def test_add_with_any_layout(make_index, X, layout):
    idx = make_index("lay", dim=DIM, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add(np.arange(N), vectors=layouts(X)[layout])
    # Each row was stored as the right vector: it is at distance exactly 0 from itself.
    scores, keys = idx.search(X, k=1, exact=True)
    assert keys[:, 0].tolist() == list(range(N))
    assert (scores[:, 0] == 0).all()


def test_source_arrays_are_not_modified(l2_index, X):
    before = X.copy()
    F = np.asfortranarray(X)
    l2_index.search(X, k=3, exact=True)
    l2_index.search(F, k=3, exact=True)
    txn = l2_index.begin()
    txn.upsert(np.arange(N), vectors=F)
    txn.rollback()
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(F, before)


def quarter_grid(rng, shape):
    """Values k/4 for small integers k: exact in float16, so f16 and f32 must agree bit for bit
    (dot products of such values in DIM dimensions are exact in float32 too)."""
    return (rng.integers(-12, 13, size=shape) / 4).astype(np.float32)


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_float16_matches_float32(make_index, metric):
    rng = np.random.default_rng(5)
    X = quarter_grid(rng, (N, DIM))
    assert len(np.unique(X, axis=0)) == N
    Q = quarter_grid(rng, (20, DIM))
    Q[:5] = X[:5]
    assert np.array_equal(X.astype(np.float16).astype(np.float32), X)

    i32 = make_index(f"f32-{metric}", dim=DIM, metric=metric, key_type="int")
    i16 = make_index(f"f16-{metric}", dim=DIM, metric=metric, key_type="int")
    with i32.begin() as txn:
        txn.add(np.arange(N), vectors=X)
    with i16.begin() as txn:
        txn.add(np.arange(N), vectors=X.astype(np.float16))

    s_ref, k_ref = i32.search(Q, k=8, exact=True)
    assert s_ref.dtype == np.float32
    for idx in (i32, i16):
        for q in (Q, Q.astype(np.float16), np.asfortranarray(Q.astype(np.float16))):
            s, k = idx.search(q, k=8, exact=True)
            assert s.dtype == np.float32
            np.testing.assert_array_equal(s, s_ref)
            # Keys agree wherever the score is not tied with another hit's.
            for row in range(len(Q)):
                for j in range(8):
                    if np.count_nonzero(s_ref[row] == s_ref[row, j]) == 1:
                        assert k[row, j] == k_ref[row, j]
    # The five queries equal to stored vectors find them (l2: at distance 0).
    if metric == "l2":
        for idx in (i32, i16):
            s, k = idx.search(X[:5].astype(np.float16), k=1, exact=True)
            assert k[:, 0].tolist() == [0, 1, 2, 3, 4] and (s == 0).all()

    # query(vector=float16 1-D) scores like float32.
    for i in range(5):
        a = i16.query(vector=X[i].astype(np.float16), k=3, exact=True)
        b = i32.query(vector=X[i], k=3, exact=True)
        assert [h.score for h in a] == [h.score for h in b]
        assert a[0].sources["dense"][0] == b[0].sources["dense"][0]


def test_one_dimensional_vectors(l2_index, X):
    i = 17
    a = l2_index.query(vector=X[i], k=4, exact=True)
    b = l2_index.query(vector=X[i : i + 1], k=4, exact=True)
    c = l2_index.query(vector=X[i].tolist(), k=4, exact=True)
    d = l2_index.query(vector=X[i].astype(np.float64), k=4, exact=True)
    keys = [h.key for h in a]
    assert keys[0] == i
    for r in (b, c, d):
        assert [h.key for h in r] == keys
        assert [h.score for h in r] == [h.score for h in a]
    # search of a 1-D array is a batch of one.
    s, k = l2_index.search(X[i], k=4, exact=True)
    assert k.shape == (1, 4) and k[0].tolist() == keys


def test_integer_arrays_are_converted(make_index):
    ints = np.arange(40, dtype=np.int64).reshape(10, 4) - 20
    idx = make_index("ints", dim=4, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add(np.arange(10), vectors=ints)
    for dt in (np.int64, np.int32, np.int8, np.uint8, np.float64):
        q = (ints - ints.min()).astype(dt) + ints.min() if dt == np.uint8 else ints.astype(dt)
        s, k = idx.search(q, k=1, exact=True)
        assert k[:, 0].tolist() == list(range(10)), dt
        assert (s == 0).all(), dt
    s, k = idx.search(np.asarray([[True, False, False, False]]), k=1, exact=True)
    assert k.shape == (1, 1)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda X: np.array([["a"] * DIM]), id="str"),
        pytest.param(lambda X: np.array([["1.0"] * (DIM - 1) + ["x"]], dtype=object), id="object-str"),
        pytest.param(lambda X: np.array([[None] * DIM], dtype=object), id="object-None"),
        pytest.param(lambda X: np.array([[b"ab"] * DIM]), id="bytes"),
        pytest.param(lambda X: "not vectors", id="python-str"),
        pytest.param(lambda X: {"a": 1}, id="dict"),
    ],
)
def test_unconvertible_arrays_are_input_errors(l2_index, X, bad):
    arr = bad(X[:1])
    # (None converts to NaN, which the engine then refuses as not finite.)
    with pytest.raises(strata.InputError, match="queries: (cannot be read as float32|dtype .* is not numeric)|not finite"):
        l2_index.search(arr, k=1)
    txn = l2_index.begin()
    try:
        with pytest.raises(strata.InputError, match="vectors: (cannot be read as float32|dtype .* is not numeric)|NaN"):
            txn.add([N + 1], vectors=arr)
        assert txn.pending == 0
    finally:
        txn.rollback()


def test_object_array_of_numbers_converts(l2_index, X):
    s, k = l2_index.search(X[:3].astype(object), k=1, exact=True)
    assert k[:, 0].tolist() == [0, 1, 2]


@pytest.mark.parametrize("shape", [(2, 2, DIM), (1, 1, 1, DIM)])
def test_three_or_more_dimensions_rejected(l2_index, shape):
    arr = np.zeros(shape, dtype=np.float32)
    with pytest.raises(strata.InputError, match=f"got {len(shape)} dimensions"):
        l2_index.search(arr)
    with pytest.raises(strata.InputError, match=f"got {len(shape)} dimensions"):
        l2_index.query(vector=arr)
    txn = l2_index.begin()
    try:
        with pytest.raises(strata.InputError, match=f"got {len(shape)} dimensions"):
            txn.add(list(range(1000, 1000 + shape[0])), vectors=arr)
    finally:
        txn.rollback()


def test_results_are_fresh_numpy_arrays(l2_index, X):
    s, k = l2_index.search(X[:4], k=3, exact=True)
    for a in (s, k):
        assert isinstance(a, np.ndarray)
        assert a.flags.c_contiguous and a.flags.writeable and a.flags.owndata or a.base is not None
    assert s.dtype == np.float32 and k.dtype == np.int64
    assert s.shape == k.shape == (4, 3)
    s[:] = 0  # writable, and not shared with a later call
    s2, _ = l2_index.search(X[:4], k=3, exact=True)
    assert (s2[:, 1:] > 0).all()
