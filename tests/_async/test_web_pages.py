"""Records and files named by their web pages, as a browser shows them, against the local repository."""

from __future__ import annotations

from nrpfiles.streams import MemorySink
from tests._async.conftest import PUBLISHABLE


async def test_a_draft_and_a_published_record_by_their_web_pages(client):
    draft = await client.records.create(PUBLISHABLE)
    await client.files.upload(draft, "data/a b.csv", {}, b"1,2\n")
    assert draft.links.self_html and "/api/" not in draft.links.self_html
    assert (await client.files.list(draft.links.self_html)).keys() == {"data/a b.csv": None}.keys()
    await client.files.upload(draft.links.self_html, "more.txt", {}, b"more")

    published = await client.records.publish(draft)
    page = published.links.self_html
    assert (await client.records.read(page)).id == published.id
    assert sorted((await client.files.list(page)).keys()) == ["data/a b.csv", "more.txt"]
    file_page = f"{page}/files/data/a%20b.csv?download=1"
    assert (await client.files.read(file_page)).key == "data/a b.csv"
    sink = await client.files.download(file_page, MemorySink())
    assert sink.data == b"1,2\n"
