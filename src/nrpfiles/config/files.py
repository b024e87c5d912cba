"""nrpfiles' and nrp-cmd's configuration files: where they are, reading them, writing ours."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx

from nrpfiles._urls import redact_url, same_origin
from nrpfiles.errors import ConfigurationError


def default_config_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """nrpfiles' own configuration file, then nrp-cmd's, as the environment names them."""
    env = os.environ if environ is None else environ
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    if env.get("NRPFILES_CONFIG"):
        ours = Path(env["NRPFILES_CONFIG"]).expanduser()
    elif env.get("XDG_CONFIG_HOME"):
        ours = Path(env["XDG_CONFIG_HOME"]).expanduser() / "nrpfiles" / "config.json"
    else:
        ours = home / ".config" / "nrpfiles" / "config.json"
    if env.get("NRP_CMD_CONFIG_PATH"):
        theirs = Path(env["NRP_CMD_CONFIG_PATH"]).expanduser()
    else:
        theirs = home / ".nrp" / "invenio-config.json"
    return [ours] if ours == theirs else [ours, theirs]



@attrs.frozen
class _Entry:
    """One repository of a configuration file, and the file it came from."""

    source: Path
    alias: str
    url: str
    settings: Mapping[str, Any] = attrs.field(repr=False)

    @property
    def enabled(self) -> bool:
        return self.settings.get("enabled", True) is not False

    def describe(self) -> str:
        return f"repository {self.alias!r} in {self.source}"


@attrs.frozen
class _Files:
    entries: tuple[_Entry, ...]
    default_alias: str | None

    def by_alias(self, alias: str) -> _Entry | None:
        return next((entry for entry in self.entries if entry.alias == alias), None)

    def by_url(self, url: httpx.URL) -> _Entry | None:
        """The enabled entry on the same origin whose path is the longest prefix of ``url``'s."""
        path = url.path.rstrip("/") + "/"
        best: tuple[int, _Entry] | None = None
        fallback = None
        for entry in self.entries:
            parsed = _as_http_url(entry.url)
            if not entry.enabled or parsed is None or not same_origin(parsed, url):
                continue
            fallback = fallback or entry
            prefix = parsed.path.rstrip("/") + "/"
            if path.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), entry)
        return best[1] if best else fallback

    def known_aliases(self) -> list[str]:
        return sorted({entry.alias for entry in self.entries if entry.enabled})


def _read_files(paths: Sequence[Path]) -> _Files:
    entries: list[_Entry] = []
    default_alias = None
    for path in paths:
        document = _read_json(path)
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ConfigurationError(f"{path}: expected a JSON object at the top level")
        repositories = document.get("repositories") or []
        if not isinstance(repositories, list):
            raise ConfigurationError(f"{path}: 'repositories' must be a list")
        entries.extend(
            _Entry(path, item["alias"], item["url"], _normalise_settings(item))
            for item in repositories
            if isinstance(item, dict)
            and isinstance(item.get("alias"), str)
            and isinstance(item.get("url"), str)
            and item["alias"]
            and item["url"]
        )
        if default_alias is None and isinstance(document.get("default_alias"), str):
            default_alias = document["default_alias"] or None
    return _Files(tuple(entries), default_alias)


def _normalise_settings(item: Mapping[str, Any]) -> dict[str, Any]:
    # Older nrp-cmd files say "verify": true/false, or the path of a CA bundle.
    settings = dict(item)
    verify = settings.get("verify")
    if "verify_tls" not in settings and isinstance(verify, bool):
        settings["verify_tls"] = verify
    if "ca_bundle" not in settings and isinstance(verify, str):
        settings["ca_bundle"] = verify
    return settings


def _read_json(path: Path) -> Any:
    """The parsed file, or None when it does not exist or is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        # The message names the position only: the file may hold tokens.
        position = (
            f" (line {error.lineno}, column {error.colno})"
            if isinstance(error, json.JSONDecodeError)
            else ""
        )
        raise ConfigurationError(f"{path} is not valid JSON{position}") from None


def _write_private(path: Path, document: Any) -> None:
    directory = path.parent
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)  # mkdir's mode is reduced by the umask
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise



def _as_http_url(text: str) -> httpx.URL | None:
    try:
        url = httpx.URL(text)
    except Exception:
        return None
    return url if url.scheme in ("http", "https") and url.host else None


def _safe_target(target: str) -> str:
    """A URL or alias as given, fit for a message: secrets masked, length bounded."""
    shown = redact_url(target) if "://" in target else target
    if "token" in shown.lower() and "***" not in shown:
        return "the given repository"
    return repr(shown if len(shown) <= 200 else shown[:197] + "...")


def _list_paths(paths: Sequence[Path]) -> str:
    return ", ".join(str(path) for path in paths) if paths else "no configuration files"
