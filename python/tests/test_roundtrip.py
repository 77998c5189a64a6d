"""Round trips: create, write in transactions, close, reopen, read back."""

from __future__ import annotations

import os

import numpy as np
import pytest

import strata
from conftest import FULL_SCHEMA, ivfpq, unique_word


def own_key_first(idx, X, keys, **kw):
    """Asserts every row of X finds its own key first (exact search)."""
    scores, found = idx.search(X, k=3, exact=True, **kw)
    assert found.shape == (len(X), 3)
    assert scores.dtype == np.float32
    assert list(found[:, 0]) == list(keys)
    return scores, found


def test_create_add_close_reopen(tmp_path, corpus):
    path = tmp_path / "rt"
    idx = strata.Index.create(path, dim=corpus.dim, index=ivfpq(), **FULL_SCHEMA)
    assert idx.dim == corpus.dim
    assert idx.metric == "l2"
    assert not idx.read_only
    assert idx.path == str(path)
    with idx.begin() as txn:
        corpus.add_to(txn)
        assert txn.pending == corpus.n
    assert len(idx) == corpus.n
    assert any(f.endswith(".ivf") for f in os.listdir(path)), "IVF-PQ was not built"
    idx.close()

    idx = strata.open(path)
    try:
        assert len(idx) == corpus.n
        assert idx.dim == corpus.dim and idx.metric == "l2"
        scores, _ = own_key_first(idx, corpus.vectors, corpus.keys)
        # l2: the own vector is at distance 0, the next ones further away.
        assert np.all(scores[:, 0] == 0)
        assert np.all(scores[:, 1] >= scores[:, 0])

        # Approximate search with every list probed and a generous rerank finds nearly all.
        _, approx = idx.search(corpus.vectors, k=10, nprobe=8, rerank=100)
        recall1 = np.mean(approx[:, 0] == np.arange(corpus.n))
        assert recall1 >= 0.9, recall1

        # Text finds the one document holding a unique word.
        for i in (0, 17, corpus.n - 1):
            res = idx.query(text=unique_word(i), k=5)
            assert len(res) == 1
            hit = res[0]
            assert hit.key == i
            assert set(hit.sources) == {"text"}
            assert hit.sources["text"][1] == 1  # rank from 1
            assert hit.fields["body"] == corpus.bodies[i]
            assert hit.fields["title"] == corpus.titles[i]

        # Sparse finds its document.
        res = idx.query(sparse={"sp42": 1.0}, k=3)
        assert res[0].key == 42 and "sparse" in res[0].sources

        # get: stored text fields and attributes.
        doc = idx.get(42)
        assert doc == {
            "key": 42,
            "fields": {
                "title": corpus.titles[42],
                "body": corpus.bodies[42],
                "year": corpus.years[42],
                "lang": corpus.langs[42],
                "price": corpus.prices[42],
            },
        }
        assert idx.get(np.int64(42))["key"] == 42
        assert idx.get(10_000) is None
    finally:
        idx.close()


def test_index_class_open_and_context_manager(tmp_path, corpus):
    path = tmp_path / "cm"
    with strata.Index.create(path, dim=corpus.dim, metric="cosine", key_type="int") as idx:
        with idx.begin() as txn:
            txn.add(corpus.keys, vectors=corpus.vectors)
    with pytest.raises(strata.ClosedError):
        idx.search(corpus.vectors[:1])
    with strata.Index.open(path) as idx:
        own_key_first(idx, corpus.vectors, corpus.keys)
        # cosine: a vector's similarity to itself is 1.
        s, _ = idx.search(corpus.vectors[:5], k=1, exact=True)
        np.testing.assert_allclose(s[:, 0], 1.0, rtol=1e-5)
    # str paths work like pathlib paths.
    with strata.open(str(path), read_only=True) as ro:
        assert len(ro) == corpus.n


