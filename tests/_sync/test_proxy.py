# Generated from tests/_async/test_proxy.py by scripts/gen_sync.py: do not edit.
# body-sha256: 5bad86539d00da870483304e6ef92b8f52b00ce53e9b18d444a51fe58b2b15d6
"""Requests through a real forward proxy on loopback: from the environment, ``proxy=``, the file.

The proxy (proxy.py, started once per session) demands credentials and logs
every request it forwards, with the Authorization header it saw, so each case
can say which requests went through it and what they carried.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import trustme

from nrpfiles import Client, RepositoryCommunicationError, RetryPolicy, get_sync_client
from nrpfiles._transport import LargeReadBackend, _LargeReadStream
from nrpfiles.streams import MemorySink
from tests.conftest import PROXY_CREDENTIALS

MIB = 1 << 20
FAST = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05)
DRAFT = {"metadata": {"title": "Through the proxy"}}
PROXY_PASSWORD = PROXY_CREDENTIALS.split(":", 1)[1]


def port_of(url: str | None) -> int:
    assert url is not None
    port = httpx.URL(url).port
    assert port is not None
    return port


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def round_trip(client: Client, data: bytes) -> None:
    draft = client.records.create(DRAFT)
    file = client.files.upload(draft, "data.bin", {}, data)
    assert (client.files.download(file, MemorySink())).data == data


def test_environment_proxy_carries_uploads_downloads_and_storage_redirects(
    local_repository_factory, http_proxy, monkeypatch, caplog
):
    repo = local_repository_factory(storage_redirect=True)
    monkeypatch.setenv("HTTP_PROXY", http_proxy.url)
    connections = []
    connect_tcp = LargeReadBackend.connect_tcp

    def counted_connect_tcp(self, host, port, *args, **kwargs):
        connections.append((host, port))
        return connect_tcp(self, host, port, *args, **kwargs)

    monkeypatch.setattr(LargeReadBackend, "connect_tcp", counted_connect_tcp)
    caplog.set_level(logging.DEBUG)
    small = random.Random(1).randbytes(3 * MIB)
    large = random.Random(2).randbytes(12 * MIB)
    with Client(repo.url, token=repo.token, retry=FAST) as client:
        draft = client.records.create(DRAFT)
        small_file = client.files.upload(draft, "small.bin", {}, small)
        large_file = client.files.upload(
            draft, "large.bin", {}, large, "multipart", {"part_size": 5 * MIB}
        )
        assert sorted(file.key for file in client.files.list(draft)) == [
            "large.bin",
            "small.bin",
        ]
        assert (client.files.download(small_file, MemorySink())).data == small
        assert (client.files.download(large_file, MemorySink(), parts=3)).data == large
        texts = [repr(client), repr(client.config), str(client.config)]

    forwarded = http_proxy.requests()
    to_api = [r for r in forwarded if r["port"] == port_of(repo.url)]
    to_storage = [r for r in forwarded if r["port"] == port_of(repo.storage_url)]
    assert len(to_api) + len(to_storage) == len(forwarded)
    # every request the repository answered came through the proxy
    assert len(to_api) == repo.stats["requests"]
    assert any(r["method"] == "PUT" and r["path"].endswith("/small.bin/content") for r in to_api)
    assert sum(r["method"] == "PUT" and "/large.bin/content/" in r["path"] for r in to_api) == 3
    assert len(to_storage) >= 2  # both downloads were redirected to storage, through the proxy
    assert {r["authorization"] for r in to_api} == {f"Bearer {repo.token}"}
    assert all(r["authorization"] is None for r in to_storage)
    assert all(r["proxy_authorization"] for r in forwarded)
    assert repo.token_violations == 0
    # the large-read backend made every connection, and each went to the proxy
    assert connections and set(connections) == {("127.0.0.1", port_of(http_proxy.url))}
    assert not any(PROXY_PASSWORD in text for text in [*texts, caplog.text])


def test_no_proxy_sends_the_hosts_it_names_straight(
    local_repository_factory, http_proxy, monkeypatch
):
    repo = local_repository_factory(storage_redirect=True)
    data = random.Random(3).randbytes(MIB)
    monkeypatch.setenv("HTTP_PROXY", http_proxy.url)
    # a host:port form: storage straight, the repository's API through the proxy
    monkeypatch.setenv("NO_PROXY", f"example.org, 127.0.0.1:{port_of(repo.storage_url)}")
    with Client(repo.url, token=repo.token, retry=FAST) as client:
        round_trip(client, data)
    ports = {r["port"] for r in http_proxy.requests()}
    assert ports == {port_of(repo.url)}
    assert repo.stats["requests"] == len(http_proxy.requests())

    http_proxy.forget()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with Client(repo.url, token=repo.token, retry=FAST) as client:
        round_trip(client, data)
    assert http_proxy.requests() == []

    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{unused_port()}")
    with Client(repo.url, token=repo.token, retry=FAST) as client:
        round_trip(client, data)


def test_all_proxy_alone_is_followed(local_repository_factory, http_proxy, monkeypatch):
    repo = local_repository_factory()
    monkeypatch.setenv("ALL_PROXY", http_proxy.url)
    with Client(repo.url, token=repo.token, retry=FAST) as client:
        round_trip(client, b"all of it")
    assert len(http_proxy.requests()) == repo.stats["requests"] > 0


def test_an_unreachable_environment_proxy_is_a_communication_error(
    local_repository_factory, monkeypatch
):
    repo = local_repository_factory()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{unused_port()}")
    with Client(repo.url, token=repo.token, retry=FAST) as client:
        with pytest.raises(RepositoryCommunicationError):
            client.records.create(DRAFT)
    assert repo.stats["requests"] == 0


def test_proxy_argument_and_configuration_file_win_over_the_environment(
    local_repository_factory, http_proxy, monkeypatch, isolated_configuration
):
    repo = local_repository_factory()
    unreachable = f"http://127.0.0.1:{unused_port()}"
    monkeypatch.setenv("HTTPS_PROXY", unreachable)
    monkeypatch.setenv("HTTP_PROXY", unreachable)
    with Client(repo.url, token=repo.token, retry=FAST, proxy=http_proxy.url) as client:
        round_trip(client, b"explicit")
    assert len(http_proxy.requests()) == repo.stats["requests"] > 0

    http_proxy.forget()
    monkeypatch.setenv("HTTP_PROXY", http_proxy.url)
    with Client(repo.url, token=repo.token, retry=FAST, proxy="") as client:
        round_trip(client, b"straight")
    assert http_proxy.requests() == []

    monkeypatch.setenv("HTTP_PROXY", unreachable)
    config_file = isolated_configuration / "nrpfiles.json"
    entry = {"alias": "behind", "url": repo.url, "token": repo.token, "proxy": http_proxy.url}
    config_file.write_text(json.dumps({"repositories": [entry]}))
    assert os.environ["NRPFILES_CONFIG"] == str(config_file)
    client = get_sync_client("behind", retry=FAST)
    with client:
        round_trip(client, b"from the file")
    assert {r["authorization"] for r in http_proxy.requests()} == {f"Bearer {repo.token}"}

    http_proxy.forget()
    client = get_sync_client(repo.url, token=repo.token, proxy=http_proxy.url)
    with client:
        round_trip(client, b"from get_async_client")
    assert http_proxy.requests()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def https_files(directory: Path, certificate: trustme.LeafCert) -> Iterator[str]:
    """Files over TLS on 127.0.0.1 while the block runs."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(directory))
    )
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_https_goes_through_a_connect_tunnel_with_large_reads(
    http_proxy, tmp_path, monkeypatch
):
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    data = random.Random(4).randbytes(8 * MIB)
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "data.bin").write_bytes(data)
    received = []
    read = _LargeReadStream.read

    def remembered_read(self, max_bytes, timeout=None):
        chunk = read(self, max_bytes, timeout)
        received.append(len(chunk))
        return chunk

    monkeypatch.setattr(_LargeReadStream, "read", remembered_read)
    monkeypatch.setenv("HTTPS_PROXY", http_proxy.url)
    with https_files(tmp_path / "files", authority.issue_cert("127.0.0.1")) as url:
        with Client(
            url, token="tunnelled-token", ca_bundle=str(tmp_path / "ca.pem"), retry=FAST
        ) as client:
            response = client._http.request("GET", f"{url}/data.bin")
    assert response.content == data
    # the proxy saw the tunnel being opened, and neither the path nor the token
    [tunnel] = http_proxy.requests()
    assert (tunnel["method"], tunnel["port"]) == ("CONNECT", port_of(url))
    assert tunnel["authorization"] is None and tunnel["proxy_authorization"]
    # the body came up through the large-read stream over the tunnel's TLS
    assert sum(received) >= len(data)
