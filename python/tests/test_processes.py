"""Several processes on one index: read-only readers beside the writer, refresh(), the writer
lock across processes, and a writer killed mid-transaction.

Processes meet over pipes (a child prints a line and waits for one on stdin), never on sleeps.
"""

from __future__ import annotations

import json
import os

import pytest

import strata

READER = """
import sys, json, numpy as np, strata
path, queries = sys.argv[1], np.array(json.loads(sys.argv[2]), dtype=np.float32)
ro = strata.open(path, read_only=True)
def report(**extra):
    s, k = ro.search(queries, k=1, exact=True)
    out = {"len": len(ro), "read_only": ro.read_only, "keys": k[:, 0].tolist(),
           "generation": ro.stats()["generation"], "text": [h.key for h in ro.query(text="later", k=50)]}
    out.update(extra)
    print(json.dumps(out), flush=True)
try:
    strata.open(path)
    locked = None
except strata.LockedError as e:
    locked = str(e)
try:
    ro.begin()
    begin = None
except strata.InvalidArgumentError as e:
    begin = str(e)
old = ro.snapshot()
report(locked=locked, begin=begin)
sys.stdin.readline()                # the parent has committed more
changed = ro.refresh()
report(changed=changed, old_len=old.num_docs, again=ro.refresh())
sys.stdin.readline()
"""


def test_read_only_process_beside_the_writer(make_index, corpus, child):
    idx = make_index("shared", dim=corpus.dim, metric="l2", text_fields=["body"], key_type="int")
    half = corpus.n // 2
    with idx.begin() as txn:
        txn.add(corpus.keys[:half], vectors=corpus.vectors[:half], text={"body": ["early"] * half})
    q = corpus.vectors[[0, half - 1, half, corpus.n - 1]]
    c = child(READER, idx.path, json.dumps(q.tolist()))

    first = json.loads(c.readline())
    assert first["read_only"] is True
    assert first["len"] == half
    assert first["keys"][:2] == [0, half - 1]  # its own vectors
    assert first["text"] == []
    assert first["locked"] is not None and "locked" in first["locked"]
    assert first["begin"] is not None and "read-only" in first["begin"]
    gen = first["generation"]

    # The writer keeps writing while the reader is open: uncommitted work stays invisible,
    # a commit becomes visible after refresh().
    txn = idx.begin()
    txn.add(corpus.keys[half:], vectors=corpus.vectors[half:],
            text={"body": ["later"] * (corpus.n - half)})
    txn.commit()
    with idx.begin() as txn:
        txn.delete([0])
    c.send()
    second = json.loads(c.readline())
    assert second["changed"] is True
    assert second["again"] is False  # nothing newer
    assert second["len"] == corpus.n - 1
    assert second["old_len"] == half  # its earlier snapshot did not move
    assert second["generation"] > gen
    assert second["keys"][1:] == [half - 1, half, corpus.n - 1]
    assert second["keys"][0] != 0  # deleted
    assert len(second["text"]) == min(50, corpus.n - half)
    assert set(second["text"]) <= set(corpus.keys[half:])
    c.send()
    rc, out, err = c.finish()
    assert rc == 0, err


def test_read_only_in_process_refresh(full_index, corpus):
    ro = strata.open(full_index.path, read_only=True)
    try:
        assert ro.read_only and len(ro) == corpus.n
        assert ro.refresh() is False
        snap = ro.snapshot()
        with full_index.begin() as txn:
            txn.add([10_000, 10_001], vectors=corpus.vectors[:2])
        assert len(full_index) == corpus.n + 2  # the writer sees its commit at once
        assert len(ro) == corpus.n  # the reader, after refresh
        assert ro.refresh() is True
        assert len(ro) == corpus.n + 2
        assert ro.get(10_001) is not None
        assert snap.num_docs == corpus.n
        assert ro.stats()["read_only"] is True
        assert ro.verify()["num_docs"] == corpus.n + 2
    finally:
        ro.close()
    # The writer's refresh has nothing to do: it always sees its newest commit.
    assert full_index.refresh() is False


HOLDER = """
import sys, numpy as np, strata
idx = strata.open(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
if sys.argv[2] == "txn":
    txn = idx.begin()
    txn.add([123456], vectors=np.zeros((1, int(sys.argv[3])), dtype=np.float32))
    print("in txn", txn.pending, flush=True)
    sys.stdin.readline()            # killed here
idx.close()
print("closed", flush=True)
"""


def test_lock_held_by_another_process(full_index, corpus, child):
    path = full_index.path
    full_index.close()
    c = child(HOLDER, path, "close", corpus.dim)
    assert c.readline() == "holding"
    with pytest.raises(strata.LockedError, match="locked"):
        strata.open(path)
    with strata.open(path, read_only=True) as ro:  # readers are never locked out
        assert len(ro) == corpus.n
    c.send()
    assert c.readline() == "closed"
    rc, _, err = c.finish()
    assert rc == 0, err
    with strata.open(path) as idx:
        assert len(idx) == corpus.n


def test_killed_writer_releases_lock_and_loses_uncommitted(full_index, corpus, child):
    path = full_index.path
    full_index.close()
    c = child(HOLDER, path, "txn", corpus.dim)
    assert c.readline() == "holding"
    c.send()
    assert c.readline() == "in txn 1"
    with pytest.raises(strata.LockedError):
        strata.open(path)
    c.kill()  # SIGKILL mid-transaction: the OS drops its lock
    assert c.proc.returncode != 0
    with strata.open(path) as idx:
        assert len(idx) == corpus.n
        assert idx.get(123456) is None
        assert idx.verify()["ok"] is True
        with idx.begin() as txn:
            txn.add([123456], vectors=corpus.vectors[:1])
        assert idx.get(123456) is not None
    assert os.path.isdir(path)