def test_hybrid_query_sources_and_fields(full_index, corpus):
    i = 33
    res = full_index.query(
        vector=corpus.vectors[i], text=unique_word(i), sparse={f"sp{i}": 1.0}, k=5, exact=True
    )
    top = res[0]
    assert top.key == i
    assert set(top.sources) == {"dense", "text", "sparse"}
    for name, (score, rank) in top.sources.items():
        assert rank == 1, name
        assert isinstance(score, float)
    assert top.fields["lang"] == corpus.langs[i]
    # return_fields=False: no stored fields are fetched.
    res = full_index.query(text=unique_word(i), return_fields=False)
    assert res[0].key == i and res[0].fields == {}
    # Every fusion method answers with the same document first here.
    for fusion in ("rrf", "convex", "zscore", "dbsf"):
        res = full_index.query(
            vector=corpus.vectors[i], text=unique_word(i), fusion=fusion, k=3, exact=True
        )
        assert res[0].key == i, fusion
    # Weights by source name.
    res = full_index.query(
        vector=corpus.vectors[i], text=unique_word(i), weights={"dense": 1.0, "text": 0.5}, k=3
    )
    assert res[0].key == i


def test_query_paging(full_index):
    whole = full_index.query(text="common", k=12)
    assert len(whole) == 12
    keys = [h.key for h in whole]
    pages = [full_index.query(text="common", k=4, offset=o) for o in (0, 4, 8)]
    assert [h.key for p in pages for h in p] == keys
    assert [h.key for h in whole.hits] == keys
    assert whole[-1].key == keys[-1]
    with pytest.raises(IndexError):
        whole[12]
    assert whole.candidates >= 12
    assert not whole.fewer_than_limit
    one = full_index.query(text=unique_word(3), k=10)
    assert len(one) == 1 and one.fewer_than_limit


def test_where_filters(full_index, corpus):
    where = "year >= 2010 AND lang = 'fr'"
    ok = {i for i in corpus.keys if corpus.years[i] >= 2010 and corpus.langs[i] == "fr"}
    assert ok
    _, keys = full_index.search(corpus.vectors[:5], k=corpus.n, exact=True, where=where)
    for row in keys:
        assert set(row[row >= 0].tolist()) == ok
    res = full_index.query(text="common", where=where, k=corpus.n)
    assert {h.key for h in res} == ok
    for h in res:
        assert h.fields["year"] >= 2010 and h.fields["lang"] == "fr"


