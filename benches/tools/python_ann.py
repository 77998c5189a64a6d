#!/usr/bin/env python3
"""The WordNet ANN measurement from Python, to set beside `strata bench-ann`.

Builds an index through the transactional API of the Python package (one `txn.add` of every
base vector, keys 0..n, commit), closes it, reopens it read-only, and times
`idx.search(Q, k, nprobe=, rerank=, threads=)` over all queries: the median of repeated
passes, as bench-ann reports the median pass. Prints one JSON line per (setting, threads) with
the fields bench-ann prints (recall_at_10, qps, mean_ms, build_s).

    taskset -c 1 python benches/tools/python_ann.py --data ../shared/data/ann/wordnet-minilm \
        --nlist 1024 --m 96 --nbits 4 --nprobe 64 --rerank 80 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

import strata


def recall_at_10(keys: np.ndarray, gt: np.ndarray) -> float:
    hits = 0
    for row, truth in zip(keys[:, :10], gt[:, :10]):
        hits += len(set(int(x) for x in row if x >= 0) & set(int(x) for x in truth))
    return hits / (10 * len(keys))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the wordnet-minilm folder")
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--m", type=int, default=96)
    ap.add_argument("--nbits", type=int, default=4)
    ap.add_argument("--nprobe", default="64", help="comma-separated")
    ap.add_argument("--rerank", default="80", help="comma-separated")
    ap.add_argument("--threads", default="1", help="comma-separated")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds of passes per setting")
    ap.add_argument("--dir", help="index directory (default: a temporary one, removed)")
    ap.add_argument("--reuse", action="store_true", help="search the index in --dir as it is")
    args = ap.parse_args()

    info = json.load(open(os.path.join(args.data, "info.json")))
    queries = np.load(os.path.join(args.data, "queries.f32.npy"))
    gt = np.load(os.path.join(args.data, "gt.ids.i32.npy"))
    work = args.dir or tempfile.mkdtemp(prefix="strata-py-ann-")
    build_s = None
    if not args.reuse:
        if args.dir and os.path.exists(args.dir):
            shutil.rmtree(args.dir)
        t = time.perf_counter()
        base = np.concatenate(
            [np.load(os.path.join(args.data, s)) for s in info["base_shards"]]
        )
        idx = strata.Index.create(
            work,
            dim=base.shape[1],
            metric="ip",
            index=strata.IvfPq(nlist=args.nlist, m=args.m, nbits=args.nbits),
            key_type="int",
        )
        with idx.begin() as txn:
            txn.add(np.arange(len(base), dtype=np.int64), vectors=base)
        idx.close()
        build_s = time.perf_counter() - t
        del base
    idx = strata.open(work, read_only=True)
    for nprobe in (int(x) for x in args.nprobe.split(",")):
        for rerank in (int(x) for x in args.rerank.split(",")):
            for threads in (int(x) for x in args.threads.split(",")):
                kw = dict(k=args.k, nprobe=nprobe, rerank=rerank, threads=threads)
                idx.search(queries[:50], **kw)  # warm-up: fault in the mapped files
                passes = []
                start = time.perf_counter()
                while not passes or time.perf_counter() - start < args.min_time:
                    t = time.perf_counter()
                    _, keys = idx.search(queries, **kw)
                    passes.append(time.perf_counter() - t)
                med = statistics.median(passes)
                out = {
                    "engine": "strata-python",
                    "index": f"ivfpq{args.nlist},m{args.m}x{args.nbits}",
                    "nprobe": nprobe,
                    "rerank": rerank,
                    "threads": threads,
                    "recall_at_10": round(recall_at_10(keys, gt), 4),
                    "qps": round(len(queries) / med, 1),
                    "mean_ms": round(med * 1e3 / len(queries), 4),
                    "passes": len(passes),
                    "build_s": None if build_s is None else round(build_s, 2),
                }
                print(json.dumps(out), flush=True)
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
