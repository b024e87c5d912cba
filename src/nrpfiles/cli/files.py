"""``ls``, ``download``, ``upload``, ``sync`` and ``rm``: a record's files from the shell."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from nrpfiles import Client
from nrpfiles.cli.parallel import DEFAULT_PARALLEL, Job, Outcome, run_jobs
from nrpfiles.cli.session import Failed, Session, emit_json
from nrpfiles.cli.uploads import upload_files
from nrpfiles.folders import folder_files, plan_download, plan_sync, select
from nrpfiles.models import File, FilesList, Request
from nrpfiles.progress import ProgressCallback

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of text."
)
parallel_option = click.option(
    "-j",
    "--parallel",
    type=click.IntRange(1, 32),
    default=DEFAULT_PARALLEL,
    show_default=True,
    help="Files transferred at once.",
)


def file_row(file: File) -> dict[str, Any]:
    return {
        "key": file.key,
        "size": file.size,
        "checksum": file.checksum,
        "status": file.status,
        "mimetype": file.mimetype,
    }


def _is_file_url(record: str) -> bool:
    return "/files/" in record and "://" in record


def _files_of(session: Session, record: str) -> list[File]:
    """The files RECORD names: all of a record's, or the one a file URL names."""
    client = session.client(record)
    if _is_file_url(record):
        return [client.files.read(record)]
    files: FilesList = client.files.list(record)
    return list(files)


@click.command("ls")
@click.argument("record")
@json_option
@click.pass_obj
def list_files(session: Session, record: str, as_json: bool) -> None:
    """List the files of RECORD: key, size, checksum, status.

    \b
    Example:
      nrpfiles ls https://zenodo.org/records/123
    """
    files = _files_of(session, record)
    if as_json:
        emit_json([file_row(file) for file in files])
        return
    width = max((len(file.key) for file in files), default=3)
    for file in files:
        click.echo(
            f"{file.key:<{width}}  {file.size if file.size is not None else '-':>12}  "
            f"{file.checksum or '-'}  {file.status or '-'}"
        )


@click.command()
@click.argument("record")
@click.argument("patterns", nargs=-1)
@click.option(
    "-o",
    "--output",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=".",
    help="Folder to download into; keys with '/' become subfolders.",
)
@parallel_option
@json_option
@click.pass_obj
def download(
    session: Session,
    record: str,
    patterns: tuple[str, ...],
    directory: Path,
    parallel: int,
    as_json: bool,
) -> None:
    """Download the files of RECORD, or those whose keys match PATTERNS.

    PATTERNS are shell-style ('*.csv', 'data/', 'run[12].log'; quote them);
    a folder name selects every key under it. Files already present with the
    right size and MD5 are skipped. Every file is verified before it replaces
    its target, so an interrupted download never leaves a half-written one:
    its bytes wait beside the target (KEY.nrpfiles-partial), and running the
    command again resumes from them when the remote file is unchanged.

    \b
    Examples:
      nrpfiles download https://zenodo.org/records/123 -o soil/
      nrpfiles -r my-repo download abcd-1234 '*.csv' 'raw/' -o data/
    """
    files = select(_files_of(session, record), patterns)
    if patterns and not files:
        raise Failed(f"no file of the record matches {' '.join(patterns)}")
    plan = plan_download(files, directory)
    client = session.client(record)

    def fetch(file: File, target: Path, progress: ProgressCallback) -> object:
        return client.files.download(file, target, progress=progress)

    jobs = [
        Job(file.key, file.size or 0, functools.partial(fetch, file, target))
        for file, target in plan.fetch
    ]
    outcomes = run_jobs(
        jobs,
        parallel=parallel,
        label="download",
        show_progress=not session.quiet,
        notice=session.note,
    )
    targets = {file.key: str(target) for file, target in plan.fetch + plan.present}
    failed = _report_failures(session, outcomes, "download")
    done = [o.job.name for o in outcomes if o.error is None]
    if as_json:
        emit_json(
            {
                "directory": str(directory),
                "downloaded": [{"key": key, "path": targets[key]} for key in done],
                "present": [{"key": f.key, "path": str(p)} for f, p in plan.present],
                "failed": failed,
            }
        )
    else:
        for key in done:
            session.detail(f"downloaded {key}")
        click.echo(
            f"{len(done)} downloaded, {len(plan.present)} already present, "
            f"{len(failed)} failed, in {directory}"
        )
    if failed:
        raise Failed(f"{len(failed)} of {len(jobs)} downloads failed")


