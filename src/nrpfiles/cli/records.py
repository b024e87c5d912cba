"""``nrpfiles records ...``: create, show, publish, edit, version and search records."""

from __future__ import annotations

import json
from typing import Any

import click

from nrpfiles.cli.files import json_option
from nrpfiles.cli.session import Session, emit_json
from nrpfiles.models import Record, Request, unstructure


def brief(record: Record) -> dict[str, Any]:
    """What a person or a script needs to go on with a record."""
    return {
        "id": record.id,
        "title": record.metadata.get("title"),
        "is_draft": record.is_draft,
        "is_published": record.is_published,
        "url": record.links.self_,
        "html": record.links.self_html,
        "files": record.files.count,
        "errors": [str(error) for error in record.errors],
    }


def _print_outcome(outcome: Record | Request, as_json: bool) -> None:
    """A record, or the request that waits for someone before one is made."""
    if isinstance(outcome, Record):
        _print_record(outcome, as_json)
    elif as_json:
        emit_json(unstructure(outcome))
    else:
        click.echo(f"{outcome.id}\t{outcome.type}\t{outcome.status}\t{outcome.links.self_ or ''}")
        click.echo(f"request {outcome.status}: waiting for a reviewer", err=True)


def _print_record(record: Record, as_json: bool, *, full: bool = False) -> None:
    if as_json:
        emit_json(unstructure(record) if full else brief(record))
        return
    state = "draft" if record.is_draft else "published"
    click.echo(f"{record.id}\t{state}\t{record.links.self_html or record.links.self_ or ''}")
    if full:
        click.echo(f"title:  {record.metadata.get('title', '-')}")
        if record.files.count is not None:
            click.echo(f"files:  {record.files.count}")
    for error in record.errors:
        click.echo(f"warning: {error}", err=True)


@click.group()
def records() -> None:
    """Create, show, publish, edit, version and search records.

    \b
    Example:
      nrpfiles records create --metadata record.json
    """


@records.command()
@click.option(
    "--metadata",
    "metadata_file",
    type=click.File("r", encoding="utf-8"),
    help="JSON file with the record ({'metadata': ...}) or only its metadata; '-' reads stdin.",
)
@json_option
@click.pass_obj
def create(session: Session, metadata_file: Any, as_json: bool) -> None:
    """Create a draft; prints its id and address.

    Field problems do not stop the draft from being saved: they are printed as
    warnings on stderr (and under "errors" with --json); publishing needs them fixed.

    \b
    Example:
      id=$(nrpfiles records create --metadata record.json --json | jq -r .id)
    """
    data: Any = {}
    if metadata_file is not None:
        try:
            data = json.load(metadata_file)
        except ValueError as error:
            raise click.BadParameter(f"not JSON: {error}", param_hint="--metadata") from None
        if not isinstance(data, dict):
            raise click.BadParameter("expected a JSON object", param_hint="--metadata")
    record = session.client().records.create(data)
    _print_record(record, as_json)


@records.command()
@click.argument("record")
@json_option
@click.pass_obj
def show(session: Session, record: str, as_json: bool) -> None:
    """Show RECORD (its draft, if it has one); --json prints the whole record.

    \b
    Example:
      nrpfiles records show https://zenodo.org/records/123 --json
    """
    found = session.client(record).records.draft_records.read(record)
    _print_record(found, as_json, full=True)


@records.command()
@click.argument("record")
@json_option
@click.pass_obj
def publish(session: Session, record: str, as_json: bool) -> None:
    """Publish the draft RECORD.

    \b
    Example:
      nrpfiles records publish abcd-1234
    """
    _print_outcome(session.client(record).records.publish(record), as_json)


@records.command()
@click.argument("record")
@json_option
@click.pass_obj
def edit(session: Session, record: str, as_json: bool) -> None:
    """Open a draft of the published RECORD to change it.

    \b
    Example:
      nrpfiles records edit abcd-1234
    """
    _print_outcome(session.client(record).records.edit(record), as_json)


@records.command("new-version")
@click.argument("record")
@click.option("--import-files", is_flag=True, help="Start with the files of RECORD.")
@json_option
@click.pass_obj
def new_version(session: Session, record: str, import_files: bool, as_json: bool) -> None:
    """Create a new version (a draft) of the published RECORD.

    \b
    Example:
      nrpfiles records new-version abcd-1234 --import-files
    """
    client = session.client(record)
    _print_outcome(client.records.new_version(record, import_files=import_files), as_json)


@records.command()
@click.argument("query", required=False)
@click.option("--mine", is_flag=True, help="Search your own drafts and records instead.")
@click.option("--size", type=click.IntRange(1, 1000), default=25, show_default=True)
@json_option
@click.pass_obj
def search(session: Session, query: str | None, mine: bool, size: int, as_json: bool) -> None:
    """Search published records (or your own with --mine); prints one page.

    \b
    Example:
      nrpfiles -r zenodo records search 'title:soil' --size 10
    """
    client = session.client()
    searcher = client.records.draft_records if mine else client.records
    page = searcher.search(query, size=size)
    if as_json:
        emit_json({"total": page.total, "hits": [brief(hit) for hit in page.hits]})
        return
    for hit in page.hits:
        click.echo(f"{hit.id}\t{hit.metadata.get('title', '-')}")
    session.note(f"{len(page.hits)} of {page.total} shown")
