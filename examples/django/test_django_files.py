"""The Django example against the local repository, through Django's own test client."""

import hashlib
import io
import os

import django
import pytest
from django.conf import settings
from django.test import Client, override_settings

if not settings.configured:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_files.settings")
django.setup()

from django_files import settings as site_settings  # noqa: E402
from django_files.repository import forget_repository  # noqa: E402

from nrpfiles.streams import MemorySink  # noqa: E402


@pytest.fixture
def browser(local_repository):
    values = {name: getattr(site_settings, name) for name in dir(site_settings) if name.isupper()}
    values.update(NRPFILES_URL=local_repository.url, NRPFILES_TOKEN=local_repository.token)
    with override_settings(**values):
        yield Client()
        forget_repository()


def form_file(name: str, data: bytes) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def uploaded_record(response) -> str:
    assert response.status_code == 302, response.content
    return response["Location"].split("/records/")[1].split("/")[0]


@pytest.mark.parametrize("size", [100_000, 3 << 20], ids=["in-memory", "temporary-file"])
def test_a_browser_upload_goes_into_a_new_draft(browser, size):
    data = os.urandom(size)
    response = browser.post("/upload", {"file": form_file("measurements.bin", data)})
    record_id = uploaded_record(response)
    listing = browser.get(f"/records/{record_id}/files").json()
    assert listing["files"] == [
        {
            "key": "measurements.bin",
            "size": size,
            "checksum": "md5:" + hashlib.md5(data).hexdigest(),
        }
    ]
    from django_files.repository import repository

    stored = repository().files.download(record_id, "measurements.bin", MemorySink())
    assert stored.data == data


def test_a_second_file_goes_into_the_same_draft(browser):
    record_id = uploaded_record(browser.post("/upload", {"file": form_file("a.txt", b"first")}))
    browser.post("/upload", {"record": record_id, "file": form_file("b.txt", b"second")})
    keys = [f["key"] for f in browser.get(f"/records/{record_id}/files").json()["files"]]
    assert sorted(keys) == ["a.txt", "b.txt"]


def test_a_file_is_streamed_to_the_browser(browser):
    from nrpfiles import FileReader

    data = os.urandom(5 << 20)
    record_id = uploaded_record(browser.post("/upload", {"file": form_file("big.bin", data)}))
    response = browser.get(f"/records/{record_id}/files/big.bin")
    assert response.status_code == 200 and response.streaming
    # the response reads the repository's stream itself: no file between
    readers = [c.__self__ for c in response._resource_closers if hasattr(c, "__self__")]
    readers = [r for r in readers if isinstance(r, FileReader)]
    assert len(readers) == 1
    assert response["Content-Length"] == str(len(data))
    assert 'filename="big.bin"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == data
    response.close()
    assert readers[0].closed


def test_missing_things_are_404(browser):
    assert browser.get("/records/nosuch/files").status_code == 404
    missing_draft = {"record": "nosuch", "file": form_file("a.txt", b"x")}
    assert browser.post("/upload", missing_draft).status_code == 404
    record_id = uploaded_record(browser.post("/upload", {"file": form_file("a.txt", b"x")}))
    assert browser.get(f"/records/{record_id}/files/other.txt").status_code == 404


def test_the_form_carries_a_csrf_token(browser):
    page = browser.get("/")
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content
