# Generated from tests/_async/test_discovery.py by scripts/gen_sync.py: do not edit.
# body-sha256: db06035cf02549e4386f9efba4092491aab68e99f72a23988713aa699de71c47
"""Discovery: NRP's well-known document, plain InvenioRDM's generator tag, API URLs."""

from __future__ import annotations

import pytest

from nrpfiles import Client, RetryPolicy, get_sync_client
from nrpfiles.errors import RepositoryCommunicationError

ROOT = "https://repo.example.org"
NO_WAIT = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=False)


def nrp_document(api: str) -> dict:
    return {
        "name": "Test NRP",
        "version": "1.0",
        "invenio_version": "13.0",
        "transfers": ["L", "M", "F"],
        "links": {"self": f"{ROOT}/.well-known/repository", "api": api, "models": f"{api}/models"},
    }


def test_nrp_repository_is_found_from_its_well_known_document(respx_mock):
    route = respx_mock.get(f"{ROOT}/.well-known/repository").respond(
        200, json=nrp_document(f"{ROOT}/api")
    )
    client = get_sync_client(ROOT, retry=NO_WAIT)
    with client:
        info = client.info()
        again = client.info()
    assert info is again
    assert route.call_count == 1  # cached per client
    assert info.kind == "nrp"
    assert info.api_url == f"{ROOT}/api"
    assert info.transfers == ("L", "M", "F")
    assert info.name == "Test NRP"


def test_plain_invenio_13_offers_local_and_multipart(respx_mock):
    respx_mock.get(f"{ROOT}/.well-known/repository").respond(404, text="Not Found")
    respx_mock.get(f"{ROOT}/").respond(
        200, text='<html><head><meta name="generator" content="InvenioRDM 13.0"/></head></html>'
    )
    with Client(ROOT, retry=NO_WAIT) as client:
        info = client.info()
    assert info.kind == "invenio-rdm"
    assert info.api_url == f"{ROOT}/api"
    assert info.invenio_version == "13.0"
    assert info.transfers == ("L", "M")


def test_older_invenio_offers_local_only(respx_mock):
    respx_mock.get(f"{ROOT}/.well-known/repository").respond(404)
    respx_mock.get(f"{ROOT}/").respond(
        200, text='<meta name="generator" content="InvenioRDM 12.0.3">'
    )
    with Client(ROOT, retry=NO_WAIT) as client:
        info = client.info()
    assert info.transfers == ("L",)


def test_an_api_url_given_directly_is_used_as_the_api_base(respx_mock):
    respx_mock.get(f"{ROOT}/sub/.well-known/repository").respond(404)
    respx_mock.get(f"{ROOT}/sub/").respond(200, text="<html>no generator here</html>")
    with Client(f"{ROOT}/sub/api/", retry=NO_WAIT) as client:
        info = client.info()
    assert info.root_url == f"{ROOT}/sub"
    assert info.api_url == f"{ROOT}/sub/api"
    assert info.transfers == ("L",)


def test_an_unreachable_repository_fails_discovery_loudly(respx_mock):
    import httpx

    respx_mock.get(f"{ROOT}/.well-known/repository").mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(RepositoryCommunicationError):
        get_sync_client(ROOT, retry=NO_WAIT)


def test_a_session_cookie_from_the_home_page_is_never_sent_back(respx_mock):
    """InvenioRDM holds a request with its session cookie to CSRF rules (400), token or not."""
    respx_mock.get(f"{ROOT}/.well-known/repository").respond(404)
    respx_mock.get(f"{ROOT}/").respond(
        200,
        text='<meta name="generator" content="InvenioRDM 14.0">',
        headers={"Set-Cookie": "session=abc; Path=/; HttpOnly"},
    )
    records = respx_mock.get(f"{ROOT}/api/records").respond(200, json={"hits": {"hits": []}})
    client = get_sync_client(ROOT, token="t", retry=NO_WAIT)
    with client:
        client.records.search()
    assert "cookie" not in records.calls.last.request.headers
