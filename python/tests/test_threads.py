"""Python threads: snapshot consistency under concurrent commits, and the GIL being released.

No test here asserts on timing or uses sleeps to synchronise: threads meet on Events and
joins, and every assertion is about what a thread observed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import strata
from conftest import run_child

BATCH = 20
COMMITS = 50
DIM = 8


def _run_threads(targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported to the main thread
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def test_searches_see_consistent_snapshots_during_commits(make_index):
    """One thread commits BATCH documents at a time; readers must only ever see whole
    commits: a snapshot holds a multiple of BATCH documents, exactly the keys 0..n-1, and its
    search, query and get all agree with its num_docs."""
    total = BATCH * COMMITS
    X = np.random.default_rng(21).standard_normal((total, DIM)).astype(np.float32)
    idx = make_index("conc", dim=DIM, metric="l2", text_fields=["body"], key_type="int")
    committed = {0}
    writer_done = threading.Event()
    kept = []  # (snapshot, num_docs it had when taken)

    def writer():
        try:
            for c in range(COMMITS):
                lo, hi = c * BATCH, (c + 1) * BATCH
                with idx.begin() as txn:
                    txn.add(np.arange(lo, hi), vectors=X[lo:hi], text={"body": ["common"] * BATCH})
                committed.add(hi)
        finally:
            writer_done.set()

    def check_snapshot(snap, last):
        n = snap.num_docs
        assert n % BATCH == 0 and 0 <= n <= total, n
        assert n >= last, (n, last)  # never goes back
        _, keys = snap.search(X[:3], k=total, exact=True)
        for row in keys:
            assert sorted(row[row >= 0].tolist()) == list(range(n))
        res = snap.query(text="common", k=total)
        assert sorted(h.key for h in res) == list(range(n))
        if n:
            assert snap.get(n - 1) is not None
        assert snap.get(n) is None
        assert snap.num_docs == n  # unchanged by commits made meanwhile
        return n

    def snapshot_reader():
        last, rounds = 0, 0
        while not writer_done.is_set() or rounds < 3:
            snap = strata_snapshot(idx)
            last = check_snapshot(snap, last)
            if rounds % 4 == 0:
                kept.append((snap, last))
            rounds += 1

    def index_reader():
        # Index-level calls: each one answers from one snapshot.
        last, rounds = 0, 0
        while not writer_done.is_set() or rounds < 3:
            _, keys = idx.search(X[:4], k=total, exact=True, threads=2)
            counts = {int((row >= 0).sum()) for row in keys}
            assert len(counts) == 1, counts  # all rows of one call saw the same commit
            (n,) = counts
            assert n % BATCH == 0 and n >= last, (n, last)
            last = n
            m = len(idx.query(text="common", k=total))
            assert m % BATCH == 0 and m >= n, (m, n)
            assert len(idx) >= m
            rounds += 1

    _run_threads([writer, snapshot_reader, snapshot_reader, index_reader])

    assert len(idx) == total
    assert committed == set(range(0, total + 1, BATCH))
    # Snapshots taken during the run keep their contents after every later commit, a merge
    # and the garbage collection that follows it.
    idx.merge()
    assert kept
    for snap, n in kept:
        assert snap.num_docs == n
        check_snapshot(snap, 0)


def strata_snapshot(idx):
    snap = idx.snapshot()
    assert isinstance(snap, strata.Snapshot)
    return snap


def test_uncommitted_changes_invisible_to_other_threads(make_index):
    X = np.random.default_rng(2).standard_normal((40, DIM)).astype(np.float32)
    idx = make_index("vis", dim=DIM, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add(np.arange(20), vectors=X[:20])
    added = threading.Event()
    checked = threading.Event()
    seen = []

    def reader():
        added.wait(60)
        seen.append((len(idx), idx.get(25), int((idx.search(X, k=40, exact=True)[1] >= 0).sum(axis=1).max())))
        checked.set()

    th = threading.Thread(target=reader)
    th.start()
    txn = idx.begin()
    txn.add(np.arange(20, 40), vectors=X[20:])
    added.set()
    assert checked.wait(60)
    txn.commit()
    th.join(60)
    assert seen == [(20, None, 20)]
    assert len(idx) == 40


def test_parallel_searches_agree(make_index):
    X = np.random.default_rng(8).standard_normal((500, DIM)).astype(np.float32)
    idx = make_index("par", dim=DIM, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add(np.arange(500), vectors=X)
    ref = idx.search(X[:50], k=5, exact=True)
    results = [None] * 4

    def worker(i):
        def run():
            for _ in range(5):
                results[i] = idx.search(X[:50], k=5, exact=True, threads=2)
        return run

    _run_threads([worker(i) for i in range(4)])
    for s, k in results:
        np.testing.assert_array_equal(k, ref[1])
        np.testing.assert_array_equal(s, ref[0])


# -- The GIL ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_index(tmp_path_factory):
    n, dim = 50_000, 64
    X = np.random.default_rng(99).standard_normal((n, dim)).astype(np.float32)
    idx = strata.Index.create(tmp_path_factory.mktemp("gil") / "big", dim=dim, metric="l2", key_type="int")
    with idx.begin() as txn:
        txn.add(np.arange(n), vectors=X)
    yield idx, X
    idx.close()


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else check()


@pytest.mark.skipif(not _gil_enabled(), reason="free-threaded interpreter: there is no GIL to release")
def test_search_releases_the_gil(big_index):
    """A pure-Python counter thread makes progress *while* a long search runs.

    Why this is deterministic: sys.setswitchinterval(1000) stops CPython from ever forcing the
    GIL away from a thread during the test, so a thread only gets the GIL when the holder gives
    it up voluntarily. The main thread reads the counter immediately before and after the
    search call, with nothing in between that blocks. If the binding held the GIL for the whole
    Rust call, the counter thread could not run at all between the two reads, and the
    difference would be exactly 0. It can only be > 0 if the GIL was released inside search.

    The counter thread works in rounds of 1000 increments and then gives the GIL up
    voluntarily (time.sleep: not for synchronisation, but so the main thread can take the GIL
    back when the search returns; without it the main thread would wait for the 1000-second
    switch interval). The counter is only read while the main thread holds the GIL, and the
    counter thread releases it only between rounds, so any progress is at least one full
    round. The search (2000 exact queries over 50k x 64 on one thread) runs for a few hundred
    milliseconds; a few attempts allow for the counter thread not being scheduled at all
    during one of them on a busy machine.
    """
    idx, X = big_index
    Q = X[:2000]
    state = {"count": 0, "stop": False}
    go = threading.Event()

    def counter():
        go.wait()
        while not state["stop"]:
            for _ in range(1000):
                state["count"] += 1
            time.sleep(0.0005)  # gives the GIL up between rounds (see the docstring)

    th = threading.Thread(target=counter, daemon=True)
    th.start()
    old = sys.getswitchinterval()
    progress = []
    sys.setswitchinterval(1000.0)
    try:
        go.set()
        for _ in range(5):
            before = state["count"]
            _, keys = idx.search(Q, k=1, exact=True, threads=1)
            after = state["count"]
            progress.append(after - before)
            if after > before:
                break
    finally:
        state["stop"] = True
        sys.setswitchinterval(old)
        th.join(timeout=60)
    assert keys[:, 0].tolist() == list(range(len(Q)))
    assert max(progress) >= 1000, f"the counter did not advance during search: {progress}"


class GilProbe:
    """The counter thread of test_search_releases_the_gil, reusable: `progress(call)` runs
    call() and returns how far the counter advanced during it (0 if the GIL was held)."""

    def __init__(self):
        self.count = 0
        self.stop = False
        self.go = threading.Event()
        self.thread = threading.Thread(target=self._count, daemon=True)

    def _count(self):
        self.go.wait()
        while not self.stop:
            for _ in range(1000):
                self.count += 1
            time.sleep(0.0005)  # gives the GIL up between rounds, as explained above

    def __enter__(self):
        self.thread.start()
        self.old = sys.getswitchinterval()
        sys.setswitchinterval(1000.0)
        self.go.set()
        return self

    def __exit__(self, *exc):
        self.stop = True
        sys.setswitchinterval(self.old)
        self.thread.join(timeout=60)
        return False

    def progress(self, call):
        before = self.count
        call()
        return self.count - before


@pytest.mark.skipif(not _gil_enabled(), reason="free-threaded interpreter: there is no GIL to release")
def test_query_commit_and_merge_release_the_gil(big_index, make_index):
    """Same design as test_search_releases_the_gil, for query(exact=True) over 50k vectors,
    commit() of 20k vectors and merge() of three 20k-vector segments."""
    idx, X = big_index
    w = make_index("gilw", dim=X.shape[1], metric="l2", key_type="int")
    q_progress, c_progress, m_progress = [], [], []
    with GilProbe() as probe:
        for _ in range(20):
            q_progress.append(probe.progress(lambda: idx.query(vector=X[0], k=1, exact=True)))
            if q_progress[-1]:
                break
        next_key = 0
        for attempt in range(3):
            txn = w.begin()
            txn.add(np.arange(next_key, next_key + 20_000), vectors=X[:20_000])
            next_key += 20_000
            c_progress.append(probe.progress(txn.commit))
            if c_progress[-1]:
                break
        for attempt in range(3):
            for _ in range(2):
                with w.begin() as txn:
                    txn.add(np.arange(next_key, next_key + 20_000), vectors=X[20_000:40_000])
                next_key += 20_000
            merged = []
            m_progress.append(probe.progress(lambda: merged.append(w.merge())))
            if m_progress[-1] and merged == [True]:
                break
    assert max(q_progress) >= 1000, f"the counter did not advance during query: {q_progress}"
    assert max(c_progress) >= 1000, f"the counter did not advance during commit: {c_progress}"
    assert max(m_progress) >= 1000, f"the counter did not advance during merge: {m_progress}"
    assert len(w) == next_key


MERGE_WHILE_READING = """
import sys, threading, numpy as np, strata
idx = strata.Index.create(sys.argv[1], dim=32, metric="l2", key_type="int")
rng = np.random.default_rng(0)
for b in range(4):
    with idx.begin() as txn:
        txn.add(np.arange(b * 10000, (b + 1) * 10000),
                vectors=rng.standard_normal((10000, 32)).astype(np.float32))