def _report_failures(session: Session, outcomes: Sequence[Outcome], verb: str) -> list[dict[str, str]]:
    failed = []
    for outcome in outcomes:
        if outcome.error is not None:
            session.failure(f"{verb} {outcome.job.name}", outcome.error)
            failed.append({"key": outcome.job.name, "error": str(outcome.error).splitlines()[0]})
    return failed


def _keys_and_paths(paths: Sequence[Path], key: str | None) -> dict[str, Path]:
    """Keys for the PATHs given: a file's name (or KEY), a folder's files relative to it."""
    if key is not None and len(paths) != 1:
        raise click.UsageError("--key names one file or folder: give exactly one PATH with it")
    chosen: dict[str, Path] = {}
    for path in paths:
        if path.is_dir():
            prefix = key.strip("/") + "/" if key else ""
            found = folder_files(path, prefix=prefix)
        else:
            found = {key or path.name: path}
        for found_key, found_path in found.items():
            if found_key in chosen:
                raise click.UsageError(
                    f"two files would go to the key {found_key!r}: {chosen[found_key]} and {found_path}"
                )
            chosen[found_key] = found_path
    return chosen


@click.command()
@click.argument("record")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option("--key", help="The key of a single file (for a folder: a prefix of its keys).")
@click.option(
    "--transfer",
    type=click.Choice(["auto", "local-file", "multipart"]),
    default="auto",
    show_default=True,
    help="How the content is sent; auto sends files of 64 MiB and more in parallel parts.",
)
@click.option("--overwrite", is_flag=True, help="Replace files that already exist under the key.")
@click.option("--publish", is_flag=True, help="Publish the draft once every file is uploaded.")
@parallel_option
@json_option
@click.pass_obj
def upload(
    session: Session,
    record: str,
    paths: tuple[Path, ...],
    key: str | None,
    transfer: str,
    overwrite: bool,
    publish: bool,
    parallel: int,
    as_json: bool,
) -> None:
    """Upload files and folders to the draft RECORD; folders go recursively.

    A file's key is its name (or --key); a folder's files get keys relative to
    the folder given, with '/' between segments. Each upload is verified
    against the repository's checksum. A multipart upload that was interrupted
    is resumed by running the command again with the same unchanged file:
    only the parts the repository lacks are sent.

    \b
    Examples:
      nrpfiles upload abcd-1234 results/ README.md
      nrpfiles upload abcd-1234 run.log --key logs/run-7.log --overwrite
    """
    chosen = _keys_and_paths(paths, key)
    client = session.client(record)
    draft = client.records.draft_records.read(record)

    outcomes = upload_files(
        client,
        draft,
        chosen,
        transfer=transfer,
        replace=chosen.keys() if overwrite else (),
        parallel=parallel,
        label="upload",
        show_progress=not session.quiet,
        notice=session.note,
    )
    failed = _report_failures(session, outcomes, "upload")
    done = [o.job.name for o in outcomes if o.error is None]
    published = None
    if publish and not failed:
        published = client.records.publish(draft)
    if as_json:
        emit_json(
            {
                "uploaded": [{"key": k, "path": str(chosen[k])} for k in done],
                "failed": failed,
                "published": _record_brief(published) if published else None,
            }
        )
    else:
        for done_key in done:
            session.detail(f"uploaded {done_key}")
        click.echo(f"{len(done)} uploaded, {len(failed)} failed")
        if isinstance(published, Request):
            click.echo(f"publish request {published.id} {published.status}: waiting for a reviewer")
        elif published is not None:
            click.echo(f"published {published.id} {published.links.self_html or ''}".rstrip())
    if failed:
        raise Failed(f"{len(failed)} of {len(outcomes)} uploads failed" + (", not published" if publish else ""))


