"""The README's main job: ``nrpfiles demo`` runs the whole workflow and verifies it."""

from __future__ import annotations

from nrpfiles import cli, demo


def test_demo_workflow_verifies_every_file(capsys):
    rows = demo.run({"notes.txt": 1_000, "big.bin": 70 << 20}, show_progress=False)
    assert [(row["file"], row["transfer"], row["verified"]) for row in rows] == [
        ("notes.txt", "L", True),
        ("big.bin", "M", True),
    ]
    out = capsys.readouterr().out
    assert "all checksums verified" in out
    assert "| big.bin | 73,400,320 | multipart |" in out


def test_demo_is_a_subcommand():
    parser = cli.build_parser()
    args = parser.parse_args(["demo", "--no-progress"])
    assert args.command == "demo" and args.no_progress
