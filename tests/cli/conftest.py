"""Running ``nrpfiles`` in-process against the local repository, with a private configuration."""

from __future__ import annotations

import json

import attrs
import pytest

from nrpfiles.cli import main

METADATA = {
    "metadata": {
        "title": "CLI dataset",
        "resource_type": {"id": "dataset"},
        "publication_date": "2024-01-15",
        "creators": [
            {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
        ],
    }
}


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def private_configuration(tmp_path, monkeypatch):
    """No user's configuration or environment leaks into a test, nor out of it."""
    for name in ("NRPFILES_URL", "NRPFILES_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NRPFILES_CONFIG", str(tmp_path / "config" / "nrpfiles.json"))
    monkeypatch.setenv("NRP_CMD_CONFIG_PATH", str(tmp_path / "config" / "nrp-cmd.json"))
    monkeypatch.setenv("NRPFILES_NO_PROGRESS", "1")


@pytest.fixture
def run(capsys):
    def invoke(*arguments: str) -> Result:
        capsys.readouterr()
        code = main([str(argument) for argument in arguments])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def repo_run(run, local_repository):
    """``nrpfiles -r URL --token T ...`` against the local repository."""

    def invoke(*arguments: str) -> Result:
        return run("-r", local_repository.url, "--token", local_repository.token, *arguments)

    return invoke


@pytest.fixture
def metadata_file(tmp_path):
    path = tmp_path / "record.json"
    path.write_text(json.dumps(METADATA))
    return path


@pytest.fixture
def draft_id(repo_run, metadata_file):
    result = repo_run("records", "create", "--metadata", metadata_file, "--json")
    assert result.code == 0, result.err
    return result.json()["id"]


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.csv").write_bytes(b"a,b\n1,2\n")
    (root / "notes.txt").write_bytes(b"notes")
    (root / "sub" / "b.csv").write_bytes(b"x,y\n")
    return root
