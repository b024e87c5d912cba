# Generated from tests/_async/test_requests_local.py by scripts/gen_sync.py: do not edit.
# body-sha256: 72f69e70427f39092360b667139492b41cc697db934268aa8d9eaa4283f589f6
"""Publishing, editing and versioning through requests, against the local repository as NRP."""

from __future__ import annotations

import httpx
import pytest
import pytest

from nrpfiles import Client, Record, Request, RequestNotApplicable
from nrpfiles.streams import MemorySource
from tests._sync.conftest import FAST_RETRIES, PUBLISHABLE


@pytest.fixture
def nrp(local_repository_factory):
    return local_repository_factory(profile="nrp")


@pytest.fixture
def nrp_client(nrp):
    with Client(nrp.url, token=nrp.token, retry=FAST_RETRIES) as client:
        yield client


def _draft_with_a_file(client):
    draft = client.records.create(PUBLISHABLE)
    client.files.upload(draft, "data.txt", {}, MemorySource(b"measurements", "text/plain"))
    return draft


def test_publish_edit_and_new_version_go_through_requests(nrp_client):
    draft = _draft_with_a_file(nrp_client)
    published = nrp_client.records.publish(draft)
    assert isinstance(published, Record)
    assert published.is_published and published.id == draft.id

    edit = nrp_client.records.edit(published)
    assert isinstance(edit, Record) and edit.is_draft and edit.id == published.id
    # asking again while the draft is open hands the same draft back, as InvenioRDM does
    again = nrp_client.records.edit(published)
    assert isinstance(again, Record) and again.id == edit.id and again.is_draft
    edit.metadata["title"] = "Research Dataset 2024, corrected"
    edit = nrp_client.records.update(edit)
    republished = nrp_client.records.publish(edit)
    assert isinstance(republished, Record)
    assert republished.metadata["title"] == "Research Dataset 2024, corrected"

    version = nrp_client.records.new_version(republished, import_files=True)
    assert isinstance(version, Record)
    assert version.id != published.id and version.status == "new_version_draft"
    assert list(version.files.entries) == ["data.txt"]

    requests = nrp_client.requests.list(republished)
    kinds = [(r.type, r.status) for r in requests]
    assert kinds == [
        ("publish_draft", "accepted"),
        ("edit_published_record", "accepted"),
        ("publish_draft", "accepted"),
        ("new_version", "accepted"),
    ]
    assert all(not r.waiting for r in requests)


def test_direct_publish_is_refused_by_the_repository(nrp, nrp_client):
    draft = _draft_with_a_file(nrp_client)
    # the plain link is still on the draft, as on NRP, but not the caller's to use
    auth = {"Authorization": f"Bearer {nrp.token}"}
    assert httpx.post(draft.links.publish, headers=auth).status_code == 403
    published = nrp_client.records.publish(draft)
    assert isinstance(published, Record) and published.is_published


def test_a_review_returns_the_waiting_request(local_repository_factory):
    repo = local_repository_factory(profile="nrp", publish_review=True)
    with Client(repo.url, token=repo.token, retry=FAST_RETRIES) as owner:
        draft = _draft_with_a_file(owner)
        waiting = owner.records.publish(draft)
        assert isinstance(waiting, Request)
        assert waiting.type == "publish_draft" and waiting.status == "submitted"
        assert waiting.waiting and set(waiting.links.actions) == {"cancel"}
        # publishing again takes up the same request rather than making another
        assert (owner.records.publish(draft)).id == waiting.id
        with pytest.raises(ValueError, match="offers no accept"):
            owner.requests.accept(waiting)
        with pytest.raises(ValueError, match="not accepted"):
            owner.requests.record(waiting)
        reviewer_token = repo.add_user("reviewer")
        with Client(repo.url, token=reviewer_token, retry=FAST_RETRIES) as reviewer:
            seen = reviewer.requests.read(waiting.id)
            accepted = reviewer.requests.accept(seen)
        assert accepted.status == "accepted"
        checked = owner.requests.read(waiting)
        assert checked.status == "accepted" and not checked.waiting
        record = owner.requests.record(checked)
        assert record.is_published and record.id == draft.id


def test_requests_submit_decline_and_cancel(local_repository_factory):
    repo = local_repository_factory(profile="nrp", publish_review=True)
    with Client(repo.url, token=repo.token, retry=FAST_RETRIES) as owner:
        draft = _draft_with_a_file(owner)
        assert owner.requests.applicable(draft) == ["publish_draft"]
        created = owner.requests.create(draft, "publish_draft")
        assert created.status == "created"
        assert owner.requests.applicable(draft) == []
        with pytest.raises(RequestNotApplicable):
            owner.requests.create(draft, "publish_draft")
        submitted = owner.requests.submit(created)
        assert submitted.status == "submitted"
        with Client(
            repo.url, token=repo.add_user("reviewer"), retry=FAST_RETRIES
        ) as reviewer:
            declined = reviewer.requests.decline(submitted)
        assert declined.status == "declined"
        second = owner.requests.submit(owner.requests.create(draft, "publish_draft"))
        cancelled = owner.requests.cancel(second)
        assert cancelled.status == "cancelled"
        listed = owner.requests.list(draft.links.self_)
        assert [(r.id, r.status) for r in listed] == [
            (created.id, "declined"),
            (second.id, "cancelled"),
        ]
        still = owner.records.draft_records.read(draft)
        assert still.is_draft and not still.is_published


def test_publishing_lists_requests_only_where_they_publish(client, draft):
    """On plain InvenioRDM directly and without requests; on NRP through one the owner accepts."""
    client.files.upload(draft, "data.txt", {}, MemorySource(b"measurements", "text/plain"))
    published = client.records.publish(draft)
    assert isinstance(published, Record) and published.is_published
    through_requests = "requests" in (client.info()).links
    expected = [("publish_draft", "accepted")] if through_requests else []
    assert [(r.type, r.status) for r in client.requests.list(published)] == expected
