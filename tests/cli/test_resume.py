"""``nrpfiles download``, ``upload`` and ``sync`` resume what an interrupted run left, and say so."""

from __future__ import annotations

import json
import time

import pytest

from nrpfiles._upload_journal import journal_directory
from nrpfiles.cli import parallel
from tests.cli.conftest import METADATA

MIB = 1 << 20
SIZE = 24 * MIB
REAL_WAIT_ALL = parallel._wait_all


@pytest.fixture
def ranged_run(run, local_repository_factory):
    """``nrpfiles -r URL --token T ...`` against a local repository that honours ranges."""
    repository = local_repository_factory(ranges=True)

    def invoke(*arguments: object):
        return run("-r", repository.url, "--token", repository.token, *arguments)

    return invoke


@pytest.fixture
def ranged_draft(ranged_run, tmp_path):
    metadata = tmp_path / "record.json"
    metadata.write_text(json.dumps(METADATA))
    result = ranged_run("records", "create", "--metadata", metadata, "--json")
    assert result.code == 0, result.err
    return result.json()["id"]


def ctrl_c_once(ready):
    """A ``_wait_all`` that presses Ctrl-C as soon as ``ready()`` says enough has happened."""
    real_wait = parallel._wait_all

    def wait_then_interrupt(futures):
        while not all(f.done() for f in futures):
            if ready():
                raise KeyboardInterrupt
            time.sleep(0.001)
        real_wait(futures)
        raise AssertionError("the transfer finished before it was interrupted")

    return wait_then_interrupt


def saved_bytes(sidecar):
    try:
        last = sidecar.read_text().splitlines()[-1]  # a line a save, the newest last
        return sum(written for _, _, written in json.loads(last)["ranges"])
    except (OSError, ValueError, KeyError, IndexError):
        return 0


def test_an_interrupted_download_resumes_and_says_so(
    ranged_run, ranged_draft, tmp_path, monkeypatch
):
    source = tmp_path / "in" / "large.bin"
    source.parent.mkdir()
    source.write_bytes(bytes(range(256)) * (SIZE // 256))
    assert ranged_run("upload", ranged_draft, source).code == 0
    target = tmp_path / "out"
    sidecar = target / "large.bin.nrpfiles-partial.json"

    monkeypatch.setattr(parallel, "_wait_all", ctrl_c_once(lambda: saved_bytes(sidecar) > 0))
    result = ranged_run("download", ranged_draft, "-o", target)
    assert result.code == 130 and "interrupted" in result.err
    monkeypatch.setattr(parallel, "_wait_all", REAL_WAIT_ALL)

    again = ranged_run("download", ranged_draft, "-o", target)
    assert again.code == 0, again.err
    assert "resuming large.bin:" in again.err
    assert (target / "large.bin").read_bytes() == source.read_bytes()
    assert sorted(p.name for p in target.iterdir()) == ["large.bin"]


@pytest.mark.parametrize("command", ["upload", "sync"])
def test_an_interrupted_upload_resumes_and_says_so(
    ranged_run, ranged_draft, tmp_path, monkeypatch, command
):
    folder = tmp_path / "in"
    folder.mkdir()
    # Large enough for auto to send it in parts: 64 MiB and more.
    (folder / "large.bin").write_bytes(bytes(range(256)) * (64 * MIB // 256))
    arguments = (
        ("upload", ranged_draft, folder / "large.bin")
        if command == "upload"
        else ("sync", folder, ranged_draft)
    )

    def journaled():
        folder_ = journal_directory()
        return folder_.exists() and any(folder_.glob("*.json"))

    monkeypatch.setattr(parallel, "_wait_all", ctrl_c_once(journaled))
    result = ranged_run(*arguments)
    assert result.code == 130 and "interrupted" in result.err
    monkeypatch.setattr(parallel, "_wait_all", REAL_WAIT_ALL)

    again = ranged_run(*arguments)
    assert again.code == 0, again.err
    assert "resuming large.bin:" in again.err
    listed = ranged_run("ls", ranged_draft, "--json").json()
    assert [(f["key"], f["status"]) for f in listed] == [("large.bin", "completed")]
    assert not any(journal_directory().glob("*.json"))
