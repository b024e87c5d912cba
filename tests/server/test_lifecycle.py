"""Persistence across restarts, reset, discovery, the command line and the fixtures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from nrpfiles.cli import build_parser
from nrpfiles.cli.local import serve_options
from nrpfiles.testing import LocalRepository
from nrpfiles.testing.server.context import RepositoryConfig
from tests.servers import RepositoryUnderTest

from .conftest import OCTET, client_for, create_draft, published_record, upload


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "repository"
    with LocalRepository(data_dir=data_dir) as repo, client_for(repo) as api:
        token = repo.token
        record = published_record(api, {"a.txt": b"published bytes"})
        draft = create_draft(api)
        base = f"/records/{draft['id']}/draft/files"
        upload(api, draft["id"], "done.txt", b"committed")
        api.post(base, json=[{"key": "staged.txt"}])
        api.put(f"{base}/staged.txt/content", content=b"staged", headers=OCTET)
        multipart = {
            "key": "m.bin",
            "size": 6,
            "transfer": {"type": "M", "parts": 2, "part_size": 3},
        }
        api.post(base, json=[multipart])
        api.put(f"{base}/m.bin/content/1", content=b"abc", headers=OCTET)
    with LocalRepository(data_dir=data_dir) as repo, client_for(repo) as api:
        assert repo.token == token
        assert api.get(f"/records/{record['id']}/files/a.txt/content").content == b"published bytes"
        assert api.get(f"{base}/done.txt/content").content == b"committed"
        staged = api.post(f"{base}/staged.txt/commit").json()  # the digest is recomputed
        assert staged["status"] == "completed" and staged["size"] == 6
        api.put(f"{base}/m.bin/content/2", content=b"def", headers=OCTET)
        assert api.post(f"{base}/m.bin/commit").json()["size"] == 6
        assert api.get(f"{base}/m.bin/content").content == b"abcdef"


def test_given_token_replaces_the_stored_one(tmp_path: Path) -> None:
    with LocalRepository(data_dir=tmp_path, token="first-token") as repo:
        assert repo.token == "first-token"
    with LocalRepository(data_dir=tmp_path, token="second-token") as repo:
        assert client_for(repo, "second-token").get("/user/records").status_code == 200
        assert client_for(repo, "first-token").get("/user/records").status_code == 403


def test_temporary_data_dir_is_removed() -> None:
    with LocalRepository() as repo:
        data_dir = repo.data_dir
        assert data_dir.exists()
    assert not data_dir.exists()


def test_reset_keeps_users(repo: LocalRepository, local_api: httpx.Client) -> None:
    api = local_api
    bob = repo.add_user("bob")
    published_record(api)
    repo.faults.configure(delay=0.001)
    repo.reset()
    assert repo.faults.config.delay == 0
    assert api.get("/records").json()["hits"]["total"] == 0
    assert client_for(repo, bob).get("/user/records").status_code == 200
    assert list((repo.data_dir / "content").iterdir()) == []


def test_discovery_as_plain_invenio_rdm(repository: RepositoryUnderTest) -> None:
    """By default it is found as InvenioRDM 14 is: by its home page, with no NRP document.

    An NRP site answers the document too, and its home page still names InvenioRDM.
    """
    document = httpx.get(f"{repository.url}/.well-known/repository")
    if repository.well_known:
        assert document.status_code == 200 and "links" in document.json()
    else:
        assert document.status_code == 404
        assert httpx.get(f"{repository.url}/api/models").status_code == 404
    home = httpx.get(repository.url + "/")
    assert home.status_code == 200
    assert '<meta name="generator" content="InvenioRDM 14.0"/>' in home.text


def test_discovery_with_the_nrp_document(local_repository_factory: Any) -> None:
    repo = local_repository_factory(well_known=True)
    document = httpx.get(f"{repo.url}/.well-known/repository").json()
    assert document["transfers"] == ["L", "M"]
    assert document["invenio_version"] == "14.0"
    assert document["links"]["api"] == repo.api_url
    # oarepo-runtime links only these; without requests (plain publishing) not that one
    assert set(document["links"]) == {"self", "api", "models"}
    for name in ("schema", "name", "description", "version", "invenio_version", "features"):
        assert name in document
    models = httpx.get(document["links"]["models"]).json()
    assert models[0]["metadata"] is True
    assert set(models[0]["links"]) == {"records", "drafts", "deposit", "html", "model"}
    assert models[0]["type"] == models[0]["name"] == document["default_model"]
    assert models[0]["content_types"][0]["can_deposit"] is True
    assert "InvenioRDM 14.0" in httpx.get(repo.url + "/").text


def test_fixtures(
    local_repository: LocalRepository,
    fresh_local_repository: LocalRepository,
    local_repository_factory: Any,
) -> None:
    assert fresh_local_repository.url != local_repository.url
    extra = local_repository_factory(page_size=1)
    with client_for(extra) as api:
        for _ in range(2):
            create_draft(api)
        page = api.get("/user/records").json()
        assert len(page["hits"]["hits"]) == 1 and "next" in page["links"]


def test_cli_arguments() -> None:
    parser = build_parser()
    defaults = parser.parse_args(["serve"])
    # nothing given: every repository option is the profile's, and the profile InvenioRDM
    assert defaults.profile == "invenio" and serve_options(defaults) == {}
    assert LocalRepository(**serve_options(defaults)).config == RepositoryConfig()
    args = parser.parse_args(
        [
            "serve",
            "--port",
            "0",
            "--transfers",
            "L,M,F",
            "--ranges",
            "--storage-redirect",
            "--fetch-allow",
            "example.org",
            "localhost",
            "--max-file-size",
            "0",
            "--bucket-quota",
            "1000",
            "--max-request-size",
            "0",
            "--checksum-delay",
            "0",
            "--well-known",
            "--no-csrf",
        ]
    )
    assert args.port == 0
    assert serve_options(args) == {
        "transfers": ("L", "M", "F"),
        "ranges": True,
        "storage_redirect": True,
        "fetch_allowed_domains": ["example.org", "localhost"],
        "max_file_size": None,  # 0: no limit
        "bucket_quota": 1000,
        "max_request_size": None,
        "checksum_delay": 0,
        "well_known": True,
        "csrf": False,
    }
    assert serve_options(parser.parse_args(["serve", "--no-ranges"])) == {"ranges": False}


def test_serve_in_another_process(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "nrpfiles",
        "serve",
        "--port",
        "0",
        "--token",
        "cli-token",
        "--data-dir",
        str(tmp_path),
        "--transfers",
        "L",
        "--well-known",
        "--ranges",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        assert process.stdout.readline().split()[-1] == url + "/api"
        assert process.stdout.readline().split()[-1] == "cli-token"
        headers = {"Authorization": "Bearer cli-token"}
        assert httpx.get(f"{url}/.well-known/repository").json()["transfers"] == ["L"]
        httpx.post(f"{url}/_local/faults", json={"error_rate": 1.0}, headers=headers)
        assert httpx.get(f"{url}/api/records").status_code == 503
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0
