"""Every exception type reachable from Python, with a message that names the problem."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import strata
from conftest import FULL_SCHEMA, ivfpq, run_child

ERRORS = [
    "LockedError",
    "CorruptError",
    "InputError",
    "SchemaError",
    "InvalidArgumentError",
    "NotAnIndexError",
    "AlreadyExistsError",
    "NotEmptyError",
    "UnsupportedVersionError",
    "FilterSyntaxError",
    "PoisonedError",
    "StrataIOError",
    "ClosedError",
]


@pytest.mark.parametrize("name", ERRORS)
def test_hierarchy(name):
    cls = getattr(strata, name)
    assert issubclass(cls, strata.StrataError)
    assert issubclass(strata.StrataError, Exception)
    assert cls is not strata.StrataError
    assert name in strata.__all__


@pytest.fixture
def txn_of(full_index):
    """A transaction on full_index, rolled back at teardown."""
    txn = full_index.begin()
    yield txn
    txn.rollback()


# -- LockedError ------------------------------------------------------------------------------


def test_locked_same_process(full_index):
    with pytest.raises(strata.LockedError, match="locked") as e:
        strata.open(full_index.path)
    assert full_index.path in str(e.value)
    with pytest.raises(strata.LockedError):
        strata.Index.open(full_index.path)
    # The first writer is unharmed, and once it closes another may open.
    assert len(full_index) > 0
    full_index.close()
    with strata.open(full_index.path) as again:
        assert len(again) > 0


LOCK_PROBE = """
import sys, strata
try:
    strata.open(sys.argv[1]).close()
except strata.LockedError as e:
    print("LockedError:", e)
else:
    print("opened")
