"""Result tables (Arrow, pandas), search_table and TREC run files."""

from __future__ import annotations

import io

import numpy as np
import pytest

import strata
from conftest import unique_word

pa = pytest.importorskip("pyarrow")

EXPECTED_FIELDS = [
    ("qid", pa.string()),
    ("key", pa.string()),
    ("score", pa.float32()),
    ("rank", pa.int64()),
    ("source", pa.string()),
]


def test_results_schema_exactly():
    schema = strata.results_schema()
    assert [(f.name, f.type) for f in schema] == EXPECTED_FIELDS
    assert schema.equals(pa.schema(EXPECTED_FIELDS))


def test_to_arrow_schema_and_values(full_index, corpus):
    res = full_index.query(text="common", k=6, offset=2, qid="q7")
    t = res.to_arrow()
    assert isinstance(t, pa.Table)
    assert [(f.name, f.type) for f in t.schema] == EXPECTED_FIELDS
    assert t.schema.equals(strata.results_schema())
    assert t.num_rows == len(res) == 6
    d = t.to_pydict()
    assert d["qid"] == ["q7"] * 6
    assert d["key"] == [str(h.key) for h in res]
    assert d["rank"] == [2, 3, 4, 5, 6, 7]  # from 0, counting the offset
    assert d["source"] == ["text"] * 6
    np.testing.assert_array_equal(np.array(d["score"], dtype=np.float32),
                                  np.array([h.score for h in res], dtype=np.float32))
    # qid: the argument wins over the query's; without either it is "0".
    assert res.to_arrow(qid="other").column("qid").to_pylist() == ["other"] * 6
    assert full_index.query(text="common", k=2).to_arrow().column("qid").to_pylist() == ["0", "0"]


def test_to_arrow_hybrid_sources_and_empty(full_index, corpus):
    i = 12
    res = full_index.query(vector=corpus.vectors[i], text=unique_word(i), sparse={f"sp{i}": 1.0},
                           k=5, exact=True)
    t = res.to_arrow()
    first = t.slice(0, 1).to_pylist()[0]
    assert first["key"] == str(i)
    assert set(first["source"].split("+")) == {"dense", "text", "sparse"}
    assert first["source"] == "dense+text+sparse"
    for row, hit in zip(t.to_pylist(), res):
        assert set(row["source"].split("+")) == set(hit.sources)
    empty = full_index.query(text="zzzz-no-such-word").to_arrow()
    assert empty.num_rows == 0
    assert empty.schema.equals(strata.results_schema())


def test_to_arrow_string_keys(make_index):
    idx = make_index("s", text_fields=["body"])
    with idx.begin() as txn:
        txn.add(["doc-a", "doc-b"], text={"body": ["apples", "apples and pears"]})
    t = idx.query(text="apples").to_arrow()
    assert sorted(t.column("key").to_pylist()) == ["doc-a", "doc-b"]


def test_to_pandas(full_index):
    pd = pytest.importorskip("pandas")
    res = full_index.query(text="common", k=5, qid="q1")
    df = res.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["qid", "key", "score", "rank", "source"]
    assert len(df) == 5
    assert df["score"].dtype == np.float32
    assert df["rank"].dtype == np.int64
    assert df["rank"].tolist() == [0, 1, 2, 3, 4]
    assert df["qid"].tolist() == ["q1"] * 5
    assert df["key"].tolist() == [str(h.key) for h in res]
    assert res.to_pandas(qid="z")["qid"].tolist() == ["z"] * 5


def test_search_table_int_keys(full_index, corpus):
    s, k = full_index.search(corpus.vectors[:3], k=4, exact=True)
    t = strata.search_table(s, k, qids=["a", "b", "c"])
    assert t.schema.equals(strata.results_schema())
    d = t.to_pydict()
    assert d["qid"] == ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    assert d["key"] == [str(x) for x in k.ravel()]
    assert d["rank"] == [0, 1, 2, 3] * 3
    assert d["source"] == ["dense"] * 12
    np.testing.assert_array_equal(np.array(d["score"], dtype=np.float32), s.ravel())
    # Default qids "0", "1", ...; missing hits (-1) are left out.
    small = strata.search_table(np.array([[0.5, np.inf]], dtype=np.float32), np.array([[7, -1]]))
    assert small.to_pydict() == {"qid": ["0"], "key": ["7"], "score": [0.5], "rank": [0],
                                 "source": ["dense"]}


def test_search_table_str_keys_and_errors(make_index):
    idx = make_index("sk", dim=4, metric="ip")
    with idx.begin() as txn:
        txn.add(["x", "y"], vectors=np.eye(2, 4, dtype=np.float32))
    s, k = idx.search(np.eye(2, 4, dtype=np.float32), k=3)
    t = strata.search_table(s, k, source="ann")
    d = t.to_pydict()
    assert d["key"] == ["x", "y", "y", "x"]  # the None padding is left out
    assert d["qid"] == ["0", "0", "1", "1"]
    assert d["source"] == ["ann"] * 4
    with pytest.raises(ValueError, match="qids"):
        strata.search_table(s, k, qids=["only-one"])
    with pytest.raises(ValueError, match="one shape"):
        strata.search_table(s[:, :2], k)
    with pytest.raises(ValueError, match="2-D"):
        strata.search_table(s[0], k[0])


def parse_run(text):
    rows = [line.split() for line in text.splitlines()]
    for r in rows:
        assert len(r) == 6 and r[1] == "Q0", r
    return rows


def test_write_trec_run_from_table(full_index, tmp_path):
    res = full_index.query(text="common", k=5, qid="q1")
    path = tmp_path / "run.txt"
    n = strata.write_trec_run(path, res.to_arrow(), run_name="myrun")
    assert n == 5
    text = path.read_text()
    assert text.endswith("\n")
    rows = parse_run(text)
    assert [r[0] for r in rows] == ["q1"] * 5
    assert [r[2] for r in rows] == [str(h.key) for h in res]
    assert [int(r[3]) for r in rows] == [1, 2, 3, 4, 5]  # TREC ranks from 1
    assert [r[5] for r in rows] == ["myrun"] * 5
    for r, h in zip(rows, res):
        assert r[4] == f"{h.score:.6f}"
    line0 = f"q1 Q0 {res[0].key} 1 {res[0].score:.6f} myrun"
    assert text.splitlines()[0] == line0


def test_write_trec_run_other_inputs(full_index, tmp_path):
    pd = pytest.importorskip("pandas")
    results = {"qa": full_index.query(text=unique_word(1)), "qb": full_index.query(text="common", k=3)}
    buf = io.StringIO()
    assert strata.write_trec_run(buf, results) == 4
    rows = parse_run(buf.getvalue())
    assert rows[0][:4] == ["qa", "Q0", "1", "1"]
    assert [r[0] for r in rows] == ["qa", "qb", "qb", "qb"]
    assert [r[3] for r in rows] == ["1", "1", "2", "3"]
    assert {r[5] for r in rows} == {"strata"}
    # A DataFrame, and plain rows with ranks from 0, give the same lines as the table.
    t = results["qb"].to_arrow(qid="qb")
    a, b, c = io.StringIO(), io.StringIO(), io.StringIO()
    strata.write_trec_run(a, t)
    strata.write_trec_run(b, t.to_pandas())
    d = t.to_pydict()
    strata.write_trec_run(c, list(zip(d["qid"], d["key"], d["score"], d["rank"])))
    assert a.getvalue() == b.getvalue() == c.getvalue()
    assert isinstance(t.to_pandas(), pd.DataFrame)
