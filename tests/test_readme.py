"""The README's examples run as written against the local repository."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def localised(code: str, repository) -> str:
    code = code.replace('"https://my-repository.org"', repr(repository.url))
    return code.replace('token="..."', f"token={repository.token!r}")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samples.csv").write_text("site,ph\nA,6.5\nB,7.1\n")
    return tmp_path


def test_the_readme_has_a_sync_example_and_its_async_mirror():
    blocks = python_blocks()
    assert len(blocks) == 2
    assert "get_sync_client" in blocks[0] and "get_async_client" in blocks[1]


def test_the_sync_example_runs(repository, workdir, capsys):
    namespace: dict = {}
    exec(localised(python_blocks()[0], repository), namespace)
    assert (workdir / "copy" / "samples.csv").read_text() == "site,ph\nA,6.5\nB,7.1\n"
    assert namespace["published"].is_published
    assert "samples.csv 20 md5:" in capsys.readouterr().out


def test_the_async_example_runs(repository, workdir, capsys):
    body = textwrap.indent(localised(python_blocks()[1], repository), "    ")
    namespace: dict = {}
    exec(f"async def example():\n{body}\n    return published\n", namespace)
    published = asyncio.run(namespace["example"]())
    assert published.is_published
    assert (workdir / "copy" / "samples.csv").read_text() == "site,ph\nA,6.5\nB,7.1\n"
    assert "samples.csv 20 md5:" in capsys.readouterr().out
