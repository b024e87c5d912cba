"""``nrpfiles repositories ...``: the aliases of the configuration file the library reads.

Written to nrpfiles' own file (``NRPFILES_CONFIG``, else
``~/.config/nrpfiles/config.json``); nrp-cmd's aliases are listed and usable
but its file is never changed. Tokens are stored, never printed.
"""

from __future__ import annotations

import click

from nrpfiles.cli.files import json_option
from nrpfiles.cli.session import Session, emit_json
from nrpfiles.config import (
    configured_repositories,
    remove_repository,
    save_repository,
    select_repository,
)


@click.group()
def repositories() -> None:
    """Add, list, select and remove repository aliases.

    \b
    Example:
      nrpfiles repositories add zenodo https://zenodo.org --token "$ZENODO_TOKEN" --default
    """


@repositories.command()
@click.argument("alias")
@click.argument("url")
@click.option("--token", help="Bearer token for this repository (stored, never printed).")
@click.option("--no-verify-tls", is_flag=True, help="Do not verify TLS certificates.")
@click.option("--default", "make_default", is_flag=True, help="Also make it the default.")
@click.pass_obj
def add(
    session: Session,
    alias: str,
    url: str,
    token: str | None,
    no_verify_tls: bool,
    make_default: bool,
) -> None:
    """Add (or replace) the repository ALIAS at URL.

    \b
    Example:
      nrpfiles repositories add mine https://repo.example.org --token "$TOKEN"
    """
    # A token given before the command (nrpfiles --token T repositories add ...) counts too.
    path = save_repository(
        alias,
        url,
        token=token or session.token,
        verify_tls=not no_verify_tls,
        default=make_default,
    )
    session.note(f"saved {alias} in {path}")


@repositories.command("list")
@json_option
def list_repositories(as_json: bool) -> None:
    """List the configured repositories (tokens are never shown).

    \b
    Example:
      nrpfiles repositories list --json
    """
    listed = configured_repositories()
    if as_json:
        emit_json(
            [
                {
                    "alias": item.alias,
                    "url": item.url,
                    "has_token": item.has_token,
                    "enabled": item.enabled,
                    "default": item.default,
                    "source": str(item.source),
                    "shadowed": item.shadowed,
                }
                for item in listed
            ]
        )
        return
    for item in listed:
        marks = "*" if item.default else " "
        notes = [] if item.enabled else ["disabled"]
        notes += ["token"] if item.has_token else []
        notes += ["shadowed"] if item.shadowed else []
        click.echo(f"{marks} {item.alias}\t{item.url}\t{','.join(notes)}\t{item.source}")


@repositories.command()
@click.argument("alias")
@click.pass_obj
def select(session: Session, alias: str) -> None:
    """Make ALIAS the default repository.

    \b
    Example:
      nrpfiles repositories select zenodo
    """
    path = select_repository(alias)
    session.note(f"{alias} is the default in {path}")


@repositories.command()
@click.argument("alias")
@click.pass_obj
def remove(session: Session, alias: str) -> None:
    """Remove ALIAS from nrpfiles' configuration file.

    \b
    Example:
      nrpfiles repositories remove old-test-site
    """
    if not remove_repository(alias):
        raise click.ClickException(f"no repository {alias!r} in nrpfiles' configuration file")
    session.note(f"removed {alias}")
