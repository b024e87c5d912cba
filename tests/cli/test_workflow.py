"""The shell session people run: create, upload a folder, list, sync twice, download, publish."""

from __future__ import annotations

import hashlib
import time

import pytest

from nrpfiles._sync.files import FilesClient
from nrpfiles.cli import parallel
from nrpfiles.errors import RepositoryServerError
from tests.cli.conftest import METADATA


def files_under(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_whole_session(repo_run, run, local_repository, draft_id, folder, tmp_path):
    upload = repo_run("upload", draft_id, folder, "--json")
    assert upload.code == 0, upload.err
    assert sorted(item["key"] for item in upload.json()["uploaded"]) == [
        "a.csv",
        "notes.txt",
        "sub/b.csv",
    ]
    assert upload.json()["failed"] == [] and upload.json()["published"] is None

    listing = repo_run("ls", draft_id, "--json")
    assert listing.code == 0
    rows = {row["key"]: row for row in listing.json()}
    assert set(rows) == {"a.csv", "notes.txt", "sub/b.csv"}
    assert rows["a.csv"]["size"] == 8
    assert rows["a.csv"]["checksum"] == "md5:" + hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert rows["a.csv"]["status"] == "completed"
    text = repo_run("ls", draft_id)
    assert text.code == 0 and "sub/b.csv" in text.out and "completed" in text.out

    (folder / "a.csv").write_bytes(b"changed\n")
    (folder / "new.txt").write_bytes(b"new")
    first = repo_run("sync", folder, draft_id, "--json")
    assert first.code == 0, first.err
    assert first.json()["upload"] == ["new.txt"] and first.json()["replace"] == ["a.csv"]
    second = repo_run("sync", folder, draft_id, "--json")
    assert second.code == 0
    assert second.json()["upload"] == [] and second.json()["replace"] == []
    assert sorted(second.json()["unchanged"]) == ["a.csv", "new.txt", "notes.txt", "sub/b.csv"]

    by_pattern = repo_run("download", draft_id, "*.csv", "-o", tmp_path / "csv")
    assert by_pattern.code == 0, by_pattern.err
    assert files_under(tmp_path / "csv") == {"a.csv": b"changed\n", "sub/b.csv": b"x,y\n"}

    whole = repo_run("download", draft_id, "-o", tmp_path / "all", "--json")
    assert whole.code == 0
    assert files_under(tmp_path / "all") == files_under(folder)
    again = repo_run("download", draft_id, "-o", tmp_path / "all", "--json")
    assert again.json()["downloaded"] == [] and len(again.json()["present"]) == 4

    published = repo_run("records", "publish", draft_id, "--json")
    assert published.code == 0, published.err
    page = published.json()["html"]
    assert page == f"{local_repository.url}/records/{draft_id}"

    # The web address alone says which repository; no -r, no token (the record is public).
    by_page = run("download", page, "-o", tmp_path / "published")
    assert by_page.code == 0, by_page.err
    assert files_under(tmp_path / "published") == files_under(folder)
    one = run("download", f"{page}/files/sub/b.csv?download=1", "-o", tmp_path / "one")
    assert one.code == 0 and files_under(tmp_path / "one") == {"sub/b.csv": b"x,y\n"}


def test_upload_and_publish_in_one_go(repo_run, draft_id, folder):
    result = repo_run("upload", draft_id, folder / "a.csv", folder / "sub", "--publish", "--json")
    assert result.code == 0, result.err
    assert sorted(i["key"] for i in result.json()["uploaded"]) == ["a.csv", "b.csv"]
    assert result.json()["published"]["is_draft"] is False


def test_records_commands(repo_run, metadata_file, folder):
    created = repo_run("records", "create", "--metadata", metadata_file, "--json").json()
    assert created["is_draft"] is True and created["errors"] == []
    shown = repo_run("records", "show", created["html"], "--json")
    assert shown.code == 0 and shown.json()["metadata"]["title"] == METADATA["metadata"]["title"]
    assert repo_run("upload", created["id"], folder / "notes.txt").code == 0
    assert repo_run("records", "publish", created["id"]).code == 0
    edited = repo_run("records", "edit", created["id"], "--json")
    assert edited.code == 0 and edited.json()["is_draft"] is True
    version = repo_run("records", "new-version", created["id"], "--import-files", "--json")
    assert version.code == 0, version.err
    assert repo_run("ls", version.json()["id"], "--json").json()[0]["key"] == "notes.txt"
    found = repo_run("records", "search", "--json")
    assert found.code == 0 and created["id"] in {hit["id"] for hit in found.json()["hits"]}


def test_publish_waiting_for_a_review_prints_the_request(
    run, local_repository_factory, metadata_file, tmp_path
):
    repo = local_repository_factory(profile="nrp", publish_review=True)
    (tmp_path / "data.txt").write_text("measurements\n")
    created = run("-r", repo.url, "--token", repo.token, "records", "create",
                  "--metadata", metadata_file, "--json")  # fmt: skip
    assert created.code == 0, created.err
    record_id = created.json()["id"]
    uploaded = run("-r", repo.url, "--token", repo.token, "upload", record_id, tmp_path / "data.txt")
    assert uploaded.code == 0, uploaded.err

    waiting = run("-r", repo.url, "--token", repo.token, "records", "publish", record_id, "--json")
    assert waiting.code == 0, waiting.err
    assert waiting.json()["type"] == "publish_draft"
    assert waiting.json()["status"] == "submitted"
    again = run("-r", repo.url, "--token", repo.token, "records", "publish", record_id)
    assert again.code == 0 and "\tpublish_draft\tsubmitted\t" in again.out
    assert "waiting for a reviewer" in again.err


@pytest.fixture
def many_small(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    for n in range(6):
        (root / f"f{n}.txt").write_bytes(b"%d" % n * (n + 1))
    return root


def upload_with_f3_refused(repo_run, draft_id, folder, repository):
    """``nrpfiles upload --json`` of the folder while f3.txt's content is refused every time."""
    repository.faults.configure(error_rate=1.0, error_status=400, paths=r"/f3\.txt/content$")
    try:
        return repo_run("upload", draft_id, folder, "--json")
    finally:
        repository.faults.clear()


def test_small_files_have_their_entries_made_in_one_request(
    repo_run, draft_id, many_small, local_repository
):
    created_before = local_repository.stats["statuses"].get("201", 0)
    result = repo_run("upload", draft_id, many_small, "--json")
    assert result.code == 0, result.err
    assert sorted(f["key"] for f in result.json()["uploaded"]) == [f"f{n}.txt" for n in range(6)]
    # init answers 201, content and commit 200: one init for the six entries
    assert local_repository.stats["statuses"]["201"] - created_before == 1
    listed = repo_run("ls", draft_id, "--json").json()
    assert {(f["key"], f["status"], f["size"]) for f in listed} == {
        (f"f{n}.txt", "completed", n + 1) for n in range(6)
    }


def test_a_file_failing_for_good_stops_only_itself(repo_run, draft_id, many_small, local_repository):
    # the batch stops at f3, the others still go, one by one
    result = upload_with_f3_refused(repo_run, draft_id, many_small, local_repository)
    assert result.code == 1
    assert [f["key"] for f in result.json()["failed"]] == ["f3.txt"]
    assert sorted(f["key"] for f in result.json()["uploaded"]) == [
        f"f{n}.txt" for n in range(6) if n != 3
    ]
    assert "1 of 6 uploads failed" in result.err
    listed = repo_run("ls", draft_id, "--json").json()
    assert {(f["key"], f["status"]) for f in listed} == {
        (f"f{n}.txt", "completed") for n in range(6) if n != 3
    }


def test_a_batch_whose_outcome_cannot_be_read_reports_none_of_its_files_uploaded(
    repo_run, draft_id, many_small, local_repository, monkeypatch
):
    # After the batch stops, the draft cannot be listed: which of its files got there
    # is unknown, so none is reported uploaded, and the command fails.
    real_list = FilesClient.list

    def list_until_the_batch_failed(self, record):
        if local_repository.faults.injected:
            raise RepositoryServerError("503 on GET: the listing failed", status=503)
        return real_list(self, record)

    monkeypatch.setattr(FilesClient, "list", list_until_the_batch_failed)
    result = upload_with_f3_refused(repo_run, draft_id, many_small, local_repository)
    assert result.code == 1
    assert result.json()["uploaded"] == []
    failed = result.json()["failed"]
    assert sorted(f["key"] for f in failed) == [f"f{n}.txt" for n in range(6)]
    assert all("400" in f["error"] and "f3.txt" in f["error"] for f in failed), failed
    assert "6 of 6 uploads failed" in result.err


def test_sync_sends_new_files_together_and_replaces_changed_ones_each_on_its_own(
    repo_run, draft_id, many_small, local_repository
):
    assert repo_run("upload", draft_id, many_small).code == 0
    for n in (1, 4):
        (many_small / f"f{n}.txt").write_bytes(b"changed %d" % n)
    for name in ("new-1.txt", "new-2.txt"):
        (many_small / name).write_bytes(name.encode())
    created_before = local_repository.stats["statuses"].get("201", 0)
    result = repo_run("sync", many_small, draft_id, "--json")
    assert result.code == 0, result.err
    assert sorted(result.json()["upload"]) == ["new-1.txt", "new-2.txt"]
    assert sorted(result.json()["replace"]) == ["f1.txt", "f4.txt"]
    # one entry request for both new files, one for each replaced file
    assert local_repository.stats["statuses"]["201"] - created_before == 3
    listed = {f["key"]: f["size"] for f in repo_run("ls", draft_id, "--json").json()}
    assert listed["f1.txt"] == len(b"changed 1") and listed["new-2.txt"] == len(b"new-2.txt")
    assert repo_run("sync", many_small, draft_id, "--json").json()["upload"] == []


def test_files_already_on_the_draft_are_refused_each_on_its_own(
    repo_run, draft_id, many_small, local_repository
):
    assert repo_run("upload", draft_id, many_small / "f1.txt", many_small / "f4.txt").code == 0
    created_before = local_repository.stats["statuses"].get("201", 0)
    result = repo_run("upload", draft_id, many_small, "--json")
    assert result.code == 1
    assert sorted(f["key"] for f in result.json()["failed"]) == ["f1.txt", "f4.txt"]
    assert all("already exists" in f["error"] for f in result.json()["failed"])
    assert sorted(f["key"] for f in result.json()["uploaded"]) == [
        f"f{n}.txt" for n in (0, 2, 3, 5)
    ]
    assert local_repository.stats["statuses"]["201"] - created_before == 1  # the new four
    again = repo_run("upload", draft_id, many_small, "--json")
    assert again.code == 1 and again.json()["uploaded"] == []
    assert len(again.json()["failed"]) == 6


def test_ctrl_c_in_a_batch_leaves_only_complete_files(
    repo_run, draft_id, many_small, local_repository, monkeypatch
):
    real_wait = parallel._wait_all
    requests_before = local_repository.stats["requests"]

    def ctrl_c_once_a_content_arrived(futures):
        # Ctrl-C arrives in the main thread while the batch is under way.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(f.done() for f in futures):
            # the listing, the entries, the first content: the last files have not begun
            if local_repository.stats["requests"] - requests_before >= 3:
                raise KeyboardInterrupt
            time.sleep(0.001)
        real_wait(futures)
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel, "_wait_all", ctrl_c_once_a_content_arrived)
    local_repository.faults.configure(delay=0.2, paths=r"/content$")
    try:
        result = repo_run("upload", draft_id, many_small)
    finally:
        local_repository.faults.clear()
    # An upload cut off while it waited is carried out once its delay is over, and
    # deletes the entry of that key (even one the sync below made): wait for it.
    local_repository.wait_until_idle()
    assert result.code == 130 and "interrupted" in result.err
    listed = repo_run("ls", draft_id, "--json").json()
    assert {f["status"] for f in listed} <= {"completed"}  # unfinished entries removed
    assert len(listed) < 6
    monkeypatch.setattr(parallel, "_wait_all", real_wait)
    assert repo_run("sync", many_small, draft_id).code == 0
    listed = repo_run("ls", draft_id, "--json").json()
    assert sorted((f["key"], f["status"]) for f in listed) == [
        (f"f{n}.txt", "completed") for n in range(6)
    ]
