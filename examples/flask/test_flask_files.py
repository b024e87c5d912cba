"""The Flask example against the local repository, through Flask's own test client."""

import hashlib
import io
import os

import pytest
from flask_files import create_app

from nrpfiles.streams import MemorySink


@pytest.fixture
def app(local_repository):
    app = create_app(
        {
            "TESTING": True,
            "NRPFILES_URL": local_repository.url,
            "NRPFILES_TOKEN": local_repository.token,
        }
    )
    yield app
    app.extensions["nrpfiles"].close()


@pytest.fixture
def browser(app):
    return app.test_client()


def uploaded_record(response) -> str:
    assert response.status_code == 302, response.data
    return response.headers["Location"].split("/records/")[1].split("/")[0]


@pytest.mark.parametrize("size", [100_000, 3 << 20], ids=["small", "spooled-by-werkzeug"])
def test_a_browser_upload_goes_into_a_new_draft(app, browser, size):
    data = os.urandom(size)
    response = browser.post(
        "/upload",
        data={"file": (io.BytesIO(data), "measurements.bin")},
        content_type="multipart/form-data",
    )
    record_id = uploaded_record(response)
    listing = browser.get(f"/records/{record_id}/files").get_json()
    assert listing["files"] == [
        {"key": "measurements.bin", "size": size, "checksum": "md5:" + hashlib.md5(data).hexdigest()}
    ]
    client = app.extensions["nrpfiles"]
    assert client.files.download(record_id, "measurements.bin", MemorySink()).data == data


def test_a_second_file_goes_into_the_same_draft(browser):
    first = browser.post("/upload", data={"file": (io.BytesIO(b"first"), "a.txt")})
    record_id = uploaded_record(first)
    browser.post("/upload", data={"record": record_id, "file": (io.BytesIO(b"second"), "b.txt")})
    files = browser.get(f"/records/{record_id}/files").get_json()["files"]
    assert sorted(f["key"] for f in files) == ["a.txt", "b.txt"]


def test_a_file_is_streamed_to_the_browser(app, browser):
    data = os.urandom(5 << 20)
    record_id = uploaded_record(browser.post("/upload", data={"file": (io.BytesIO(data), "big.bin")}))
    response = browser.get(f"/records/{record_id}/files/big.bin", buffered=False)
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''big.bin"
    assert b"".join(response.response) == data
    response.close()


def test_missing_things_are_404(browser):
    assert browser.get("/records/nosuch/files").status_code == 404
    missing_draft = {"record": "nosuch", "file": (io.BytesIO(b"x"), "a.txt")}
    assert browser.post("/upload", data=missing_draft).status_code == 404
    record_id = uploaded_record(browser.post("/upload", data={"file": (io.BytesIO(b"x"), "a.txt")}))
    assert browser.get(f"/records/{record_id}/files/other.txt").status_code == 404


def test_the_form_posts_a_file(browser):
    page = browser.get("/")
    assert page.status_code == 200 and b'type="file"' in page.data
