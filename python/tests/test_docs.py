"""The documentation's examples run: the README's Python section and the package docstring."""

from __future__ import annotations

import doctest
import re
import tempfile
from pathlib import Path

import pytest

import strata

README = Path(__file__).resolve().parent.parent.parent / "README.md"
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def readme_python_block():
    """(code, line number) of the first ```python block after the "## Python" heading."""
    if not README.exists():
        pytest.skip(f"{README} does not exist")
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next((i for i, l in enumerate(lines) if re.match(r"^##\s+Python\b", l)), None)
    if start is None:
        pytest.skip('README.md has no "## Python" section yet')
    fence = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"^\s*```\s*(python|py|pycon)\s*$", lines[i])),
        None,
    )
    if fence is None:
        pytest.skip('README.md\'s "## Python" section has no ```python block yet')
    end = next((i for i in range(fence + 1, len(lines)) if lines[i].strip().startswith("```")), None)
    assert end is not None, f"README.md:{fence + 1}: the ```python block is never closed"
    indent = len(lines[fence]) - len(lines[fence].lstrip())
    body = [l[indent:] if l[:indent].strip() == "" else l for l in lines[fence + 1 : end]]
    return "\n".join(body) + "\n", fence + 2


def test_readme_python_example(tmp_path, monkeypatch):
    code, lineno = readme_python_block()
    if "/work/shared/data" in code and not Path("/work/shared/data").exists():
        pytest.skip("the README example needs /work/shared/data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    globs = {"__name__": "__readme__"}
    if ">>>" in code:
        test = doctest.DocTestParser().get_doctest(code, globs, "README.md [Python]", str(README), lineno - 1)
        assert test.examples, "no examples parsed"
        runner = doctest.DocTestRunner(optionflags=OPTIONS)
        runner.run(test)
        res = runner.summarize(verbose=False)
        assert res.failed == 0, f"{res.failed} of {res.attempted} README examples failed (see output above)"
    else:
        exec(compile("\n" * (lineno - 1) + code, str(README), "exec"), globs)
    # The example should not leave an open writer behind in this process.
    for v in list(globs.values()):
        if isinstance(v, strata.Index):
            v.close()


def test_package_docstring_doctest(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert ">>>" in (strata.__doc__ or ""), "the package docstring has no example"
    res = doctest.testmod(strata, optionflags=OPTIONS, verbose=False)
    assert res.attempted > 0
    assert res.failed == 0, f"{res.failed} of {res.attempted} docstring examples failed"


def test_public_api_is_documented():
    for name in strata.__all__:
        obj = getattr(strata, name)
        assert obj is not None, name
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"strata.{name} has no docstring"
    for name in ("create", "open", "begin", "search", "query", "get", "snapshot", "refresh",
                 "stats", "merge", "verify", "close"):
        assert (getattr(strata.Index, name).__doc__ or "").strip(), f"Index.{name}"
    for name in ("add", "upsert", "delete", "commit", "rollback"):
        assert (getattr(strata.Txn, name).__doc__ or "").strip(), f"Txn.{name}"


def test_names_in_the_docs_exist():
    """Every `strata.NAME` the README's Python section and docs/PYTHON.md mention exists."""
    texts = []
    if README.exists():
        text = README.read_text(encoding="utf-8")
        m = re.search(r"^##\s+Python\b(.*?)(?=^##\s)", text, re.S | re.M)
        if m:
            texts.append(m.group(1))
    guide = README.parent / "docs" / "PYTHON.md"
    if guide.exists():
        texts.append(guide.read_text(encoding="utf-8"))
    if not texts:
        pytest.skip("no Python documentation yet")
    names = set()
    for t in texts:
        names.update(re.findall(r"\bstrata\.([A-Za-z_][A-Za-z0-9_]*)", t))
    assert names
    missing = sorted(n for n in names if not hasattr(strata, n))
    assert not missing, f"documented but missing from the package: {missing}"