"""


def test_locked_from_another_process(full_index, tmp_path):
    r = run_child(LOCK_PROBE, full_index.path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("LockedError:"), r.stdout
    assert "locked" in r.stdout
    full_index.close()
    r = run_child(LOCK_PROBE, full_index.path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "opened"


# -- CorruptError ----------------------------------------------------------------------------


def _flip_middle_byte(path):
    with open(path, "r+b") as f:
        data = f.read()
        assert data, path
        pos = len(data) // 2
        f.seek(pos)
        f.write(bytes([data[pos] ^ 0xFF]))


@pytest.fixture
def closed_index_dir(make_index, corpus):
    """A closed index with every kind of segment file: .vec .keys .ivf .inv .doc .attr .del."""
    idx = make_index("corrupt", dim=corpus.dim, index=ivfpq(), **FULL_SCHEMA)
    with idx.begin() as txn:
        corpus.add_to(txn)
    with idx.begin() as txn:
        txn.delete([1, 2, 3])
    idx.close()
    return idx.path


SEGMENT_KINDS = [".vec", ".keys", ".ivf", ".inv", ".doc", ".attr", ".del"]


@pytest.mark.parametrize("kind", SEGMENT_KINDS)
def test_corrupt_segment_file(closed_index_dir, tmp_path, kind):
    files = [f for f in os.listdir(closed_index_dir) if f.startswith("seg-") and f.endswith(kind)]
    assert len(files) == 1, os.listdir(closed_index_dir)
    victim = files[0]
    # Damage a copy for each way of opening, so each sees the damage first.
    for how in ("read_only", "writer"):
        d = tmp_path / f"damaged-{how}"
        shutil.copytree(closed_index_dir, d)
        _flip_middle_byte(d / victim)
        with pytest.raises(strata.CorruptError) as e:
            if how == "read_only":
                strata.open(d, read_only=True)
            else:
                strata.open(d)
        assert victim in str(e.value)
        assert "checksum" in str(e.value)


def test_verify_reports_corruption(closed_index_dir):
    idx = strata.open(closed_index_dir)
    try:
        assert idx.verify()["ok"] is True
        victim = next(f for f in sorted(os.listdir(closed_index_dir)) if f.endswith(".doc"))
        _flip_middle_byte(os.path.join(closed_index_dir, victim))
        with pytest.raises(strata.CorruptError, match="checksum") as e:
            idx.verify()
        assert victim in str(e.value)
    finally:
        idx.close()


# -- InputError ------------------------------------------------------------------------------


def test_input_wrong_dimension(full_index, txn_of, corpus):
    with pytest.raises(strata.InputError, match="dimension 9, the index has 16"):
        txn_of.add([9000], vectors=np.zeros((1, 9), dtype=np.float32))
    with pytest.raises(strata.InputError, match="dimension 8, the index has 16"):
        full_index.search(np.zeros((2, 8), dtype=np.float32))
    with pytest.raises(strata.InputError, match="dimension 5"):
        full_index.query(vector=np.zeros(5, dtype=np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_input_non_finite_vector(full_index, txn_of, corpus, bad):
    v = corpus.vectors[:1].copy()
    v[0, 3] = bad
    with pytest.raises(strata.InputError, match="NaN or infinite"):
        txn_of.add([9000], vectors=v)
    with pytest.raises(strata.InputError, match="not finite"):
        full_index.search(v)
    with pytest.raises(strata.InputError, match="not finite"):
        full_index.query(vector=v[0])


def test_input_wrong_dtype(full_index, txn_of):
    strings = np.array([["a"] * 16])
    with pytest.raises(strata.InputError, match="vectors: dtype <U1 is not numeric"):
        txn_of.add([9000], vectors=strings)
    with pytest.raises(strata.InputError, match="queries: dtype <U1 is not numeric"):
        full_index.search(strings)
    with pytest.raises(strata.InputError, match="vector: cannot be read as float32"):
        full_index.query(vector=["x"] * 16)
    with pytest.raises(strata.InputError, match="keys: expected a sequence"):
        txn_of.add(5, vectors=np.zeros((1, 16), dtype=np.float32))
    with pytest.raises(strata.InputError, match="text"):
        txn_of.add([9000], text={"body": [42]})
    with pytest.raises(strata.InputError, match="sparse"):
        txn_of.add([9000], sparse=[{"t": "heavy"}])
    with pytest.raises(strata.InputError, match="sparse"):
        full_index.query(sparse=[("t", 1.0)])
    with pytest.raises(strata.InputError, match='attribute "year" row 0'):
        txn_of.add([9000], attributes={"year": ["nineteen"]})
    with pytest.raises(strata.InputError, match='attribute "year" row 1'):
        txn_of.add([9000, 9001], attributes={"year": [1999, 2000.5]})
    assert txn_of.pending == 0


def test_input_mismatched_lengths(txn_of, corpus):
    v = corpus.vectors[:3]
    with pytest.raises(strata.InputError, match="vectors: 3 rows for 2 keys"):
        txn_of.add([9000, 9001], vectors=v)
    with pytest.raises(strata.InputError, match=r'text\["body"\]: 1 rows for 2 keys'):
        txn_of.add([9000, 9001], vectors=v[:2], text={"body": ["only one"]})
    with pytest.raises(strata.InputError, match="sparse: 1 rows for 2 keys"):
        txn_of.add([9000, 9001], vectors=v[:2], sparse=[{"a": 1.0}])
    with pytest.raises(strata.InputError, match=r'attributes\["year"\]: 1 rows for 2 keys'):
        txn_of.add([9000, 9001], vectors=v[:2], attributes={"year": [1]})
    with pytest.raises(strata.InputError, match="expected 2 strings, got one string"):
        txn_of.add([9000, 9001], text={"body": "one string"})
    assert txn_of.pending == 0


def test_input_longer_attribute_and_sparse_columns(txn_of, corpus):
    """BUG (python/src/index.rs, PyTxn::documents): the attribute and sparse columns are zipped
    with the documents, so extra rows past the number of keys are silently dropped instead of
    raising InputError like longer `vectors` and `text` columns do (`check_len` only ever sees
    at most n rows)."""
    v = corpus.vectors[:1]
    with pytest.raises(strata.InputError, match="3 rows for 1 keys"):
        txn_of.add([9000], vectors=v, attributes={"year": [1, 2, 3]})
    with pytest.raises(strata.InputError, match="2 rows for 1 keys"):
        txn_of.add([9001], vectors=v, sparse=[{"a": 1.0}, {"b": 1.0}])


def test_failed_add_leaves_transaction_unchanged(full_index, txn_of, corpus):
    """BUG (python/src/index.rs, PyTxn::add/upsert): a batch is added document by document, so
    when document i fails the engine's checks (NaN, dimension, duplicate key) documents
    0..i-1 of the same call stay in the transaction. Catching the InputError and retrying the
    corrected batch then fails with "duplicate key"; committing writes half a batch."""
    v = corpus.vectors[:3].copy()
    v[2, 0] = np.nan
    with pytest.raises(strata.InputError):
        txn_of.add([9000, 9001, 9002], vectors=v)
    assert txn_of.pending == 0
    v[2, 0] = 0.0
    txn_of.add([9000, 9001, 9002], vectors=v)  # the corrected batch
    assert txn_of.pending == 3


def test_input_bad_int_keys(txn_of, full_index):
    v = np.zeros((1, 16), dtype=np.float32)
    with pytest.raises(strata.InputError, match="integer keys must be in 0"):
        txn_of.add([-1], vectors=v)
    with pytest.raises(strata.InputError, match="integer keys must be in 0"):
        txn_of.add(np.array([-7], dtype=np.int64), vectors=v)
    with pytest.raises(strata.InputError, match="integer keys must be in 0"):
        txn_of.add(np.array([2**63], dtype=np.uint64), vectors=v)
    with pytest.raises(strata.InputError, match="integer keys must be in 0"):
        full_index.get(-5)
    assert txn_of.pending == 0


def test_input_duplicate_key_in_one_transaction(txn_of, corpus):
    with pytest.raises(strata.InputError, match="duplicate key 9000"):
        txn_of.add([9000, 9000], vectors=corpus.vectors[:2])


def test_input_vector_batch_for_query(full_index, corpus):
    with pytest.raises(strata.InputError, match="expected one vector, got 2 rows"):
        full_index.query(vector=corpus.vectors[:2])


# -- SchemaError -----------------------------------------------------------------------------


def test_schema_int_key_on_str_index(make_index):
    idx = make_index("strkeys", dim=4)
    txn = idx.begin()
    try:
        with pytest.raises(strata.SchemaError, match="string keys"):
            txn.add([1], vectors=np.eye(1, 4, dtype=np.float32))
        with pytest.raises(strata.SchemaError, match="string keys"):
            txn.delete([np.int64(3)])
    finally:
        txn.rollback()
    with pytest.raises(strata.SchemaError, match="string keys"):
        idx.get(1)


def test_schema_str_key_on_int_index(txn_of, full_index):
    v = np.zeros((1, 16), dtype=np.float32)
    with pytest.raises(strata.SchemaError, match="integer keys"):
        txn_of.add(["one"], vectors=v)
    with pytest.raises(strata.SchemaError, match="integer keys"):
        txn_of.add([True], vectors=v)
    with pytest.raises(strata.SchemaError, match="integer keys"):
        txn_of.add([1.0], vectors=v)
    with pytest.raises(strata.SchemaError, match="integer keys"):
        full_index.get("one")


def test_schema_unknown_attribute(txn_of):
    with pytest.raises(strata.InputError, match='no attribute "colour"'):
        txn_of.add([9000], attributes={"colour": ["red"]})


def test_schema_unknown_field_in_query(make_index):
    idx = make_index("vonly", dim=4, key_type="int")
    with pytest.raises(strata.InvalidArgumentError, match="no text field"):
        idx.query(text="anything")


# -- InvalidArgumentError --------------------------------------------------------------------


def test_invalid_arguments_of_create(tmp_path):
    with pytest.raises(strata.InvalidArgumentError, match='metric "euclid"'):
        strata.Index.create(tmp_path / "a", dim=4, metric="euclid")
    with pytest.raises(strata.InvalidArgumentError, match='storage "f8"'):
        strata.Index.create(tmp_path / "b", dim=4, storage="f8")
    with pytest.raises(strata.InvalidArgumentError, match='kind "date"'):
        strata.Index.create(tmp_path / "c", dim=4, attributes={"when": "date"})
    with pytest.raises(strata.InvalidArgumentError, match="needs dim="):
        strata.Index.create(tmp_path / "d", index=strata.IvfPq())


def test_invalid_arguments_of_search_and_query(full_index, corpus):
    q = corpus.vectors[:1]
    with pytest.raises(strata.InvalidArgumentError, match="k must be at least 1"):
        full_index.search(q, k=0)
    with pytest.raises(strata.InvalidArgumentError, match="threads must be at least 1"):
        full_index.search(q, threads=0)
    with pytest.raises(strata.InvalidArgumentError, match='fusion "borda"'):
        full_index.query(text="common", fusion="borda")
    with pytest.raises(strata.InvalidArgumentError, match='unknown source "bm25"'):
        full_index.query(text="common", weights={"bm25": 1.0})
    with pytest.raises(strata.InvalidArgumentError, match="no vector, text or sparse"):
        full_index.query()


def test_invalid_writes_on_read_only(full_index):
    ro = strata.open(full_index.path, read_only=True)
    try:
        assert ro.read_only
        with pytest.raises(strata.InvalidArgumentError, match="read-only"):
            ro.begin()
        with pytest.raises(strata.InvalidArgumentError, match="read-only"):
            ro.merge()
    finally:
        ro.close()


# -- NotAnIndexError, AlreadyExistsError, NotEmptyError ---------------------------------------


def test_not_an_index(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(strata.NotAnIndexError, match="holds no strata index") as e:
        strata.open(empty, read_only=True)
    assert str(empty) in str(e.value)
    with pytest.raises(strata.NotAnIndexError, match="holds no strata index"):
        strata.open(empty)
    with pytest.raises(strata.NotAnIndexError):
        strata.open(tmp_path / "missing")
    with pytest.raises(strata.NotAnIndexError):
        strata.open(tmp_path / "missing", read_only=True)


def test_already_exists(tmp_path):
    path = tmp_path / "twice"
    strata.Index.create(path, dim=4).close()
    with pytest.raises(strata.AlreadyExistsError, match="already holds a strata index"):
        strata.Index.create(path, dim=4)


def test_create_over_a_live_index_keeps_it(full_index, corpus):
    with pytest.raises((strata.AlreadyExistsError, strata.LockedError)):
        strata.Index.create(full_index.path, dim=4)
    assert len(full_index) == corpus.n
    assert full_index.verify()["num_docs"] == corpus.n


def test_not_empty(tmp_path):
    d = tmp_path / "stray"
    d.mkdir()
    (d / "notes.txt").write_text("not an index")
    with pytest.raises(strata.NotEmptyError, match="notes.txt") as e:
        strata.Index.create(d, dim=4)
    assert "not empty" in str(e.value)
    sub = tmp_path / "straydir"
    (sub / "inner").mkdir(parents=True)
    with pytest.raises(strata.NotEmptyError, match="inner"):
        strata.Index.create(sub, dim=4)
    assert (d / "notes.txt").read_text() == "not an index"


def test_io_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(strata.StrataIOError, match="not a directory"):
        strata.open(f)
    with pytest.raises(strata.StrataIOError, match="corpus.jsonl"):
        strata.read_beir(tmp_path / "no-such-beir")


# -- FilterSyntaxError -----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["year >>", "year >= ", "(lang = 'en'", "AND", "year = 'x"])
def test_filter_syntax(full_index, corpus, where):
    with pytest.raises(strata.FilterSyntaxError, match="filter syntax error"):
        full_index.search(corpus.vectors[:1], where=where)
    with pytest.raises(strata.FilterSyntaxError, match="filter syntax error"):
        full_index.query(text="common", where=where)


def test_filter_syntax_names_the_position(full_index, corpus):
    with pytest.raises(strata.FilterSyntaxError, match="at byte 6") as e:
        full_index.search(corpus.vectors[:1], where="year >>")
    assert "'>'" in str(e.value)


# -- ClosedError -----------------------------------------------------------------------------


def test_closed_after_close(full_index, corpus):
    full_index.close()
    full_index.close()  # closing twice is fine
    assert "closed" in repr(full_index)
    calls = {
        "search": lambda: full_index.search(corpus.vectors[:1]),
        "query": lambda: full_index.query(text="common"),
        "get": lambda: full_index.get(1),
        "len": lambda: len(full_index),
        "snapshot": lambda: full_index.snapshot(),
        "stats": lambda: full_index.stats(),
        "begin": lambda: full_index.begin(),
        "merge": lambda: full_index.merge(),
        "refresh": lambda: full_index.refresh(),
    }
    for name, call in calls.items():
        with pytest.raises(strata.ClosedError, match="is closed"):
            call()


def test_verify_after_close_raises_closed(full_index):
    """BUG (python/src/index.rs, PyIndex::verify): close() promises "later calls raise
    ClosedError", but verify() reopens the path and succeeds on a closed index."""
    full_index.close()
    with pytest.raises(strata.ClosedError, match="is closed"):
        full_index.verify()


