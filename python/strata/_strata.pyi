"""Type stubs of strata's native module (re-exported by `strata`)."""

from __future__ import annotations

import os
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str

PathLike = Union[str, "os.PathLike[str]"]
Key = Union[str, int]
Keys = Union[Sequence[Key], npt.NDArray[np.integer[Any]]]
Vectors = npt.ArrayLike

class StrataError(Exception): ...
class LockedError(StrataError): ...
class CorruptError(StrataError): ...
class InputError(StrataError): ...
class SchemaError(StrataError): ...
class InvalidArgumentError(StrataError): ...
class NotAnIndexError(StrataError): ...
class AlreadyExistsError(StrataError): ...
class NotEmptyError(StrataError): ...
class UnsupportedVersionError(StrataError): ...
class FilterSyntaxError(StrataError): ...
class PoisonedError(StrataError): ...
class StrataIOError(StrataError): ...
class ClosedError(StrataError): ...

class IvfPq:
    """IVF-PQ parameters: nlist lists, m sub-quantizers of nbits (4 or 8) bits."""

    nlist: int
    m: int
    nbits: int
    balanced: bool
    residual: bool
    min_rows: int
    def __init__(
        self,
        nlist: int = 1024,
        m: int = 48,
        nbits: int = 4,
        *,
        balanced: bool = False,
        residual: bool = False,
        min_rows: int = 10_000,
    ) -> None: ...

class Hit:
    """One hit of a query."""

    key: Key
    score: float
    sources: dict[str, tuple[float, int]]
    fields: dict[str, Any]

class QueryResult(Sequence[Hit]):
    """The hits of one query, best first."""

    qid: Optional[str]
    candidates: int
    fewer_than_limit: bool
    hits: list[Hit]
    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> Hit: ...  # type: ignore[override]
    def __iter__(self) -> Iterator[Hit]: ...
    def to_arrow(self, qid: Optional[str] = None) -> Any: ...
    def to_pandas(self, qid: Optional[str] = None) -> Any: ...

class _Searchable:
    def search(
        self,
        queries: Vectors,
        k: int = 10,
        *,
        nprobe: Optional[int] = None,
        rerank: Optional[int] = None,
        exact: bool = False,
        threads: int = 1,
        where: Optional[str] = None,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[Any]]: ...
    def query(
        self,
        vector: Optional[Vectors] = None,
        text: Optional[str] = None,
        sparse: Optional[Mapping[str, float]] = None,
        where: Optional[str] = None,
        fusion: str = "rrf",
        k: int = 10,
        offset: int = 0,
        *,
        nprobe: Optional[int] = None,
        rerank: Optional[int] = None,
        exact: bool = False,
        text_fields: Optional[Sequence[str]] = None,
        depth: Optional[int] = None,
        weights: Optional[Mapping[str, float]] = None,
        rrf_k: float = 60.0,
        return_fields: bool = True,
        qid: Optional[str] = None,
        min_probability: Optional[float] = None,
    ) -> QueryResult: ...
    def get(self, key: Key) -> Optional[dict[str, Any]]: ...
    def __len__(self) -> int: ...

class Snapshot(_Searchable):
    """A read view of one commit, stable across later commits."""

    generation: int
    num_docs: int
    def keys(self) -> list[Key]: ...

class Txn:
    """A write transaction; a context manager that commits on success, rolls back on error."""

    pending: int
    def add(
        self,
        keys: Keys,
        vectors: Optional[Vectors] = None,
        text: Optional[Mapping[str, Sequence[Optional[str]]]] = None,
        sparse: Optional[Sequence[Optional[Mapping[str, float]]]] = None,
        attributes: Optional[Mapping[str, Sequence[Any]]] = None,
    ) -> None: ...
    def upsert(
        self,
        keys: Keys,
        vectors: Optional[Vectors] = None,
        text: Optional[Mapping[str, Sequence[Optional[str]]]] = None,
        sparse: Optional[Sequence[Optional[Mapping[str, float]]]] = None,
        attributes: Optional[Mapping[str, Sequence[Any]]] = None,
    ) -> None: ...
    def delete(self, keys: Keys) -> int: ...
    def commit(self) -> int: ...
    def rollback(self) -> None: ...
    def __enter__(self) -> Txn: ...
    def __exit__(self, exc_type: Any = None, exc: Any = None, tb: Any = None) -> bool: ...

class Index(_Searchable):
    """An index: its one writer, or a read-only view."""

    path: str
    read_only: bool
    dim: Optional[int]
    metric: Optional[str]
    @staticmethod
    def create(
        path: PathLike,
        dim: Optional[int] = None,
        metric: str = "ip",
        index: Optional[IvfPq] = None,
        text_fields: Optional[Sequence[str]] = None,
        sparse_field: Optional[str] = None,
        attributes: Optional[Mapping[str, str]] = None,
        *,
        key_type: str = "str",
        store_text: bool = True,
        storage: str = "auto",
        impact_bits: int = 8,
    ) -> Index: ...
    @staticmethod
    def open(path: PathLike, read_only: bool = False) -> Index: ...
    def begin(self) -> Txn: ...
    def snapshot(self) -> Snapshot: ...
    def refresh(self) -> bool: ...
    def stats(self) -> dict[str, Any]: ...
    def merge(self) -> bool: ...
    def verify(self) -> dict[str, Any]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Index: ...
    def __exit__(self, *args: Any) -> bool: ...

def open(path: PathLike, read_only: bool = False) -> Index: ...
def read_beir(
    folder: PathLike, split: str = "test"
) -> tuple[dict[str, list[str]], dict[str, list[str]], Optional[dict[str, dict[str, int]]]]: ...
def eval_beir(folder: PathLike, mode: str = "bm25", **options: Any) -> dict[str, Any]: ...
