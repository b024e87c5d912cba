"""docs/records.md's examples run as written against the local repository as NRP."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import nrpfiles
from nrpfiles import Record, Request

DOC = Path(__file__).resolve().parent.parent / "docs" / "records.md"
METADATA = {
    "title": "Soil samples 2024",
    "resource_type": {"id": "dataset"},
    "publication_date": "2024-05-01",
    "creators": [
        {"person_or_org": {"type": "personal", "family_name": "Nováková", "given_name": "Jana"}}
    ],
}


def block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return next(code for code in blocks if containing in code)


def localised(code: str, repository) -> str:
    code = code.replace('"https://my-repository.org"', repr(repository.url))
    return code.replace('token="..."', f"token={repository.token!r}")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samples.csv").write_text("site,ph\nA,6.5\nB,7.1\n")
    return tmp_path


def test_publishing_editing_and_new_versions_as_the_guide_shows(
    local_repository_factory, workdir, capsys
):
    repo = local_repository_factory(profile="nrp")
    namespace: dict = {"metadata": METADATA}
    exec(localised(block("outcome = client.records.publish(draft)"), repo), namespace)
    assert isinstance(namespace["outcome"], Record)
    assert capsys.readouterr().out.startswith("published ")
    namespace["published"] = namespace["outcome"]
    exec(block("client.records.edit(published)"), namespace)
    version = namespace["version"]
    assert isinstance(version, Record) and version.is_draft
    assert list(version.files.entries) == ["samples.csv"]
    namespace["client"].close()


def test_waiting_for_a_review_as_the_guide_shows(local_repository_factory, workdir, monkeypatch):
    repo = local_repository_factory(profile="nrp", publish_review=True)
    reviewer = nrpfiles.get_sync_client(repo.url, token=repo.add_user("reviewer"))
    client = nrpfiles.get_sync_client(repo.url, token=repo.token)
    draft = client.records.create({"metadata": METADATA})
    client.files.upload(draft, "samples.csv", {}, "samples.csv")
    waits: list[float] = []

    def review_meanwhile(seconds: float) -> None:
        """The reviewer decides while the script sleeps."""
        waits.append(seconds)
        (waiting,) = reviewer.requests.search(status="submitted")
        reviewer.requests.accept(waiting)

    monkeypatch.setattr(time, "sleep", review_meanwhile)
    namespace = {"client": client, "draft": draft, "Request": Request}
    exec(block("while isinstance(request, Request)"), namespace)
    assert waits == [60]
    assert namespace["request"].status == "accepted"
    assert namespace["published"].is_published and namespace["published"].id == draft.id
    client.close()
    reviewer.close()