started, merged = threading.Event(), threading.Event()
def merge():
    started.set()
    idx.merge()
    merged.set()
t = threading.Thread(target=merge)
t.start()
started.wait()
calls = 0
while not merged.is_set():      # stats() and friends while merge() runs in another thread
    idx.stats(); idx.read_only; repr(idx)
    calls += 1
t.join()
print("ok", calls, len(idx.stats()["segments"]), flush=True)
"""


def test_merge_does_not_deadlock_concurrent_calls(tmp_path):
    """BUG (python/src/index.rs, Inner::with_writer used by PyIndex::merge): merge() keeps the
    writer-slot mutex locked while it runs with the GIL released (py.detach inside
    with_writer). Another Python thread calling stats(), read_only, repr(), begin() or
    close() meanwhile blocks on that mutex *while holding the GIL*; when the merge finishes
    it needs the GIL back to return: deadlock, the process hangs forever.

    Run in a child process with a timeout so the hang cannot hang the suite. (Without the bug
    the child finishes in about a second.)"""
    try:
        r = run_child(MERGE_WHILE_READING, tmp_path / "idx", cwd=tmp_path, timeout=15)
    except subprocess.TimeoutExpired:
        r = None
    if r is None:
        pytest.fail("deadlock: merge() in one thread while another calls stats(): the child "
                    "process hung for 15 s and was killed")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok"), r.stdout
