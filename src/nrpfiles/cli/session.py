"""What every command shares: the client for a RECORD, output on stdout and stderr, failures.

Data goes to stdout (one JSON document with ``--json``, nothing else there);
progress, notes and errors go to stderr. A command that finishes with failures
raises :class:`Failed`, which the entry point turns into exit code 1.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import attrs
import click
import httpx

from nrpfiles import Client
from nrpfiles._urls import redact_url
from nrpfiles.errors import ConfigurationError
from nrpfiles.streams import is_url

# Path segments after which a URL names a record rather than the repository.
_RECORD_SEGMENTS = ("records", "uploads", "deposit")


class Failed(click.ClickException):
    """Some of the work failed; each failure was already reported on its own line."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"nrpfiles: {self.message}", err=True)


@attrs.define
class Session:
    """The global options, and the client opened for them (one per invocation)."""

    repository: str | None = None
    token: str | None = None
    quiet: bool = False
    verbose: int = 0
    _client: Client | None = attrs.field(default=None, init=False)

    def client(self, record: str | None = None) -> Client:
        """The client for ``record``: ``-r`` if given, else the repository a URL names, else the configuration's."""
        if self._client is None:
            target = self.repository
            if target is None and record is not None and is_url(record):
                target = repository_of(record)
            self._client = Client(target, token=self.token)
            # A client that cannot reach its repository fails here, once, with one line.
            self._client.info()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def note(self, text: str) -> None:
        """A line for the person at the terminal (stderr), silenced by ``-q``."""
        if not self.quiet:
            click.echo(text, err=True)

    def detail(self, text: str) -> None:
        """A line per file, shown with ``-v``."""
        if self.verbose and not self.quiet:
            click.echo(text, err=True)

    def failure(self, what: str, error: BaseException) -> None:
        """One line per failure, always shown."""
        click.echo(f"nrpfiles: {what}: {describe(error)}", err=True)


def repository_of(url: str) -> str:
    """The repository a record, draft or file URL belongs to: what precedes ``/records/...``.

    ``https://x.org/api/records/1/files/a`` gives ``https://x.org/api`` (the
    API base) and ``https://zenodo.org/records/1`` gives ``https://zenodo.org``
    (the site); either is what ``get_sync_client`` takes.
    """
    parsed = httpx.URL(url)
    segments = parsed.path.split("/")
    for index, segment in enumerate(segments):
        if segment in _RECORD_SEGMENTS and index + 1 < len(segments) and segments[index + 1]:
            base = "/".join(segments[:index]).rstrip("/")
            return str(parsed.copy_with(path=base or "/", query=None, fragment=None)).rstrip("/")
    raise ConfigurationError(
        f"cannot tell the repository from {redact_url(url)!r}: give -r/--repository"
    )


def describe(error: BaseException) -> str:
    """One line for an expected failure; never a traceback, never the token."""
    if isinstance(error, OSError) and error.strerror:
        where = f" {error.filename!r}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def configure_logging(verbose: int) -> None:
    if verbose <= 0:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("nrpfiles")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)


def pass_session(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.pass_obj(command)


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
