"""BEIR folders: read_beir and eval_beir on a tiny folder written under tmp_path (nothing here
needs /work/shared/data or pyarrow)."""

from __future__ import annotations

import io
import json

import pytest

import strata


def parse_run(text):
    rows = [line.split() for line in text.splitlines()]
    for r in rows:
        assert len(r) == 6 and r[1] == "Q0", r
    return rows


# -- read_beir --------------------------------------------------------------------------------


def write_beir(folder, with_qrels=True):
    folder.mkdir()
    docs = [
        {"_id": "d1", "title": "Apples", "text": "red apples grow on trees"},
        {"_id": "d2", "title": "", "text": "green pears are sweet"},
        {"_id": "d3", "title": "Bananas", "text": "yellow bananas", "metadata": {"x": 1}},
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries = [{"_id": "q1", "text": "red apples"}, {"_id": "q2", "text": "sweet pears"}]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    if with_qrels:
        (folder / "qrels").mkdir()
        (folder / "qrels" / "test.tsv").write_text(
            "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td1\t0\n"
        )
    return folder


def test_read_beir(tmp_path):
    folder = write_beir(tmp_path / "beir")
    b = strata.read_beir(folder)
    assert isinstance(b, strata.Beir) and isinstance(b, tuple)
    corpus, queries, qrels = b
    assert corpus == {
        "_id": ["d1", "d2", "d3"],
        "title": ["Apples", "", "Bananas"],
        "text": ["red apples grow on trees", "green pears are sweet", "yellow bananas"],
    }
    assert b.queries == {"_id": ["q1", "q2"], "text": ["red apples", "sweet pears"]}
    assert b.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d1": 0}}
    assert strata.read_beir(str(folder), split="dev").qrels is None
    assert strata.read_beir(write_beir(tmp_path / "noqrels", with_qrels=False)).qrels is None


def test_read_beir_into_an_index(tmp_path):
    b = strata.read_beir(write_beir(tmp_path / "beir"))
    with strata.Index.create(tmp_path / "idx", text_fields=["title", "text"]) as idx:
        with idx.begin() as txn:
            txn.add(b.corpus["_id"], text={"title": b.corpus["title"], "text": b.corpus["text"]})
        runs = {qid: idx.query(text=q, k=2, qid=qid) for qid, q in zip(b.queries["_id"], b.queries["text"])}
        assert runs["q1"][0].key == "d1"
        assert runs["q2"][0].key == "d2"
        assert idx.get("d3")["fields"] == {"title": "Bananas", "text": "yellow bananas"}
        buf = io.StringIO()
        strata.write_trec_run(buf, runs)
        assert buf.getvalue().splitlines()[0].startswith("q1 Q0 d1 1 ")


def test_read_beir_malformed(tmp_path):
    folder = write_beir(tmp_path / "bad")
    with open(folder / "corpus.jsonl", "a") as f:
        f.write("this is not json\n")
    with pytest.raises(strata.InputError, match="corpus.jsonl"):
        strata.read_beir(folder)


# -- eval_beir --------------------------------------------------------------------------------


def test_eval_beir_bm25(tmp_path):
    if not hasattr(strata, "eval_beir"):
        pytest.skip("this build of strata has no eval_beir")
    folder = write_beir(tmp_path / "beir")
    run = tmp_path / "run.txt"
    report = strata.eval_beir(folder, "bm25", k=10, run_out=run, dir=tmp_path / "work")
    assert isinstance(report, dict)
    assert report["mode"] == "bm25"
    assert report["n_docs"] == 3
    assert report["queries"] == 2
    # Both queries find their most relevant document first.
    assert report["mrr_at_10"] == pytest.approx(1.0)
    assert 0.0 < report["ndcg_at_10"] <= 1.0
    assert report["recall_at_10"] == pytest.approx(1.0)
    rows = parse_run(run.read_text())
    firsts = {r[0]: r[2] for r in rows if r[3] == "1"}
    assert firsts == {"q1": "d1", "q2": "d2"}


def test_eval_beir_bad_arguments(tmp_path):
    if not hasattr(strata, "eval_beir"):
        pytest.skip("this build of strata has no eval_beir")
    folder = write_beir(tmp_path / "beir")
    with pytest.raises(strata.InvalidArgumentError, match='mode "tfidf"'):
        strata.eval_beir(folder, "tfidf")
    with pytest.raises(strata.InvalidArgumentError, match='fusion "borda"'):
        strata.eval_beir(folder, "hybrid", fusion="borda")
    with pytest.raises(strata.StrataIOError, match=r"missing/\w+\.jsonl"):
        strata.eval_beir(tmp_path / "missing")


def test_eval_beir_cutoff(tmp_path):
    """A relevance cut-off fitted on a train split (one query) and reported on test, with
    both baselines; a query asking for min_probability without a calibration is refused."""
    folder = write_beir(tmp_path / "beir")
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td2\t1\n")
    with pytest.warns(UserWarning, match="cut-off fitted on 1 train queries"):
        report = strata.eval_beir(folder, "bm25", k=10, cutoff=True)
    for field in ("cutoff_precision", "cutoff_recall", "cutoff_f1", "cutoff_mean_returned",
                  "fixed_k", "fixed_k_f1", "raw_threshold_f1"):
        assert isinstance(report[field], (int, float)), field
    assert report["cutoff_train_queries"] == 1
    assert report["cutoff_mean_returned"] >= 1.0
    with pytest.raises(strata.InvalidArgumentError, match="must differ"):
        strata.eval_beir(folder, "bm25", cutoff=True, train_split="test")
    with strata.Index.create(tmp_path / "idx", text_fields=["text"]) as idx:
        with idx.begin() as txn:
            txn.add(["a"], text={"text": ["red apples"]})
        with pytest.raises(strata.InvalidArgumentError, match="calibration of bm25 scores"):
            idx.query(text="apples", min_probability=0.5)