def test_missing_hits_are_padded(make_index):
    idx = make_index("pad", dim=4, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add([5, 6], vectors=np.eye(2, 4, dtype=np.float32))
    scores, keys = idx.search(np.eye(1, 4, dtype=np.float32), k=4, exact=True)
    assert keys.dtype == np.int64
    assert keys.tolist() == [[5, 6, -1, -1]]
    assert np.isinf(scores[0, 2:]).all() and (scores[0, 2:] > 0).all()  # +inf for l2

    sidx = make_index("pads", dim=4, metric="ip")
    with sidx.begin() as txn:
        txn.add(["a"], vectors=np.eye(1, 4, dtype=np.float32))
    scores, keys = sidx.search(np.eye(1, 4, dtype=np.float32), k=3)
    assert keys.dtype == object
    assert keys.tolist() == [["a", None, None]]
    assert scores[0, 0] == 1.0 and (scores[0, 1:] == -np.inf).all()  # -inf for similarities


def test_empty_index_and_empty_batch(make_index):
    idx = make_index("empty", dim=4, key_type="int")
    assert len(idx) == 0
    scores, keys = idx.search(np.ones((2, 4), dtype=np.float32), k=3)
    assert (keys == -1).all()
    scores, keys = idx.search(np.zeros((0, 4), dtype=np.float32), k=3)
    assert scores.shape == (0, 3) and keys.shape == (0, 3)


def test_delete_and_upsert(full_index, corpus):
    idx = full_index
    with idx.begin() as txn:
        assert txn.delete([1, 2, 99_999]) == 2  # only live keys count
        txn.upsert(
            [3],
            vectors=corpus.vectors[100:101],
            text={"title": ["replaced"], "body": ["fresh zzreplaced words"]},
            attributes={"year": [1800], "lang": ["la"]},
        )
    assert len(idx) == corpus.n - 2
    assert idx.get(1) is None and idx.get(2) is None
    assert idx.get(3) == {
        "key": 3,
        "fields": {"title": "replaced", "body": "fresh zzreplaced words", "year": 1800, "lang": "la"},
    }
    assert [h.key for h in idx.query(text="zzreplaced")] == [3]
    assert idx.query(text=unique_word(3), k=5).hits == []
    # The vector of 3 is now a copy of 100's: both at distance 0 from it.
    s, k = idx.search(corpus.vectors[100:101], k=2, exact=True)
    assert set(k[0].tolist()) == {3, 100} and (s == 0).all()
    _, k = idx.search(corpus.vectors[1:3], k=1, exact=True)
    assert not {1, 2} & set(k.ravel().tolist())
    st = idx.stats()
    assert st["num_docs"] == corpus.n - 2
    assert st["deleted"] == 3  # two deletes and the replaced version of 3
    # Deleting in one transaction and re-adding in the next.
    with idx.begin() as txn:
        txn.add([1], vectors=corpus.vectors[1:2])
    doc = idx.get(1)
    assert doc["key"] == 1
    # No text given: the text fields read back empty (or absent); no attributes.
    assert all(doc["fields"].get(f, "") == "" for f in ("title", "body"))
    assert not {"year", "lang", "price"} & set(doc["fields"])


def test_add_existing_key_is_refused(full_index, corpus):
    txn = full_index.begin()
    try:
        with pytest.raises(strata.InvalidArgumentError, match="already exists"):
            txn.add([5], vectors=corpus.vectors[:1])
    finally:
        txn.rollback()


def test_rollback_on_exception_in_with_block(full_index, corpus):
    gen = full_index.stats()["generation"]
    with pytest.raises(RuntimeError, match="boom"):
        with full_index.begin() as txn:
            txn.delete([0, 1, 2])
            txn.add([5000], vectors=corpus.vectors[:1], text={"body": ["zzghost"]})
            raise RuntimeError("boom")
    assert len(full_index) == corpus.n
    assert full_index.get(0) is not None
    assert full_index.get(5000) is None
    assert full_index.query(text="zzghost").hits == []
    assert full_index.stats()["generation"] == gen
    # The writer is free again.
    with full_index.begin() as txn:
        txn.add([5001], vectors=corpus.vectors[:1])
    assert len(full_index) == corpus.n + 1


def test_explicit_commit_and_rollback(full_index, corpus):
    gen0 = full_index.stats()["generation"]
    txn = full_index.begin()
    txn.add([7000, 7001], vectors=corpus.vectors[:2])
    assert txn.pending == 2
    # Uncommitted changes are invisible to searches of the same index.
    assert full_index.get(7000) is None
    assert len(full_index) == corpus.n
    txn.rollback()
    txn.rollback()  # a second rollback is a no-op
    with pytest.raises(strata.ClosedError, match="ended"):
        txn.pending
    with pytest.raises(strata.ClosedError, match="ended"):
        txn.add([7002], vectors=corpus.vectors[:1])
    assert full_index.get(7000) is None and len(full_index) == corpus.n

    txn = full_index.begin()
    txn.add([7000], vectors=corpus.vectors[:1])
    gen1 = txn.commit()
    assert gen1 > gen0
    assert full_index.stats()["generation"] == gen1
    assert full_index.get(7000)["key"] == 7000
    with pytest.raises(strata.ClosedError, match="ended"):
        txn.commit()


def test_dropped_transaction_rolls_back(full_index, corpus):
    txn = full_index.begin()
    txn.add([8000], vectors=corpus.vectors[:1])
    del txn  # never committed: dropping it rolls back and frees the writer
    with full_index.begin() as txn:
        txn.add([8001], vectors=corpus.vectors[:1])
    assert full_index.get(8000) is None
    assert full_index.get(8001) is not None


@pytest.mark.parametrize(
    "make_keys",
    [
        pytest.param(lambda k: list(k), id="list"),
        pytest.param(lambda k: tuple(k), id="tuple"),
        pytest.param(lambda k: range(k[0], k[-1] + 1), id="range"),
        pytest.param(lambda k: np.array(k, dtype=np.int64), id="int64"),
        pytest.param(lambda k: np.array(k, dtype=np.int32), id="int32"),
        pytest.param(lambda k: np.array(k, dtype=np.uint32), id="uint32"),
        pytest.param(lambda k: np.array(k, dtype=np.uint64), id="uint64"),
        pytest.param(lambda k: np.repeat(np.array(k, dtype=np.int64), 2)[::2], id="int64-strided"),
        pytest.param(lambda k: np.array(k, dtype=">i8"), id="int64-big-endian"),
        pytest.param(lambda k: [np.int64(x) for x in k], id="np-scalars"),
    ],
)
def test_int_keys(make_index, make_keys):
    X = np.random.default_rng(3).standard_normal((6, 8)).astype(np.float32)
    keys = [10, 11, 12, 13, 14, 15]
    idx = make_index("ik", dim=8, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add(make_keys(keys), vectors=X)
    own_key_first(idx, X, keys)
    with idx.begin() as txn:
        assert txn.delete(make_keys(keys)) == 6
    assert len(idx) == 0


def test_large_int_keys(make_index):
    big = 2**63 - 1
    idx = make_index("big", dim=4, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add([big, 0], vectors=np.eye(2, 4, dtype=np.float32))
    _, keys = idx.search(np.eye(2, 4, dtype=np.float32), k=1, exact=True)
    assert keys[:, 0].tolist() == [big, 0]
    assert idx.get(big)["key"] == big


def test_string_keys(make_index):
    keys = ["alpha", "béta", "γάμμα", "doc/with spaces", "", "x" * 300]
    X = np.random.default_rng(4).standard_normal((len(keys), 8)).astype(np.float32)
    idx = make_index("sk", dim=8, metric="l2", text_fields=["body"])
    with idx.begin() as txn:
        txn.add(keys, vectors=X, text={"body": [f"text of {unique_word(i)}" for i in range(len(keys))]})
    _, found = idx.search(X, k=1, exact=True)
    assert found.dtype == object
    assert found[:, 0].tolist() == keys
    assert idx.get("béta")["key"] == "béta"
    assert idx.query(text=unique_word(2))[0].key == "γάμμα"
    # numpy string arrays work as keys too.
    with idx.begin() as txn:
        txn.add(np.array(["np1", "np2"]), vectors=X[:2] + 100)
        assert txn.delete(np.array(["alpha"])) == 1
    assert idx.get("np1")["key"] == "np1"
    assert idx.get("alpha") is None
    assert sorted(idx.snapshot().keys()) == sorted(keys[1:] + ["np1", "np2"])


def test_several_commits_then_merge(make_index, corpus):
    idx = make_index("merge", dim=corpus.dim, text_fields=["title", "body"], **{
        k: v for k, v in FULL_SCHEMA.items() if k != "text_fields"
    })
    step = corpus.n // 4
    gens = []
    for lo in range(0, corpus.n, step):
        with idx.begin() as txn:
            corpus.add_to(txn, lo, lo + step)
        gens.append(idx.stats()["generation"])
    assert gens == sorted(gens) and len(set(gens)) == len(gens)
    with idx.begin() as txn:
        txn.delete(list(range(0, corpus.n, 10)))
    live = [k for k in corpus.keys if k % 10]
    before_s, before_k = idx.search(corpus.vectors, k=5, exact=True)
    before_q = [h.key for h in idx.query(text="common", k=50)]
    before_stats = idx.stats()
    assert before_stats["num_docs"] == len(live)

    idx.merge()  # True, or False when the background merger already did it
    st = idx.stats()
    assert len(st["segments"]) == 1
    assert st["num_docs"] == len(live)
    assert st["deleted"] == 0
    assert st["segments"][0]["rows"] == len(live)
    assert idx.merge() is False  # nothing left to merge
    after_s, after_k = idx.search(corpus.vectors, k=5, exact=True)
    np.testing.assert_array_equal(after_k, before_k)
    np.testing.assert_array_equal(after_s, before_s)
    assert [h.key for h in idx.query(text="common", k=50)] == before_q
    assert idx.get(11)["fields"]["year"] == corpus.years[11]
    assert idx.get(10) is None
    v = idx.verify()
    assert v["ok"] is True and v["num_docs"] == len(live) and v["segments"] == 1


def test_stats_and_verify(full_index, corpus):
    st = full_index.stats()
    assert st["path"] == full_index.path
    assert st["num_docs"] == corpus.n
    assert st["deleted"] == 0
    assert st["read_only"] is False
    assert st["generation"] >= 1
    assert sum(s["rows"] for s in st["segments"]) == corpus.n
    assert st["disk_bytes"] >= sum(s["disk_bytes"] for s in st["segments"]) > 0
    assert st["resident_bytes"] > 0
    v = full_index.verify()
    assert v["ok"] is True
    assert v["generation"] == st["generation"]
    assert v["num_docs"] == corpus.n
    assert v["segments"] == len(st["segments"])
    assert v["bytes_checked"] == st["disk_bytes"]
    assert v["files_checked"] >= 1 + len(st["segments"])


def test_search_threads_match_single_thread(full_index, corpus):
    s1, k1 = full_index.search(corpus.vectors, k=7, exact=True, threads=1)
    for t in (2, 3, 16, 1000):
        st, kt = full_index.search(corpus.vectors, k=7, exact=True, threads=t)
        np.testing.assert_array_equal(kt, k1)
        np.testing.assert_array_equal(st, s1)
    s1, k1 = full_index.search(corpus.vectors, k=7, nprobe=2, threads=1)
    st, kt = full_index.search(corpus.vectors, k=7, nprobe=2, threads=4)
    np.testing.assert_array_equal(kt, k1)


def test_snapshot_is_stable(full_index, corpus):
    snap = full_index.snapshot()
    assert snap.num_docs == len(snap) == corpus.n
    gen = snap.generation
    with full_index.begin() as txn:
        txn.delete(list(range(50)))
    with full_index.begin() as txn:
        txn.add([9000], vectors=corpus.vectors[:1])
    full_index.merge()
    assert len(full_index) == corpus.n - 50 + 1
    # The old snapshot still shows its commit, through merges and garbage collection.
    assert snap.num_docs == corpus.n and snap.generation == gen
    _, k = snap.search(corpus.vectors[:50], k=1, exact=True)
    assert k[:, 0].tolist() == list(range(50))
    assert snap.get(0)["key"] == 0 and snap.get(9000) is None
    assert snap.query(text=unique_word(1))[0].key == 1
    assert sorted(snap.keys()) == corpus.keys
    # ... and after the index is closed.
    full_index.close()
    assert snap.num_docs == corpus.n
    assert snap.search(corpus.vectors[:1], k=1, exact=True)[1][0, 0] == 0
    assert "Snapshot(generation=" in repr(snap)


def test_index_without_vectors(make_index):
    idx = make_index("textonly", text_fields=["body"], key_type="int")
    assert idx.dim is None and idx.metric is None
    with idx.begin() as txn:
        txn.add([1, 2], text={"body": ["red apples", "green pears"]})
    assert idx.query(text="pears")[0].key == 2
    with pytest.raises(strata.InvalidArgumentError, match="no vector field"):
        idx.search(np.zeros((1, 4), dtype=np.float32))


def test_f16_storage_and_reprs(make_index):
    X = (np.arange(32, dtype=np.float32).reshape(8, 4) - 16) / 4  # exact in float16
    idx = make_index("f16", dim=4, metric="l2", key_type="int", storage="f16")
    with idx.begin() as txn:
        txn.add(range(8), vectors=X)
    s, k = idx.search(X, k=1, exact=True)
    assert k[:, 0].tolist() == list(range(8)) and (s == 0).all()
    assert repr(idx) == f"Index({idx.path!r}, writer)".replace("'", '"')
    p = strata.IvfPq(nlist=8, m=4)
    assert (p.nlist, p.m, p.nbits, p.balanced, p.residual, p.min_rows) == (8, 4, 4, False, False, 10_000)
    assert repr(p) == "IvfPq(nlist=8, m=4, nbits=4, balanced=False, residual=False, min_rows=10000)"
    assert isinstance(strata.__version__, str) and strata.__version__


def test_attribute_inputs_numpy_none_and_keyword_lists(make_index):
    idx = make_index(
        "attrs", dim=4, metric="l2", text_fields=["body"],
        attributes={"year": "i64", "price": "f64", "tags": "keyword"}, key_type="int",
    )
    V = np.eye(4, dtype=np.float32)
    with idx.begin() as txn:
        txn.add(
            np.arange(4),
            vectors=V,
            text={"body": np.array(["a b", "b c", "c d", "d e"])},  # numpy strings
            attributes={
                "year": np.array([2000, 2001, 2002, 2003], dtype=np.int32),
                "price": np.array([1.5, 2.5, None, 4.5], dtype=object),  # None: absent
                "tags": [["x", "y"], "y", None, np.str_("z")],  # keyword lists
            },
        )
    assert idx.get(0)["fields"] == {"body": "a b", "year": 2000, "price": 1.5, "tags": ["x", "y"]}
    assert idx.get(1)["fields"]["tags"] == "y"
    assert idx.get(2)["fields"] == {"body": "c d", "year": 2002}
    assert idx.get(3)["fields"]["tags"] == "z"
    _, k = idx.search(V, k=4, exact=True, where="tags = 'y'")
    assert all(set(row[row >= 0].tolist()) == {0, 1} for row in k)
    _, k = idx.search(V, k=4, exact=True, where="price > 2")
    assert all(set(row[row >= 0].tolist()) == {1, 3} for row in k)
    res = idx.query(vector=V[0], where="year <= 2001", k=4, exact=True)
    assert {h.key for h in res} == {0, 1}
    with idx.begin() as txn:
        txn.add([10], vectors=V[:1], attributes={"price": np.array([0.25], dtype=np.float32),
                                                 "year": [np.uint16(7)]})
    assert idx.get(10)["fields"] == {"body": "", "year": 7, "price": 0.25} or \
        idx.get(10)["fields"] == {"year": 7, "price": 0.25}


def test_query_results_slice_like_lists(full_index):
    res = full_index.query(text="common", k=5)
    assert len(res) == 5
    head = res[:3]
    assert [h.key for h in head] == [h.key for h in res.hits[:3]]
    assert res[-1].key == res.hits[-1].key
    with pytest.raises(IndexError):
        res[5]


@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_exact_batches_answer_like_one_query_at_a_time(make_index, metric, dtype):
    # A flat index answers a batch by scanning each block of rows once for all queries; the
    # answers must be those of the one-query path (query(vector=...)), scores bit for bit.
    rng = np.random.default_rng(7)
    X = rng.standard_normal((700, 24)).astype(dtype)
    idx = make_index(f"flat-{metric}-{np.dtype(dtype).name}", dim=24, metric=metric, key_type="int")
    with idx.begin() as txn:
        txn.add(np.arange(700), vectors=X)
    with idx.begin() as txn:
        txn.delete(list(range(0, 700, 7)))
    Q = rng.standard_normal((37, 24)).astype(np.float32)
    for threads in (1, 3):
        scores, keys = idx.search(Q, k=5, threads=threads)
        for i, q in enumerate(Q):
            one = idx.query(vector=q, k=5, exact=True, return_fields=False)
            assert [h.key for h in one] == keys[i].tolist()
            got = scores[i].tolist()
            want = [h.score if metric != "l2" else -h.score for h in one]
            assert got == want