def _record_brief(record: Any) -> dict[str, Any]:
    if isinstance(record, Request):
        return {"request": record.id, "type": record.type, "status": record.status}
    return {
        "id": record.id,
        "url": record.links.self_,
        "html": record.links.self_html,
        "is_draft": record.is_draft,
    }


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("record")
@click.option("--dry-run", is_flag=True, help="Print what would change, and change nothing.")
@click.option("--delete", is_flag=True, help="Also delete the draft's files missing from DIRECTORY.")
@parallel_option
@json_option
@click.pass_obj
def sync(
    session: Session,
    directory: Path,
    record: str,
    dry_run: bool,
    delete: bool,
    parallel: int,
    as_json: bool,
) -> None:
    """Make the files of the draft RECORD match DIRECTORY.

    Uploads files the draft lacks or whose MD5 differs, leaves those that
    match, and deletes the draft's other files only with --delete. Running it
    again uploads nothing.

    \b
    Examples:
      nrpfiles sync results/ abcd-1234 --dry-run
      nrpfiles sync results/ abcd-1234 --delete
    """
    client = session.client(record)
    draft = client.records.draft_records.read(record)
    plan = plan_sync(directory, client.files.list(draft))
    to_delete = plan.extra if delete else []
    failed: list[dict[str, str]] = []
    done_upload: list[str] = []
    done_delete: list[str] = []
    if not dry_run:
        outcomes = upload_files(
            client,
            draft,
            dict(plan.upload + plan.replace),
            transfer="auto",
            replace={k for k, _ in plan.replace},
            parallel=parallel,
            label="sync",
            show_progress=not session.quiet,
            notice=session.note,
        )
        failed = _report_failures(session, outcomes, "upload")
        done_upload = [o.job.name for o in outcomes if o.error is None]
        done_delete, not_deleted = _delete_each(session, client, draft, to_delete, "delete")
        failed += not_deleted
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "upload": [k for k, _ in plan.upload],
                "replace": [k for k, _ in plan.replace],
                "unchanged": plan.unchanged,
                "delete": to_delete,
                "extra": plan.extra,
                "failed": failed,
            }
        )
    else:
        _print_plan(plan.upload, plan.replace, to_delete, plan.extra if not delete else [])
        verb = "would upload" if dry_run else "uploaded"
        click.echo(
            f"{verb} {len(plan.upload) + len(plan.replace) if dry_run else len(done_upload)}, "
            f"{'would delete' if dry_run else 'deleted'} {len(to_delete) if dry_run else len(done_delete)}, "
            f"unchanged {len(plan.unchanged)}, failed {len(failed)}"
        )
    if failed:
        raise Failed(f"{len(failed)} changes failed")


def _print_plan(
    new: Sequence[tuple[str, Path]],
    changed: Sequence[tuple[str, Path]],
    deleted: Sequence[str],
    kept_extra: Sequence[str],
) -> None:
    lines: list[tuple[str, str]] = [("+", k) for k, _ in new] + [("~", k) for k, _ in changed]
    lines += [("-", k) for k in deleted] + [("?", k) for k in kept_extra]
    for mark, key in sorted(lines, key=lambda line: line[1]):
        click.echo(f"{mark} {key}")


@click.command("rm")
@click.argument("record")
@click.argument("keys", nargs=-1, required=True)
@json_option
@click.pass_obj
def remove_files(session: Session, record: str, keys: tuple[str, ...], as_json: bool) -> None:
    """Delete the files KEYS from the draft RECORD.

    \b
    Example:
      nrpfiles rm abcd-1234 old.csv raw/run-1.log
    """
    client = session.client(record)
    deleted, failed = _delete_each(session, client, record, keys, "rm")
    if as_json:
        emit_json({"deleted": deleted, "failed": failed})
    else:
        click.echo(f"{len(deleted)} deleted, {len(failed)} failed")
    if failed:
        raise Failed(f"{len(failed)} of {len(keys)} deletions failed")


def _delete_each(
    session: Session, client: Client, record: object, keys: Iterable[str], verb: str
) -> tuple[list[str], list[dict[str, str]]]:
    """Delete each key of the record: the ones deleted, and the failures, each reported."""
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    for key in keys:
        try:
            client.files.delete(record, key)
            deleted.append(key)
        except Exception as error:  # each failure reported, the rest still tried
            session.failure(f"{verb} {key}", error)
            failed.append({"key": key, "error": str(error).splitlines()[0]})
    return deleted, failed


COMMANDS: list[click.Command] = [list_files, download, upload, sync, remove_files]
