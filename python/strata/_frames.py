"""Result tables with one fixed schema, and TREC run files.

Every table strata returns has the columns (qid, key, score, rank, source): qid and key as
strings, score float32, rank int64 from 0 (PyTerrier's convention), source the '+'-joined
names of the sources that returned the hit ("dense", "text", "sparse"). PyTerrier frames and
ir-measures runs are one rename away (key -> docno / doc_id).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

COLUMNS = ("qid", "key", "score", "rank", "source")


def _pyarrow():
    try:
        import pyarrow
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "strata results as Arrow tables need pyarrow: pip install pyarrow"
        ) from e
    return pyarrow


def schema():
    """The fixed pyarrow schema of result tables."""
    pa = _pyarrow()
    return pa.schema(
        [
            ("qid", pa.string()),
            ("key", pa.string()),
            ("score", pa.float32()),
            ("rank", pa.int64()),
            ("source", pa.string()),
        ]
    )


def results_table(qids, keys, scores, ranks, sources):
    """A pyarrow Table of the fixed schema from five equal-length columns."""
    pa = _pyarrow()
    return pa.table(
        {
            "qid": pa.array(qids, pa.string()),
            "key": pa.array(keys, pa.string()),
            "score": pa.array(scores, pa.float32()),
            "rank": pa.array(ranks, pa.int64()),
            "source": pa.array(sources, pa.string()),
        },
        schema=schema(),
    )


def search_table(scores, keys, qids: Optional[Sequence[Any]] = None, source: str = "dense"):
    """The (scores, keys) arrays of `Index.search` as a table of the fixed schema.

    Row i of the arrays belongs to qids[i] (default: "0", "1", ...); missing hits (key -1 or
    None) are left out.
    """
    import numpy as np

    scores = np.asarray(scores)
    keys = np.asarray(keys)
    if scores.shape != keys.shape or scores.ndim != 2:
        raise ValueError("scores and keys must be 2-D arrays of one shape, as search returns")
    if qids is None:
        qids = [str(i) for i in range(scores.shape[0])]
    if len(qids) != scores.shape[0]:
        raise ValueError(f"{len(qids)} qids for {scores.shape[0]} rows")
    cols = {c: [] for c in COLUMNS}
    for i, qid in enumerate(qids):
        for j in range(scores.shape[1]):
            k = keys[i, j]
            if k is None or (keys.dtype.kind in "iu" and k < 0):
                continue
            cols["qid"].append(str(qid))
            cols["key"].append(str(k))
            cols["score"].append(float(scores[i, j]))
            cols["rank"].append(j)
            cols["source"].append(source)
    return results_table(*(cols[c] for c in COLUMNS))


def _rows(results) -> Iterable[tuple]:
    """(qid, key, score, rank) rows of a table, a DataFrame, a {qid: QueryResult} dict, or
    an iterable of rows."""
    if hasattr(results, "to_pydict") and hasattr(results, "schema"):  # pyarrow.Table
        d = results.to_pydict()
        return zip(d["qid"], d["key"], d["score"], d["rank"])
    if hasattr(results, "itertuples") and hasattr(results, "columns"):  # pandas.DataFrame
        return zip(results["qid"], results["key"], results["score"], results["rank"])
    if isinstance(results, dict):
        out = []
        for qid, res in results.items():
            for i, h in enumerate(res):
                out.append((qid, h.key, h.score, i))
        return out
    return results


def write_trec_run(path, results, run_name: str = "strata") -> int:
    """Writes `results` as a TREC run file (`qid Q0 key rank score run_name`, ranks from 1)
    to `path` (a path or a text file object); returns the number of lines written.

    `results` is a table of the fixed schema (pyarrow or pandas), a {qid: QueryResult} dict,
    or an iterable of (qid, key, score, rank) rows with ranks from 0.
    """
    lines = [
        f"{qid} Q0 {key} {int(rank) + 1} {float(score):.6f} {run_name}\n"
        for qid, key, score, rank in _rows(results)
    ]
    if hasattr(path, "write"):
        path.writelines(lines)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
    return len(lines)
