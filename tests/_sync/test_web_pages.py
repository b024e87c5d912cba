# Generated from tests/_async/test_web_pages.py by scripts/gen_sync.py: do not edit.
# body-sha256: 2903a4acbf52339cf4f4adb6ea8cb7c05dd390b141a4846176c6f82ea76a1477
"""Records and files named by their web pages, as a browser shows them, against the local repository."""

from __future__ import annotations

from nrpfiles.streams import MemorySink
from tests._sync.conftest import PUBLISHABLE


def test_a_draft_and_a_published_record_by_their_web_pages(client):
    draft = client.records.create(PUBLISHABLE)
    client.files.upload(draft, "data/a b.csv", {}, b"1,2\n")
    assert draft.links.self_html and "/api/" not in draft.links.self_html
    assert (client.files.list(draft.links.self_html)).keys() == {"data/a b.csv": None}.keys()
    client.files.upload(draft.links.self_html, "more.txt", {}, b"more")

    published = client.records.publish(draft)
    page = published.links.self_html
    assert (client.records.read(page)).id == published.id
    assert sorted((client.files.list(page)).keys()) == ["data/a b.csv", "more.txt"]
    file_page = f"{page}/files/data/a%20b.csv?download=1"
    assert (client.files.read(file_page)).key == "data/a b.csv"
    sink = client.files.download(file_page, MemorySink())
    assert sink.data == b"1,2\n"
