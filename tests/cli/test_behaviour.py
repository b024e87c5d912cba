"""What people expect of a good command line: exit codes, --json shapes, --dry-run, Ctrl-C, help."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nrpfiles.cli import parallel


def test_usage_errors_exit_2(run):
    assert run("download").code == 2
    assert run("no-such-command").code == 2
    assert run("upload", "x", "/no/such/path").code == 2


def test_help_with_an_example_on_every_command(run):
    commands = [
        ["ls"], ["download"], ["upload"], ["sync"], ["rm"],
        ["records", "create"], ["records", "show"], ["records", "publish"], ["records", "edit"],
        ["records", "new-version"], ["records", "search"],
        ["repositories", "add"], ["repositories", "list"], ["repositories", "select"],
        ["repositories", "remove"],
    ]
    for command in commands:
        result = run(*command, "--help")
        assert result.code == 0 and "Example" in result.out and "nrpfiles " in result.out, command
    assert run("serve", "--help").code == 0
    assert "--transfers" in run("serve", "--help").out


def test_failures_exit_1_with_one_line_each(repo_run, draft_id, local_repository):
    missing = repo_run("ls", "no-such-record")
    assert missing.code == 1 and missing.out == ""
    assert len(missing.err.strip().splitlines()) == 1 and "Traceback" not in missing.err
    assert local_repository.token not in missing.err
    nothing = repo_run("download", draft_id, "*.none")
    assert nothing.code == 1 and "matches" in nothing.err
    removed = repo_run("rm", draft_id, "ghost-1.txt", "ghost-2.txt", "--json")
    assert removed.code == 1 and removed.json()["deleted"] == []
    assert [f["key"] for f in removed.json()["failed"]] == ["ghost-1.txt", "ghost-2.txt"]
    assert sum("rm ghost" in line for line in removed.err.splitlines()) == 2


def test_no_repository_is_a_one_line_error(run):
    result = run("ls", "abc")
    assert result.code == 1 and "no repository given" in result.err


def test_upload_conflict_and_overwrite(repo_run, draft_id, folder):
    assert repo_run("upload", draft_id, folder / "a.csv").code == 0
    again = repo_run("upload", draft_id, folder / "a.csv", "--json")
    assert again.code == 1 and again.json()["failed"][0]["key"] == "a.csv"
    assert "1 of 1 uploads failed" in again.err
    assert repo_run("upload", draft_id, folder / "a.csv", "--overwrite").code == 0
    keyed = repo_run("upload", draft_id, folder / "notes.txt", "--key", "docs/readme.txt")
    assert keyed.code == 0
    assert "docs/readme.txt" in {r["key"] for r in repo_run("ls", draft_id, "--json").json()}


def test_sync_dry_run_changes_nothing_and_delete(repo_run, draft_id, folder):
    assert repo_run("upload", draft_id, folder / "notes.txt", "--key", "old.txt").code == 0
    dry = repo_run("sync", folder, draft_id, "--dry-run", "--delete", "--json")
    assert dry.code == 0
    plan = dry.json()
    assert plan["dry_run"] is True and plan["delete"] == ["old.txt"]
    assert sorted(plan["upload"]) == ["a.csv", "notes.txt", "sub/b.csv"]
    assert [r["key"] for r in repo_run("ls", draft_id, "--json").json()] == ["old.txt"]
    text = repo_run("sync", folder, draft_id, "--dry-run")
    assert "+ a.csv" in text.out and "? old.txt" in text.out

    kept = repo_run("sync", folder, draft_id)  # without --delete the extra key stays
    assert kept.code == 0
    assert "old.txt" in {r["key"] for r in repo_run("ls", draft_id, "--json").json()}
    deleted = repo_run("sync", folder, draft_id, "--delete", "--json")
    assert deleted.code == 0 and deleted.json()["delete"] == ["old.txt"]
    assert sorted(r["key"] for r in repo_run("ls", draft_id, "--json").json()) == [
        "a.csv",
        "notes.txt",
        "sub/b.csv",
    ]


def test_json_is_the_only_thing_on_stdout(repo_run, draft_id, folder, tmp_path):
    for arguments in (
        ["upload", draft_id, folder, "--json"],
        ["ls", draft_id, "--json"],
        ["download", draft_id, "-o", tmp_path / "d", "--json"],
        ["sync", folder, draft_id, "--json"],
        ["records", "show", draft_id, "--json"],
        ["-v", "download", draft_id, "-o", tmp_path / "d", "--json"],
    ):
        result = repo_run(*arguments)
        assert result.code == 0, (arguments, result.err)
        json.loads(result.out)


def test_an_interrupted_download_leaves_no_half_written_target(
    repo_run, draft_id, tmp_path, monkeypatch
):
    big = tmp_path / "big"
    big.mkdir()
    (big / "large.bin").write_bytes(os.urandom(24 << 20))
    assert repo_run("upload", draft_id, big).code == 0
    target = tmp_path / "out"
    target.mkdir()
    (target / "large.bin").write_bytes(b"the old content")

    real_wait = parallel._wait_all

    def ctrl_c_once_bytes_flow(futures):
        # Ctrl-C arrives in the main thread while the transfer is under way.
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(f.done() for f in futures):
            if any(p.name.endswith(".nrpfiles-partial") for p in target.iterdir()):
                raise KeyboardInterrupt
            time.sleep(0.001)
        real_wait(futures)
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel, "_wait_all", ctrl_c_once_bytes_flow)
    result = repo_run("download", draft_id, "-o", target)
    assert result.code == 130 and "interrupted" in result.err
    # The old content stays; what arrived, if anything, waits beside it for the next run.
    assert sorted(p.name for p in target.iterdir()) in (
        ["large.bin"],
        ["large.bin", "large.bin.nrpfiles-partial", "large.bin.nrpfiles-partial.json"],
    )
    assert (target / "large.bin").read_bytes() == b"the old content"
    monkeypatch.setattr(parallel, "_wait_all", real_wait)
    assert repo_run("download", draft_id, "-o", target).code == 0
    assert (target / "large.bin").read_bytes() == (big / "large.bin").read_bytes()
    assert sorted(p.name for p in target.iterdir()) == ["large.bin"]


def test_repositories_commands_never_print_tokens(run, local_repository):
    token = local_repository.token
    add = run("repositories", "add", "local", local_repository.url, "--token", token)
    assert add.code == 0
    assert run("repositories", "add", "other", "https://other.example.org").code == 0
    assert run("repositories", "select", "local").code == 0
    listed = run("repositories", "list", "--json")
    assert listed.code == 0 and token not in listed.out + listed.err
    assert token not in run("repositories", "list").out
    rows = {row["alias"]: row for row in listed.json()}
    assert rows["local"]["has_token"] and rows["local"]["default"]
    assert not rows["other"]["has_token"]
    # the alias (and, being the default, nothing at all) now finds the repository
    assert run("-r", "local", "records", "search", "--mine", "--json").code == 0
    assert run("records", "search", "--json").code == 0
    assert run("repositories", "remove", "other").code == 0
    assert run("repositories", "remove", "other").code == 1
    assert run("repositories", "select", "nobody").code == 1


def test_nrp_cmd_aliases_keep_working(run, local_repository, tmp_path):
    nrp = tmp_path / "config" / "nrp-cmd.json"
    nrp.parent.mkdir(exist_ok=True)
    nrp.write_text(
        json.dumps(
            {"repositories": [{"alias": "old", "url": local_repository.url + "/api",
                               "token": local_repository.token}]}
        )
    )
    assert [row["alias"] for row in run("repositories", "list", "--json").json()] == ["old"]
    assert run("-r", "old", "records", "search", "--mine").code == 0


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts(shell):
    environment = {**os.environ, "_NRPFILES_COMPLETE": f"{shell}_source"}
    script = subprocess.run(
        [sys.executable, "-c", "import sys; from nrpfiles.cli import main; sys.exit(main())"],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )
    assert script.returncode == 0 and "_NRPFILES_COMPLETE" in script.stdout


def test_demo_passes_its_options_through(monkeypatch, run):
    from nrpfiles import demo

    seen = {}
    monkeypatch.setattr(demo, "run", lambda show_progress: seen.update(p=show_progress) or [])
    assert run("demo", "--no-progress").code == 0 and seen == {"p": False}