def test_closed_begin_twice(full_index, corpus):
    txn = full_index.begin()
    with pytest.raises(strata.ClosedError, match="begin: a transaction is open"):
        full_index.begin()
    with pytest.raises(strata.ClosedError, match="transaction is open"):
        full_index.merge()
    with pytest.raises(strata.ClosedError, match="transaction is open"):
        full_index.close()
    assert "in transaction" in repr(full_index)
    # Reads work while the transaction is open.
    assert len(full_index) == corpus.n
    txn.add([9000], vectors=corpus.vectors[:1])
    txn.commit()
    txn2 = full_index.begin()
    txn2.rollback()
    full_index.close()
    with pytest.raises(strata.ClosedError):
        full_index.begin()


def test_query_with_k_zero_is_refused_like_search(full_index):
    with pytest.raises(strata.InvalidArgumentError, match="query: k must be at least 1"):
        full_index.query(text="common", k=0)


def test_bad_key_type_is_an_invalid_argument(tmp_path):
    with pytest.raises(strata.InvalidArgumentError, match='key_type "uuid"'):
        strata.Index.create(tmp_path / "k", dim=4, key_type="uuid")


def test_complex_vectors_are_refused_not_truncated(full_index, corpus):
    z = corpus.vectors[:1].astype(np.complex64)
    with pytest.raises(strata.InputError, match="queries: dtype complex64 is not numeric"):
        full_index.search(z)


def test_opening_a_folder_that_is_no_index_leaves_nothing_there(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "mine.txt").write_text("x")
    with pytest.raises(strata.NotAnIndexError):
        strata.open(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]


def test_integer_attribute_out_of_int64_range(txn_of):
    with pytest.raises(strata.InputError, match="not an integer in the int64 range"):
        txn_of.add([9000], attributes={"year": [2**70]})
