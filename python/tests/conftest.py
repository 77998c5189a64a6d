"""Shared fixtures of the strata Python test-suite.

Every index lives under pytest's ``tmp_path``; nothing here needs the shared data sets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

# `python -m pytest` run from python/ would put the source package python/strata (which has no
# compiled `_strata` unless `maturin develop` put one there) ahead of the installed one: drop
# that directory from sys.path in that case so the installed package is tested.
_PROJECT = Path(__file__).resolve().parent.parent
if not [p for p in (_PROJECT / "strata").glob("_strata*") if p.suffix in (".so", ".pyd")]:
    sys.path[:] = [
        p for p in sys.path if Path(p or os.getcwd()).resolve() != _PROJECT
    ]

import strata  # noqa: E402

DIM = 16
N_DOCS = 300
LANGS = ("en", "fr", "de")


# --------------------------------------------------------------------------------------------
# Data


def unique_word(i: int) -> str:
    """A made-up token that occurs in exactly one document of the corpus."""
    return f"zq{i}tok"


class Corpus:
    """A small deterministic corpus: vectors, two text fields, sparse weights, attributes."""

    def __init__(self, n: int = N_DOCS, dim: int = DIM, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.n = n
        self.dim = dim
        self.keys = list(range(n))
        self.vectors = rng.standard_normal((n, dim)).astype(np.float32)
        self.titles = [f"title {i}" for i in range(n)]
        self.bodies = [f"document {unique_word(i)} about common things" for i in range(n)]
        self.sparse = [{"shared": 0.5, f"sp{i}": 1.0 + (i % 5)} for i in range(n)]
        self.years = [1990 + (i % 30) for i in range(n)]
        self.langs = [LANGS[i % 3] for i in range(n)]
        self.prices = [float(i) / 4 for i in range(n)]

    def add_to(self, txn, lo: int = 0, hi: int | None = None) -> None:
        hi = self.n if hi is None else hi
        txn.add(
            self.keys[lo:hi],
            vectors=self.vectors[lo:hi],
            text={"title": self.titles[lo:hi], "body": self.bodies[lo:hi]},
            sparse=self.sparse[lo:hi],
            attributes={
                "year": self.years[lo:hi],
                "lang": self.langs[lo:hi],
                "price": self.prices[lo:hi],
            },
        )


FULL_SCHEMA = dict(
    metric="l2",
    text_fields=["title", "body"],
    sparse_field="splade",
    attributes={"year": "i64", "lang": "keyword", "price": "f64"},
    key_type="int",
)


def ivfpq() -> "strata.IvfPq":
    # min_rows (and the engine's floor of 256 rows) below the corpus size: IVF-PQ is really built.
    return strata.IvfPq(nlist=8, m=4, nbits=4, min_rows=256)


@pytest.fixture
def corpus() -> Corpus:
    return Corpus()


@pytest.fixture
def make_index(tmp_path):
    """Factory: make_index(name, **create_kwargs) -> a writer Index under tmp_path; every index
    it made (and every one registered with .track) is closed at teardown."""
    made = []

    def make(name: str = "idx", **kw):
        idx = strata.Index.create(tmp_path / name, **kw)
        made.append(idx)
        return idx

    make.track = made.append
    make.dir = tmp_path
    yield make
    for idx in made:
        try:
            idx.close()
        except strata.StrataError:
            pass


@pytest.fixture
def full_index(make_index, corpus):
    """An int-keyed l2 index with IVF-PQ, two text fields, a sparse field and three
    attributes, holding the whole corpus in one commit."""
    idx = make_index("full", dim=corpus.dim, index=ivfpq(), **FULL_SCHEMA)
    with idx.begin() as txn:
        corpus.add_to(txn)
    return idx


# --------------------------------------------------------------------------------------------
# Subprocesses


def child_env() -> dict:
    """Environment for a child interpreter that imports the same strata as this process."""
    env = dict(os.environ)
    site = str(Path(strata.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = site + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class Child:
    """A child Python process running `code`, talked to line by line over pipes. A watchdog
    kills it after `timeout` seconds so a hung child cannot hang the suite."""

    def __init__(self, code: str, *args: str, cwd, timeout: float = 60.0):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(cwd),
            env=child_env(),
        )
        self.watchdog = threading.Timer(timeout, self.proc.kill)
        self.watchdog.daemon = True
        self.watchdog.start()

    def readline(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise AssertionError(
                f"child exited (rc={self.proc.returncode}) without output; "
                f"stderr:\n{self.proc.stderr.read()}"
            )
        return line.rstrip("\n")

    def send(self, line: str = "") -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate()
        self.watchdog.cancel()
        return self.proc.returncode, out, err

    def kill(self) -> None:
        self.proc.kill()
        self.proc.communicate()
        self.watchdog.cancel()


@pytest.fixture
def child(tmp_path):
    """Factory: child(code, *args) -> a running Child (killed at teardown if still alive)."""
    kids = []

    def start(code: str, *args, timeout: float = 60.0) -> Child:
        c = Child(code, *args, cwd=tmp_path, timeout=timeout)
        kids.append(c)
        return c

    yield start
    for c in kids:
        if c.proc.poll() is None:
            c.kill()
        c.watchdog.cancel()


def run_child(code: str, *args, cwd, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs `code` in a child interpreter to completion."""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=str(cwd),
        env=child_env(),
        timeout=timeout,
    )
