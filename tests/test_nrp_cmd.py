"""nrp-cmd 1.0.1, unmodified, against ``nrpfiles serve --profile nrp``: every call passes.

The reference client runs as its users run it, from its command line with its
own configuration file, in its own Python 3.12 environment (``tests/nrp_cmd_env.py``
makes it once per machine). What it uploads is checked byte for byte through
the API, and what it downloads against the originals.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.nrp_cmd_env import COMMAND_TIMEOUT, Served, ensure_nrp_cmd, find_python, served

TOKEN = "nrp-cmd-interop-token"
METADATA = {
    "title": "A dataset of measurements",
    "resource_type": {"id": "dataset"},
    "publication_date": "2024-01-15",
    "creators": [
        {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
    ],
}
SMALL = 300_000
# above nrp-cmd's part size, so that M sends several parts
LARGE = 12 * 1024 * 1024 + 12345


@pytest.fixture(scope="module")
def nrp_cmd() -> Path:
    if find_python() is None:
        pytest.skip("nrp-cmd 1.0.1 needs Python 3.12 (pyenv install 3.12)")
    return ensure_nrp_cmd()


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[Served]:
    with served(tmp_path / "data", TOKEN, "--profile", "nrp") as repository:
        yield repository


class NrpCmd:
    """nrp-cmd with its configuration, variables and working directory in one place."""

    def __init__(self, executable: Path, home: Path, repository: Served) -> None:
        self.executable = executable
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.config = home / "invenio-config.json"
        # as nrp-cmd writes its file; the CLI's "add repository" insists on https
        self.config.write_text(
            json.dumps(
                {
                    "repositories": [
                        {
                            "alias": "local",
                            "url": f"{repository.url}/api",
                            "token": repository.token,
                            "verify_tls": False,
                            "retry_count": 2,
                            "retry_after_seconds": 1,
                            "enabled": True,
                        }
                    ],
                    "default_alias": "local",
                    "per_directory_variables": False,
                }
            )
        )

    def __call__(self, *arguments: str, cwd: Path | None = None) -> str:
        environment = {
            **os.environ,
            "HOME": str(self.home),
            "NRP_CMD_CONFIG_PATH": str(self.config),
            "COLUMNS": "200",
        }
        done = subprocess.run(
            [str(self.executable), *arguments],
            capture_output=True,
            text=True,
            cwd=cwd or self.home,
            env=environment,
            timeout=COMMAND_TIMEOUT,
        )
        assert done.returncode == 0, (
            f"nrp-cmd {' '.join(arguments)} failed ({done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )
        return done.stdout


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_nrp_cmd_uploads_lists_downloads_updates_deletes_and_publishes(
    nrp_cmd: Path, repository: Served, tmp_path: Path
) -> None:
    run = NrpCmd(nrp_cmd, tmp_path / "home", repository)
    sources = tmp_path / "sources"
    sources.mkdir()
    small, large = os.urandom(SMALL), os.urandom(LARGE)
    (sources / "small.bin").write_bytes(small)
    (sources / "large.bin").write_bytes(large)
    (sources / "metadata.json").write_text(json.dumps(METADATA))
    api = httpx.Client(
        base_url=f"{repository.url}/api", headers={"Authorization": f"Bearer {TOKEN}"}
    )

    created = json.loads(
        run("create", "record", "./metadata.json", "--set", "rec", "-f", "json", cwd=sources)
    )
    record_id = created["id"]
    draft = api.get(f"/records/{record_id}/draft").json()
    assert draft["metadata"]["title"] == METADATA["title"]

    run("upload", "file", "@rec", "./small.bin", "{}", cwd=sources)
    run("upload", "file", "@rec", "./large.bin", "{}", "--transfer-type", "M", cwd=sources)
    listed = json.loads(run("list", "files", "@rec", "-f", "json"))
    assert sorted(entry["key"] for entry in listed) == ["large.bin", "small.bin"]
    assert {entry["size"] for entry in listed} == {SMALL, LARGE}
    for key, data in (("small.bin", small), ("large.bin", large)):
        # the nrp profile's content is on S3: the API redirects there, without the token
        stored = api.get(f"/records/{record_id}/draft/files/{key}/content", follow_redirects=True)
        assert stored.status_code == 200 and _md5(stored.content) == _md5(data), key

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    # nrp-cmd 1.0.1 writes downloads to its working directory
    run("download", "file", "@rec", "small.bin", "large.bin", cwd=downloads)
    assert _md5((downloads / "small.bin").read_bytes()) == _md5(small)
    assert _md5((downloads / "large.bin").read_bytes()) == _md5(large)

    (sources / "updated.json").write_text(json.dumps({**METADATA, "title": "Updated title"}))
    run("update", "record", "@rec", "./updated.json", cwd=sources)
    assert api.get(f"/records/{record_id}/draft").json()["metadata"]["title"] == "Updated title"

    run("delete", "file", "@rec", "small.bin")
    keys = [e["key"] for e in api.get(f"/records/{record_id}/draft/files").json()["entries"]]
    assert keys == ["large.bin"]

    published = run("publish", "record", "@rec", "-f", "json")
    assert record_id in published
    record = api.get(f"/records/{record_id}")
    assert record.status_code == 200 and record.json()["is_published"] is True
    assert record.json()["metadata"]["title"] == "Updated title"
    requests = api.get(f"/records/{record_id}/requests").json()["hits"]["hits"]
    assert [(r["type"], r["status"]) for r in requests] == [("publish_draft", "accepted")]

    after = tmp_path / "after"
    after.mkdir()
    run("download", "file", record_id, "large.bin", cwd=after)
    assert _md5((after / "large.bin").read_bytes()) == _md5(large)
    api.close()


def test_nrp_cmd_async_client_runs_the_guide_workflow_and_publishes(
    nrp_cmd: Path, repository: Served, tmp_path: Path
) -> None:
    small, large = os.urandom(SMALL), os.urandom(LARGE)
    (tmp_path / "small.bin").write_bytes(small)
    (tmp_path / "large.bin").write_bytes(large)
    script = Path(__file__).with_name("nrp_cmd_workflow.py")
    done = subprocess.run(
        [str(nrp_cmd.with_name("python")), str(script), f"{repository.url}/api", TOKEN, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path), "NRP_CMD_CONFIG_PATH": str(tmp_path / "c.json")},
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["listed"] == ["large.bin", "small.bin"]
    assert summary["downloaded"] == {"large.bin": _md5(large), "small.bin": _md5(small)}
    assert summary["updated_title"] == "Updated title"
    assert summary["left"] == ["large.bin"]
    assert summary["published"] is True and summary["published_id"] == summary["record"]
    assert summary["second_published"] is True
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        record = api.get(f"{repository.url}/api/records/{summary['record']}").json()
        content = api.get(
            f"{repository.url}/api/records/{summary['record']}/files/large.bin/content",
            follow_redirects=True,
        )
    assert record["is_published"] is True and record["metadata"]["title"] == "Updated title"
    assert _md5(content.content) == _md5(large)
