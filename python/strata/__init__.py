"""strata: an embedded retrieval engine.

IVF-PQ and exact dense search, BM25 and learned-sparse retrieval, and hybrid queries over
them, stored on disk behind transactions (one writer, many snapshot readers, atomic durable
commits, crash recovery).

    >>> import numpy as np, strata, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "idx")
    >>> idx = strata.Index.create(path, dim=4, metric="ip", text_fields=["text"], key_type="int")
    >>> with idx.begin() as txn:
    ...     txn.add([1, 2], vectors=np.eye(2, 4, dtype=np.float32),
    ...             text={"text": ["red apples", "green pears"]})
    >>> scores, keys = idx.search(np.eye(1, 4, dtype=np.float32), k=1)
    >>> int(keys[0, 0])
    1
    >>> idx.query(text="pears", k=1)[0].key
    2
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ._frames import results_table, schema as results_schema, search_table, write_trec_run
from ._strata import (
    AlreadyExistsError,
    ClosedError,
    CorruptError,
    FilterSyntaxError,
    Hit,
    Index,
    InputError,
    InvalidArgumentError,
    IvfPq,
    LockedError,
    NotAnIndexError,
    NotEmptyError,
    PoisonedError,
    QueryResult,
    SchemaError,
    Snapshot,
    StrataError,
    StrataIOError,
    Txn,
    UnsupportedVersionError,
    __version__,
    open,
)
from ._strata import eval_beir
from ._strata import read_beir as _read_beir


class Beir(NamedTuple):
    """A BEIR folder read into memory (see `read_beir`)."""

    corpus: dict
    queries: dict
    qrels: Optional[dict]


def read_beir(folder, split: str = "test") -> Beir:
    """Reads a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv; each may be .zst).

    corpus is columnar ({"_id", "title", "text"}: lists), ready for `txn.add`; queries are
    {"_id", "text"}; qrels {qid: {doc id: grade}}, or None without qrels/SPLIT.tsv.
    """
    return Beir(*_read_beir(str(folder), split))


__all__ = [
    "AlreadyExistsError",
    "Beir",
    "ClosedError",
    "CorruptError",
    "FilterSyntaxError",
    "Hit",
    "Index",
    "InputError",
    "InvalidArgumentError",
    "IvfPq",
    "LockedError",
    "NotAnIndexError",
    "NotEmptyError",
    "PoisonedError",
    "QueryResult",
    "SchemaError",
    "Snapshot",
    "StrataError",
    "StrataIOError",
    "Txn",
    "UnsupportedVersionError",
    "open",
    "read_beir",
    "results_schema",
    "results_table",
    "search_table",
    "write_trec_run",
    "eval_beir",
]
