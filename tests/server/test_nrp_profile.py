"""The nrp profile: files on a real S3 engine (SeaweedFS) started with the repository.

What it shares with the real InvenioRDM on S3 runs in the server cases with
``--servers local-nrp``; these cases are about the local repository's own S3: where
the bytes land, its options, a restart, and what it says when the engine is missing.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from nrpfiles.cli import build_parser, main
from nrpfiles.cli.local import serve_options
from nrpfiles.testing import LocalRepository, seaweed
from nrpfiles.testing.profiles import NRP, NRP_CHECKSUM_DELAY

from .conftest import client_for, create_draft, files_url, publish_through_request, upload
from .test_transfers import multipart_init, s3_checksum, wait_for

Factory = Callable[..., LocalRepository]
MIB = 1 << 20
WEEK = 7 * 24 * 3600


def upload_in_parts(api: httpx.Client, record_id: str, key: str, data: bytes, part_size: int) -> Any:
    """An M upload whose parts go straight to S3 on their presigned URLs; the commit's answer."""
    base = files_url(record_id)
    parts = -(-len(data) // part_size)
    assert api.post(base, json=[multipart_init(key, len(data), parts, part_size)]).status_code == 201
    links = api.get(f"{base}/{key}").json()["links"]["parts"]
    for link in links:
        start = (link["part"] - 1) * part_size
        stored = httpx.put(link["url"], content=data[start : start + part_size])
        assert stored.status_code == 200 and stored.headers["ETag"]
    return api.post(f"{base}/{key}/commit")


def test_nrp_differences_are_data() -> None:
    assert NRP.differences() == {
        "storage": "s3",
        "well_known": True,
        "checksum_delay": NRP_CHECKSUM_DELAY,
        "publish_through_requests": True,
    }


def test_the_command_line_sets_the_download_url_expiry() -> None:
    args = build_parser().parse_args(["serve", "--profile", "nrp", "--download-url-expiry", "5"])
    assert serve_options(args) == {"download_url_expiry": 5}
    config = LocalRepository(profile=args.profile, **serve_options(args)).config
    assert config.download_url_expiry == 5 and config.storage == "s3"
    assert config.part_url_expiry == WEEK


def test_files_land_in_s3_and_a_restart_keeps_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "repository"
    whole, parted = b"whole content" * 1000, bytes(range(256)) * (45 * 1024)  # 11.25 MiB
    with LocalRepository(data_dir=data_dir, profile="nrp", token="t") as repo:
        with client_for(repo) as api:
            draft = create_draft(api)
            assert upload(api, draft["id"], "whole.txt", whole)["checksum"] == (
                "md5:" + hashlib.md5(whole).hexdigest()
            )
            committed = upload_in_parts(api, draft["id"], "parted.bin", parted, 5 * MIB)
            assert committed.json()["checksum"] == s3_checksum(parted, 5 * MIB)
            published = publish_through_request(api, draft)
        # nothing of the content is kept beside S3
        assert list((data_dir / "content").iterdir()) == []
        assert list((data_dir / "tmp").iterdir()) == []
        assert any((data_dir / "s3" / "data").rglob("*.dat"))
        storage = repo.storage_url
    assert storage is not None and httpx.URL(storage).host == "127.0.0.1"
    with pytest.raises(httpx.ConnectError):
        httpx.get(storage)  # stopped with the repository
    with LocalRepository(data_dir=data_dir, profile="nrp", token="t") as again:
        base = f"{again.api_url}/records/{published['id']}/files"
        for key, data in (("whole.txt", whole), ("parted.bin", parted)):
            redirect = httpx.get(f"{base}/{key}/content")
            assert redirect.status_code == 302
            assert redirect.headers["Location"].startswith(str(again.storage_url))
            assert httpx.get(redirect.headers["Location"]).content == data


def test_reclaiming_storage_gives_the_disk_back_the_bytes_of_deleted_files(
    local_repository_factory: Factory,
) -> None:
    repo = local_repository_factory(profile="nrp")
    data = bytes(range(256)) * (32 * 1024)  # 8 MiB
    volumes = repo.data_dir / "s3" / "data"
    with client_for(repo) as api:
        draft = create_draft(api)
        upload(api, draft["id"], "kept.bin", data)
        upload(api, draft["id"], "deleted.bin", data)
        assert api.delete(f"{files_url(draft['id'])}/deleted.bin").status_code == 204
        stored = sum(path.stat().st_size for path in volumes.rglob("*.dat"))
        assert stored >= 2 * len(data)  # S3 keeps a deleted object's bytes for now
        freed = repo.reclaim_storage()
        assert len(data) <= freed < 2 * len(data)
        assert sum(path.stat().st_size for path in volumes.rglob("*.dat")) < stored - len(data) // 2
        kept = api.get(f"{files_url(draft['id'])}/kept.bin/content", follow_redirects=True)
        assert kept.content == data


def test_a_part_under_5_mib_fails_the_commit_and_the_file_stays_pending(
    local_repository_factory: Factory,
) -> None:
    repo = local_repository_factory(profile="nrp")
    with client_for(repo) as api:
        draft = create_draft(api)
        committed = upload_in_parts(api, draft["id"], "small.bin", b"x" * (3 * MIB), MIB)
        assert committed.status_code == 500
        assert "internal error" in committed.json()["message"]
        entry = api.get(f"{files_url(draft['id'])}/small.bin").json()
        assert entry["status"] == "pending" and len(entry["links"]["parts"]) == 3
        # S3 speaks for itself to whoever holds its URLs: a broken signature is its XML
        forged = entry["links"]["parts"][0]["url"].replace("X-Amz-Signature=", "X-Amz-Signature=0")
        refused = httpx.put(forged, content=b"x")
        assert refused.status_code == 403
        assert "<Code>SignatureDoesNotMatch</Code>" in refused.text


def test_part_links_last_a_week_and_are_signed_on_every_read(
    local_repository_factory: Factory,
) -> None:
    repo = local_repository_factory(profile="nrp")
    with client_for(repo) as api:
        base = files_url(create_draft(api)["id"])
        api.post(base, json=[multipart_init("m.bin", 10, 2, 5)])
        first = api.get(f"{base}/m.bin").json()["links"]["parts"]
        time.sleep(1.1)  # SigV4 signs to the second
        second = api.get(f"{base}/m.bin").json()["links"]["parts"]
    assert [p["part"] for p in first] == [1, 2]
    url = httpx.URL(first[0]["url"])
    assert url.params["X-Amz-Expires"] == str(WEEK) and url.params["partNumber"] == "1"
    assert url.host == "127.0.0.1" and str(url).startswith(str(repo.storage_url))
    assert first[0]["expiration"].endswith("Z")
    assert first[0]["url"] != second[0]["url"]


def test_download_urls_expire_after_the_option_s_seconds(
    local_repository_factory: Factory,
) -> None:
    repo = local_repository_factory(profile="nrp", download_url_expiry=2)
    with client_for(repo) as api:
        draft = create_draft(api)
        upload(api, draft["id"], "a.txt", b"abc")
        location = api.get(f"{files_url(draft['id'])}/a.txt/content").headers["Location"]
    assert httpx.URL(location).params["X-Amz-Expires"] == "2"
    assert httpx.get(location, headers={"Range": "bytes=1-"}).content == b"bc"
    time.sleep(3.1)  # SigV4 dates are whole seconds
    expired = httpx.get(location)
    assert expired.status_code == 403 and "<Code>AccessDenied</Code>" in expired.text


def test_the_md5_replaces_the_multipart_checksum_after_the_delay(
    local_repository_factory: Factory,
) -> None:
    repo = local_repository_factory(profile="nrp", checksum_delay=0.3)
    data = b"y" * (5 * MIB + 3)
    with client_for(repo) as api:
        draft = create_draft(api)
        committed = upload_in_parts(api, draft["id"], "m.bin", data, 5 * MIB).json()
        assert committed["checksum"] == s3_checksum(data, 5 * MIB)
        md5 = "md5:" + hashlib.md5(data).hexdigest()
        url = f"{files_url(draft['id'])}/m.bin"
        assert wait_for(api, url, lambda entry: entry["checksum"] == md5)["size"] == len(data)


def test_without_the_s3_extra_the_nrp_profile_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> Path:
        raise seaweed.EngineMissing(f"S3 storage needs SeaweedFS's weed: {seaweed.INSTALL_HINT}")

    monkeypatch.setattr(seaweed, "weed_binary", missing)
    with pytest.raises(seaweed.EngineMissing, match=r"nrpfiles\[s3\]"):
        LocalRepository(profile="nrp")
    assert main(["serve", "--profile", "nrp", "--port", "0"]) == 2
    assert "pip install 'nrpfiles[s3]'" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "botocore", None)
    with pytest.raises(seaweed.EngineMissing, match="botocore"):
        LocalRepository(profile="nrp")
    assert LocalRepository().config.storage == "file"  # the file store needs neither


def test_serve_with_the_nrp_profile(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "nrpfiles", "serve", "--profile", "nrp", "--port", "0"]
    # a data directory relative to where serve runs, as people type it
    command += ["--token", "cli-token", "--data-dir", "data"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().split() for _ in range(6)]
        assert lines[0][0] == "Repository:" and lines[2] == ["Token:", "cli-token"]
        assert lines[3][0] == "Storage:" and lines[5][:2] == ["Profile:", "nrp"]
        url, storage = lines[0][-1], lines[3][-1]
        with httpx.Client(base_url=f"{url}/api", headers={"Authorization": "Bearer cli-token"}) as api:
            draft = create_draft(api)
            upload(api, draft["id"], "a.txt", b"abc")
            redirect = api.get(f"{files_url(draft['id'])}/a.txt/content")
        assert redirect.status_code == 302 and redirect.headers["Location"].startswith(storage)
    finally:
        process.terminate()
        process.wait(30)
    assert process.returncode == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(storage)
    assert (tmp_path / "data" / "s3" / "identities.json").stat().st_mode & 0o077 == 0
