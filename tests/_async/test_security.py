"""Nothing leaked: the token stays with the repository's origin and out of every text."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import random
import shutil
import ssl
import stat
import subprocess
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nrpfiles import AsyncClient, RetryPolicy
from nrpfiles.config import save_repository
from nrpfiles.errors import RepositoryCommunicationError, RepositoryError
from nrpfiles.models import Record, structure
from nrpfiles.streams import MemorySink
from tests.static_server import serve_directory

MIB = 1 << 20
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.05)
NO_WAIT = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=False)


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


# -- the token goes to the repository's origin only -----------------------------------


async def test_downloads_redirected_to_storage_on_another_port_carry_no_token(
    local_repository_factory,
):
    repo = local_repository_factory(storage_redirect=True)
    data = random.Random(5).randbytes(3 * MIB)
    async with AsyncClient(repo.url, token=repo.token, retry=FAST) as client:
        draft = await client.records.create({"metadata": {"title": "Redirected"}})
        file = await client.files.upload(draft, "a.bin", {}, data)
        for parts in (None, 3):
            sink = await client.files.download(file, MemorySink(), parts=parts)
            assert sink.data == data
        # also while the storage answers errors and cuts bodies short
        repo.faults.configure(seed=1, error_rate=0.2, cut_after_bytes=MIB, cut_rate=0.5)
        try:
            sink = await client.files.download(file, MemorySink(), parts=3)
        finally:
            injected = repo.faults.injected
            repo.faults.clear()
        assert sink.data == data and sum(injected.values()) > 0
        assert repo.token_violations == 0

        # The storage counts a token it is sent: the check above can fail.
        answer = await client._http._client.get(
            file.links.content, headers={"Authorization": f"Bearer {repo.token}"}
        )
        location = answer.headers["Location"]
        await client._http._client.get(location, headers={"Authorization": "Bearer x"})
        assert repo.token_violations == 1


async def test_url_fetch_and_remote_sources_never_see_the_token(local_repository_factory, tmp_path):
    # InvenioRDM lets only administrators create F and R files: a repository that allows them
    repo = local_repository_factory(
        transfers=("L", "M", "F", "R"), fetch_allowed_domains=("127.0.0.1", "localhost")
    )
    data = b"fetched from elsewhere" * 1000
    (tmp_path / "data.bin").write_bytes(data)
    async with AsyncClient(repo.url, token=repo.token, retry=FAST) as client:
        draft = await client.records.create({"metadata": {"title": "Fetched"}})
        await _fetch_and_remote(client, draft, tmp_path, data)


async def _fetch_and_remote(client, draft, tmp_path, data):
    with serve_directory(tmp_path) as (base, seen_authorization):
        fetched = await client.files.upload(draft, "fetched.bin", {}, f"{base}/data.bin")
        assert fetched.status == "completed" and fetched.checksum == md5(data)
        await client.files.upload(
            draft,
            "remote.bin",
            {},
            f"{base}/data.bin",
            "remote",
            {"size": len(data), "checksum": md5(data)},
        )
        # a remote file's content is a redirect to its source
        sink = await client.files.download(draft, "remote.bin", MemorySink())
        assert sink.data == data
    assert seen_authorization == []


STORAGE = "https://storage.example.net"
MOCK_ROOT = "https://repo.example.org"
MOCK_FILES = f"{MOCK_ROOT}/api/records/abc/draft/files"


async def test_part_urls_on_another_host_get_no_token(respx_mock):
    data = bytes(range(256)) * (20 * MIB // 256)
    part_size = 5 * MIB
    links = {"self": f"{MOCK_FILES}/big.bin", "commit": f"{MOCK_FILES}/big.bin/commit"}
    parts = [
        {"part": n, "url": f"{STORAGE}/upload/{n}?X-Signature=abc", "expiration": None}
        for n in range(1, 5)
    ]
    entry = {"key": "big.bin", "status": "pending", "links": {**links, "parts": parts}}
    completed = {
        "key": "big.bin",
        "status": "completed",
        "size": len(data),
        "checksum": md5(data),
        "links": links,
    }
    respx_mock.get(f"{MOCK_ROOT}/.well-known/repository").respond(
        200, json={"transfers": ["L", "M"], "links": {"api": f"{MOCK_ROOT}/api"}}
    )
    api = respx_mock.post(MOCK_FILES).respond(201, json={"entries": [entry]})
    storage = respx_mock.put(url__startswith=f"{STORAGE}/upload/").respond(200)
    commit = respx_mock.post(f"{MOCK_FILES}/big.bin/commit").respond(200, json=completed)
    draft = structure({"id": "abc", "is_draft": True, "links": {"files": MOCK_FILES}}, Record)
    async with AsyncClient(MOCK_ROOT, token="part-token", retry=NO_WAIT) as client:
        await client.files.upload(draft, "big.bin", {}, data, "multipart", {"part_size": part_size})
    assert storage.call_count == 4
    assert all("Authorization" not in call.request.headers for call in storage.calls)
    assert api.calls.last.request.headers["Authorization"] == "Bearer part-token"
    assert commit.calls.last.request.headers["Authorization"] == "Bearer part-token"


# -- TLS ------------------------------------------------------------------------------


async def test_tls_verification_is_on_by_default():
    async with AsyncClient("https://repo.example.org", token="t") as client:
        context = client._http._client._transport._pool._ssl_context
        assert client.config.verify_tls is True
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    async with AsyncClient("https://repo.example.org", token="t", verify_tls=False) as client:
        context = client._http._client._transport._pool._ssl_context
        assert context.verify_mode == ssl.CERT_NONE


@contextmanager
def self_signed_https_server(directory: Path) -> Iterator[str]:
    """An https server on loopback whose certificate nobody trusts."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the refused handshakes are the point

    server = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_an_untrusted_certificate_is_refused(tmp_path):
    with self_signed_https_server(tmp_path) as url:
        async with AsyncClient(url, token="t", retry=NO_WAIT) as client:
            with pytest.raises(RepositoryCommunicationError, match="CERTIFICATE_VERIFY_FAILED"):
                await client._http.request("GET", f"{url}/api/records")
        async with AsyncClient(url, token="t", retry=NO_WAIT, verify_tls=False) as client:
            response = await client._http.request("GET", f"{url}/api/records")
            assert response.status_code == 200


