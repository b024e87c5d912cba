"""Profiles, and what the zenodo profile refuses and limits besides the rate: the
python-requests User-Agent, multipart after its init, 100 files and 50 GB a record.
Its rate limits are in ``test_zenodo_rate_limits``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from nrpfiles.cli import build_parser
from nrpfiles.cli.local import PROFILES as CLI_PROFILES
from nrpfiles.cli.local import serve_options
from nrpfiles.testing import LocalRepository
from nrpfiles.testing.profiles import (
    INVENIO,
    NRP,
    PROFILE_NAMES,
    ZENODO,
    profile_named,
)
from nrpfiles.testing.server.context import RepositoryConfig
from nrpfiles.testing.server.ratelimit import RateLimit

from .conftest import OCTET, client_for, create_draft, files_url

Factory = Callable[..., LocalRepository]
GB = 10**9


# the profiles ---------------------------------------------------------------------------
def test_the_default_profile_is_invenio_rdm_as_shipped() -> None:
    repo = LocalRepository()
    assert repo.config == RepositoryConfig() == INVENIO.config
    assert repo.config.profile == "invenio" and INVENIO.differences() == {}


def test_zenodo_differences_are_data() -> None:
    assert ZENODO.differences() == {
        "max_file_size": 50 * GB,
        "bucket_quota": 50 * GB,
        "max_request_size": None,
        "invenio_version": "13.0",
        "rate_limit": RateLimit(100, 60.0),
        "guest_rate_limit": RateLimit(60, 60.0),
        "refuse_multipart": True,
        "refused_user_agents": ("python-requests",),
    }
    assert profile_named("zenodo") is ZENODO


def test_given_options_replace_the_profile_s() -> None:
    config = LocalRepository(
        profile="zenodo", max_file_size=None, rate_limit=None, refuse_multipart=False
    ).config
    assert config.profile == "zenodo" and config.max_file_size is None
    assert config.rate_limit is None and config.guest_rate_limit is None
    assert config.refuse_multipart is False and config.bucket_quota == 50 * GB
    assert LocalRepository(rate_limit="30/5").config.rate_limit == RateLimit(30, 5.0)


def test_every_named_profile_is_available() -> None:
    assert set(CLI_PROFILES) == set(PROFILE_NAMES) == {"invenio", "nrp", "zenodo"}
    assert profile_named("nrp") is NRP and profile_named("invenio") is INVENIO
    nrp = LocalRepository(profile="nrp").config
    assert nrp.profile == "nrp" and nrp.publish_through_requests and nrp.well_known
    assert nrp.storage == "s3" and not nrp.publish_review
    assert LocalRepository(profile="nrp", publish_review=True).config.publish_review
    with pytest.raises(ValueError, match="unknown profile"):
        LocalRepository(profile="figshare")


def test_cli_options_of_the_profile() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["serve", "--profile", "zenodo", "--rate-limit", "30/5", "--no-rate-limit-retry-after"]
    )
    assert args.profile == "zenodo"
    assert serve_options(args) == {"rate_limit": (30, 5.0), "rate_limit_retry_after": False}
    args = parser.parse_args(["serve", "--rate-limit", "off", "--guest-rate-limit", "10/1"])
    assert serve_options(args) == {"rate_limit": None, "guest_rate_limit": (10, 1.0)}
    assert serve_options(parser.parse_args(["serve", "--rate-limit-retry-after"])) == {
        "rate_limit_retry_after": True
    }
    for wrong in ("30", "0/5", "30/0", "x/y"):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", "--rate-limit", wrong])


def test_serve_with_the_zenodo_profile(tmp_path: Any) -> None:
    command = [
        sys.executable,
        "-m",
        "nrpfiles",
        "serve",
        "--profile",
        "zenodo",
        "--port",
        "0",
        "--token",
        "cli-token",
        "--data-dir",
        str(tmp_path),
        "--rate-limit",
        "2/30",
        "--no-rate-limit-retry-after",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().split() for _ in range(5)]
        assert lines[0][0] == "Repository:" and lines[2] == ["Token:", "cli-token"]
        assert lines[4][:2] == ["Profile:", "zenodo"]
        url = lines[0][-1]
        headers = {"Authorization": "Bearer cli-token"}
        answers = [httpx.get(f"{url}/api/records", headers=headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert "Retry-After" not in answers[-1].headers
        stats = httpx.get(f"{url}/_local/stats", headers=headers).json()
        assert stats["rate_limited"] == 1
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0


# what zenodo refuses --------------------------------------------------------------------
def test_python_requests_is_refused(local_repository_factory: Factory) -> None:
    repo = local_repository_factory(profile="zenodo")
    with client_for(repo) as api:
        refused = api.get("/records", headers={"User-Agent": "python-requests/2.32.3"})
        assert refused.status_code == 403
        assert refused.json()["status"] == 403
        assert "python-requests" in refused.json()["message"]
        assert "User-Agent" in refused.json()["message"]
        assert refused.headers["X-RateLimit-Remaining"] == "99"  # it counts all the same
        named = api.get("/records", headers={"User-Agent": "my-harvester/1.0 (me@example.org)"})
        assert named.status_code == 200
        assert api.get("/records").status_code == 200  # httpx's own
    assert repo.stats["refused_user_agent"] == 1
    with client_for(local_repository_factory()) as plain:
        headers = {"User-Agent": "python-requests/2.32.3"}
        assert plain.get("/records", headers=headers).status_code == 200


def test_multipart_is_refused_after_its_init(local_repository_factory: Factory) -> None:
    repo = local_repository_factory(profile="zenodo")
    with client_for(repo) as api:
        base = files_url(create_draft(api)["id"])
        init = {"key": "m", "size": 4, "transfer": {"type": "M", "parts": 1, "part_size": 4}}
        created = api.post(base, json=[init])
        assert created.status_code == 201  # accepted at init, as Zenodo does
        (entry,) = created.json()["entries"]
        assert entry["status"] == "pending" and entry["links"]["parts"]
        part = api.put(f"{base}/m/content/1", content=b"abcd", headers=OCTET)
        assert part.status_code == 403
        assert part.json() == {"status": 403, "message": "Permission denied."}
        commit = api.post(f"{base}/m/commit")
        assert commit.status_code == 403
        assert commit.json() == {"status": 403, "message": "Permission denied."}
        assert api.get(f"{base}/m").json()["status"] == "pending"
        # what a client falls back to: delete the entry and upload it whole
        assert api.delete(f"{base}/m").status_code == 204
        api.post(base, json=[{"key": "m"}])
        assert api.put(f"{base}/m/content", content=b"abcd", headers=OCTET).status_code == 200
        assert api.post(f"{base}/m/commit").json()["status"] == "completed"
    assert repo.stats["refused_multipart"] == 2
    assert repo.faults.injected == {}  # a property of the deployment, not a fault


def test_zenodo_is_plain_invenio_rdm_13_to_discovery(local_repository_factory: Factory) -> None:
    repo = local_repository_factory(profile="zenodo")
    assert httpx.get(f"{repo.url}/.well-known/repository").status_code == 404
    home = httpx.get(f"{repo.url}/").text
    assert '<meta name="generator" content="InvenioRDM 13.0"/>' in home


# its limits -----------------------------------------------------------------------------
def test_a_hundred_files_a_record(local_repository_factory: Factory) -> None:
    repo = local_repository_factory(profile="zenodo")
    with client_for(repo) as api:
        base = files_url(create_draft(api)["id"])
        entries = [{"key": f"f{n}"} for n in range(100)]
        assert api.post(base, json=entries).status_code == 201
        refused = api.post(base, json=[{"key": "one-more"}])
        assert refused.status_code == 400
        assert "exceeding the max amount" in refused.json()["message"]


def declared_upload(repo: LocalRepository, path: str, length: int) -> tuple[int, bytes]:
    """A PUT that declares ``length`` bytes and sends none: sizes are checked first."""
    host, port = repo.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        request = (
            f"PUT /api{path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {repo.token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n"
        )
        connection.sendall(request.encode())
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("profile", "declared", "refused"),
    [
        ("zenodo", 50 * GB + 1, True),
        ("zenodo", 20 * GB, False),
        ("invenio", 20 * GB, True),
    ],
)
def test_fifty_gb_a_file_and_a_record(
    local_repository_factory: Factory, profile: str, declared: int, refused: bool
) -> None:
    # the file's limits, not the request's (InvenioRDM answers 413 above 100 MiB first)
    repo = local_repository_factory(profile=profile, max_request_size=None)
    with client_for(repo) as api:
        base = files_url(create_draft(api)["id"])
        api.post(base, json=[{"key": "big.bin"}])
    status, body = declared_upload(repo, f"{base}/big.bin/content", declared)
    if refused:
        assert status == 400
        assert b"exceeded" in body  # "Bucket quota exceeded." or "Maximum file size exceeded."
    else:
        # not refused for its size: the body that never came fails the transfer
        assert status == 200 and b"File upload transfer failed." in body
