"""Deletes of one draft's files that overlap: InvenioRDM 14 takes one and refuses the others.

It saves the draft under a version check on every delete; a delete or an entry
creation of the same draft meanwhile fails. Whether two requests overlap is a
matter of timing, so the case for every server holds only what is true either
way; the local repository's cases hold a delete open long enough to be sure.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.server.conftest import client_for, create_draft, files_url, upload

NOT_A_VALID_VALUE = {"status": 400, "message": "Not a valid value."}


def delete_together(api: httpx.Client, urls: list[str]) -> list[httpx.Response]:
    start = threading.Barrier(len(urls))
    answers: list[Any] = [None] * len(urls)

    def delete(index: int) -> None:
        start.wait(timeout=30)
        answers[index] = api.delete(urls[index])

    threads = [threading.Thread(target=delete, args=(n,)) for n in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def test_deletes_sent_together_each_delete_or_are_refused_leaving_their_file(
    api: httpx.Client,
) -> None:
    draft = create_draft(api)  # with a resource type: refusals say "Not a valid value."
    base = files_url(draft["id"])
    keys = [f"f{n}.txt" for n in range(6)]
    for key in keys:
        upload(api, draft["id"], key, key.encode())
    answers = delete_together(api, [f"{base}/{key}" for key in keys])
    refused = [key for key, answer in zip(keys, answers, strict=True) if answer.status_code != 204]
    assert len(refused) < len(keys)
    for key, answer in zip(keys, answers, strict=True):
        if key in refused:
            assert (answer.status_code, answer.json()) == (400, NOT_A_VALID_VALUE)
    assert sorted(entry["key"] for entry in api.get(base).json()["entries"]) == refused
    assert all(api.delete(f"{base}/{key}").status_code == 204 for key in refused)


@pytest.mark.parametrize(
    ("metadata", "refusal"),
    [
        ({}, (500, None)),
        ({"resource_type": {"id": "dataset"}}, (400, NOT_A_VALID_VALUE)),
    ],
)
def test_a_delete_meeting_a_delete_of_the_same_draft_is_refused(
    local_repository_factory: Any, metadata: dict[str, Any], refusal: tuple[int, Any]
) -> None:
    repo = local_repository_factory(delete_save_seconds=1.0)
    with client_for(repo) as api, client_for(repo) as other:
        record = api.post("/records", json={"metadata": {"title": "t", **metadata}}).json()
        base = files_url(record["id"])
        for key in ("a", "b", "c"):
            upload(api, record["id"], key, b"x")
        elsewhere = files_url(create_draft(api)["id"])
        upload(api, elsewhere.split("/")[2], "e", b"x")
        holding = threading.Thread(target=lambda: api.delete(f"{base}/a"))
        holding.start()
        time.sleep(0.3)
        second = other.delete(f"{base}/b")
        created = other.post(base, json=[{"key": "d"}])
        other_draft = other.delete(f"{elsewhere}/e")
        holding.join(30)
        assert second.status_code == refusal[0]
        if refusal[1] is not None:
            assert second.json() == refusal[1]
        assert created.status_code == 500
        assert other_draft.status_code == 204  # only the same draft's changes are refused
        # once the first delete is done, the draft takes both
        assert [e["key"] for e in api.get(base).json()["entries"]] == ["b", "c"]
        assert api.post(base, json=[{"key": "d"}]).status_code == 201
        assert api.delete(base).status_code == 204


def test_without_a_save_time_deletes_never_meet(local_repository_factory: Any) -> None:
    repo = local_repository_factory(delete_save_seconds=0)
    with client_for(repo) as api:
        draft = create_draft(api)
        base = files_url(draft["id"])
        keys = [f"f{n}" for n in range(8)]
        for key in keys:
            upload(api, draft["id"], key, b"x")
        answers = delete_together(api, [f"{base}/{key}" for key in keys])
        assert [answer.status_code for answer in answers] == [204] * len(keys)
