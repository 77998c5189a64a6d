#!/usr/bin/env python3
"""The peer run for examples/filter_compile.rs: the same seeded documents in a LanceDB table
with scalar indexes (BTREE on year and score, BITMAP on lang, LABEL_LIST on tags), and the same
filters, timed as the median of R `count_rows(filter)` calls. The printed counts must equal the
`passing` column of the strata example (same generator: splitmix64 from seed 42).

    taskset -c 1 /work/main/.venv-peers/bin/python benches/tools/lance_filter.py [N] [R]
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("LANCE_CPU_THREADS", "1")

import lancedb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
R = int(sys.argv[2]) if len(sys.argv) > 2 else 21
LANGS = ["en", "de", "fr", "es", "ja", "zh", "pt", "it"]


def splitmix64(n, seed):
    state = (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) + np.uint64(seed)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


with np.errstate(over="ignore"):
    r = splitmix64(N, 42)
u = lambda x: np.uint64(x)  # noqa: E731
year = pa.array((1990 + (r >> u(8)) % u(36)).astype(np.int64), mask=(r % u(10) == 0))
x = ((r >> u(16)) % u(16)).astype(np.int64)
lang_idx = np.where(x < 8, 0, (x - 7) % 8)
lang = pa.array([LANGS[i] for i in lang_idx], mask=(r % u(7) == 0))
ntags = ((r >> u(24)) % u(4)).astype(np.int64)
tag_cols = [((r >> u(28 + 6 * i)) % u(50)).astype(np.int64) for i in range(3)]
tags = pa.array(
    [[f"t{tag_cols[i][k]}" for i in range(ntags[k])] for k in range(N)], type=pa.list_(pa.string())
)
score = pa.array(((r >> u(40)) % u(10_000)).astype(np.float64) / 100.0, mask=(r % u(5) == 0))
table = pa.table({"id": np.arange(N, dtype=np.uint64), "year": year, "lang": lang, "tags": tags, "score": score})

tmp = tempfile.mkdtemp(prefix="lance-filter-")
db = lancedb.connect(tmp)
t0 = time.time()
tbl = db.create_table("docs", table)
tbl.create_scalar_index("year", index_type="BTREE")
tbl.create_scalar_index("score", index_type="BTREE")
tbl.create_scalar_index("lang", index_type="BITMAP")
tbl.create_scalar_index("tags", index_type="LABEL_LIST")
print(f"{N} rows written and indexed in {time.time() - t0:.1f} s; median of {R} count_rows calls")

CASES = [
    "lang = 'en'",
    "lang IN ('ja', 'zh', 'pt')",
    "array_has_any(tags, ['t7'])",
    "year >= 2015",
    "year = 2001",
    "score BETWEEN 10.5 AND 11.5",
    "year >= 2015 AND lang = 'en'",
    "(year < 1995 OR array_has_any(tags, ['t1', 't2'])) AND score IS NULL",
]
print("filter | passing | ms")
for f in CASES:
    times = []
    for _ in range(R):
        t = time.perf_counter()
        n = tbl.count_rows(f)
        times.append((time.perf_counter() - t) * 1e3)
    print(f"{f} | {n} | {statistics.median(times):.3f}")
shutil.rmtree(tmp)
