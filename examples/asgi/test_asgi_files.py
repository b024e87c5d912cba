"""The ASGI example against the local repository, through httpx's ASGI transport."""

import hashlib
import os

import httpx
import pytest
import pytest_asyncio
from asgi_files import create_app

from nrpfiles import Client
from nrpfiles.streams import MemorySink

pytestmark = pytest.mark.asyncio  # also where pytest-asyncio is not in auto mode


@pytest_asyncio.fixture
async def browser(local_repository):
    app = create_app(
        {"NRPFILES_URL": local_repository.url, "NRPFILES_TOKEN": local_repository.token}
    )
    transport = httpx.ASGITransport(app=app)
    # the app's lifespan context: the shared client opens and closes, as at a
    # server's startup and shutdown
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser,
    ):
        yield browser
    assert app.state.nrpfiles._http._client.is_closed  # shutdown closed its connections


@pytest.fixture
def check_client(local_repository):
    with Client(local_repository.url, token=local_repository.token) as client:
        yield client


def uploaded_record(response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/records/")[1].split("/")[0]


async def upload(browser, name, data, **form):
    return await browser.post("/upload", files={"file": (name, data)}, data=form)


@pytest.mark.parametrize("size", [100_000, 3 << 20], ids=["small", "spooled-by-starlette"])
async def test_a_browser_upload_goes_into_a_new_draft(browser, check_client, size):
    data = os.urandom(size)
    record_id = uploaded_record(await upload(browser, "measurements.bin", data))
    listing = (await browser.get(f"/records/{record_id}/files")).json()
    assert listing["files"] == [
        {"key": "measurements.bin", "size": size, "checksum": "md5:" + hashlib.md5(data).hexdigest()}
    ]
    assert check_client.files.download(record_id, "measurements.bin", MemorySink()).data == data


async def test_a_second_file_goes_into_the_same_draft(browser):
    record_id = uploaded_record(await upload(browser, "a.txt", b"first"))
    await upload(browser, "b.txt", b"second", record=record_id)
    files = (await browser.get(f"/records/{record_id}/files")).json()["files"]
    assert sorted(f["key"] for f in files) == ["a.txt", "b.txt"]


async def test_a_file_is_streamed_to_the_browser(browser):
    data = os.urandom(5 << 20)
    record_id = uploaded_record(await upload(browser, "big.bin", data))
    async with browser.stream("GET", f"/records/{record_id}/files/big.bin") as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(data))
        assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''big.bin"
        chunks = [chunk async for chunk in response.aiter_bytes()]
    assert b"".join(chunks) == data


async def test_missing_things_are_404(browser):
    assert (await browser.get("/records/nosuch/files")).status_code == 404
    assert (await upload(browser, "a.txt", b"x", record="nosuch")).status_code == 404
    record_id = uploaded_record(await upload(browser, "a.txt", b"x"))
    assert (await browser.get(f"/records/{record_id}/files/other.txt")).status_code == 404


async def test_the_form_posts_a_file(browser):
    page = await browser.get("/")
    assert page.status_code == 200 and 'type="file"' in page.text