# -- the configuration file -----------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
async def test_the_configuration_file_is_readable_by_its_owner_only(tmp_path):
    previous = os.umask(0)  # even a permissive umask must not widen it
    try:
        written = save_repository(
            "local", "https://repo.example.org", token="t0k3n", path=tmp_path / "new" / "c.json"
        )
        existing = tmp_path / "existing.json"
        existing.write_text("{}")
        existing.chmod(0o644)
        rewritten = save_repository(
            "local", "https://repo.example.org", token="t0k3n", path=existing
        )
        default = save_repository("other", "https://repo.example.org", token="t0k3n")
    finally:
        os.umask(previous)
    for path in (written, rewritten, default):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o700


# -- no token in logs, reprs or error texts -------------------------------------------


async def test_no_token_in_logs_reprs_or_errors_through_a_fault_run(
    local_repository_factory, caplog, tmp_path
):
    repo = local_repository_factory(storage_redirect=True)
    token = repo.token
    texts: list[str] = []

    def remember(error: BaseException) -> None:
        texts.append("".join(traceback.format_exception(type(error), error, error.__traceback__)))
        texts.append(repr(error))

    caplog.set_level(logging.DEBUG)
    data = random.Random(9).randbytes(11 * MIB)
    async with AsyncClient(repo.url, token=token, retry=FAST) as client:
        texts += [repr(client), str(client), repr(client._http), repr(client.config)]
        draft = await client.records.create({"metadata": {"title": "Leak hunt"}})
        texts += [repr(draft)]
        repo.faults.configure(
            seed=2, error_rate=0.15, retry_after=0.01, cut_after_bytes=MIB, cut_rate=0.3
        )
        try:
            small = await client.files.upload(draft, "small.bin", {}, data[: MIB // 2])
            large = await client.files.upload(
                draft, "large.bin", {}, data, "multipart", {"part_size": 5 * MIB}
            )
            texts += [repr(small), repr(large)]
            await client.files.download(large, tmp_path / "large.bin", parts=3)
            await client.files.download(small, tmp_path / "small.bin")
            repo.faults.configure(error_rate=1.0, error_status=429, retry_after=0.01)
            with pytest.raises(RepositoryError) as rate_limited:
                await client.files.upload(draft, "never.bin", {}, b"x")
            remember(rate_limited.value)
        finally:
            injected = repo.faults.injected
            repo.faults.clear()
        for failing in (
            lambda: client.files.read(draft, "missing.bin"),
            lambda: client.files.download(large, MemorySink(), part_size=MIB // 4),
            lambda: client.records.read("no-such-record"),
        ):
            with pytest.raises(Exception) as caught:
                await failing()
            remember(caught.value)

    intruder_token = "intruder-" + os.urandom(8).hex()
    async with AsyncClient(repo.url, token=intruder_token, retry=FAST) as intruder:
        with pytest.raises(RepositoryError) as refused:
            await intruder.files.list(draft)
        remember(refused.value)

    assert (tmp_path / "large.bin").read_bytes() == data
    assert sum(injected.values()) > 0
    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert {"nrpfiles", "httpx", "httpcore"} <= loggers
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    texts.append(caplog.text)
    leaks = [text for text in texts if token in text or intruder_token in text]
    assert leaks == []
