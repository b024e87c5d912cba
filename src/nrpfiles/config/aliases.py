"""Repository aliases in nrpfiles' configuration file: save, list, select, remove.

nrp-cmd's file is read, never written. No function here returns or prints a token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from nrpfiles.config.files import (
    _as_http_url,
    _read_files,
    _read_json,
    _safe_target,
    _write_private,
    default_config_paths,
)
from nrpfiles.errors import ConfigurationError


def save_repository(
    alias: str,
    url: str,
    *,
    token: str | None = None,
    verify_tls: bool = True,
    path: Path | None = None,
    default: bool = False,
) -> Path:
    """Add or replace the repository ``alias`` in nrpfiles' configuration file; returns its path.

    The file is readable by its owner only (0600) and replaced atomically; a
    directory created for it is 0700. Other entries and unknown keys are kept.
    """
    if not alias or _as_http_url(alias) is not None:
        raise ConfigurationError("an alias must be a non-empty name, not a URL")
    if _as_http_url(url) is None:
        raise ConfigurationError(f"not an absolute http(s) URL: {_safe_target(url)}")
    target = path if path is not None else default_config_paths()[0]
    document = _read_json(target) or {}
    if not isinstance(document, dict) or not isinstance(document.get("repositories", []), list):
        raise ConfigurationError(f"{target} does not look like an nrpfiles configuration file")
    repositories = document.setdefault("repositories", [])
    previous = next(
        (item for item in repositories if isinstance(item, dict) and item.get("alias") == alias),
        None,
    )
    entry = {key: value for key, value in (previous or {}).items() if key != "token"}
    entry.update({"alias": alias, "url": url, "verify_tls": verify_tls})
    if token:
        entry["token"] = token
    if previous is None:
        repositories.append(entry)
    else:
        repositories[repositories.index(previous)] = entry
    if default:
        document["default_alias"] = alias
    _write_private(target, document)
    return target


@attrs.frozen(kw_only=True)
class ConfiguredRepository:
    """One repository of the configuration files, as listed: never its token, only whether it has one."""

    alias: str
    url: str
    has_token: bool
    enabled: bool
    default: bool
    source: Path
    shadowed: bool = False


def configured_repositories(
    environ: Mapping[str, str] | None = None, config_paths: Sequence[Path] | None = None
) -> list[ConfiguredRepository]:
    """Every repository of nrpfiles' file and nrp-cmd's, in that order.

    An alias found in both files appears twice; the second one is ``shadowed``
    (nrpfiles' own entry wins, as it does when a client is opened).
    """
    env = os.environ if environ is None else environ
    paths = default_config_paths(env) if config_paths is None else list(config_paths)
    files = _read_files(paths)
    seen: set[str] = set()
    listed = []
    for entry in files.entries:
        listed.append(
            ConfiguredRepository(
                alias=entry.alias,
                url=entry.url,
                has_token=bool(entry.settings.get("token")),
                enabled=entry.enabled,
                default=entry.alias == files.default_alias and entry.alias not in seen,
                source=entry.source,
                shadowed=entry.alias in seen,
            )
        )
        seen.add(entry.alias)
    return listed


def remove_repository(alias: str, *, path: Path | None = None) -> bool:
    """Remove ``alias`` from nrpfiles' configuration file; returns whether it was there.

    nrp-cmd's file is never changed; an alias only it holds stays usable.
    A ``default_alias`` naming the removed entry is cleared.
    """
    target = path if path is not None else default_config_paths()[0]
    document = _read_json(target)
    if not isinstance(document, dict) or not isinstance(document.get("repositories"), list):
        return False
    kept = [
        item
        for item in document["repositories"]
        if not (isinstance(item, dict) and item.get("alias") == alias)
    ]
    if len(kept) == len(document["repositories"]):
        return False
    document["repositories"] = kept
    if document.get("default_alias") == alias:
        del document["default_alias"]
    _write_private(target, document)
    return True


def select_repository(alias: str, *, path: Path | None = None) -> Path:
    """Make ``alias`` (from either configuration file) the default in nrpfiles' own file."""
    if not any(item.alias == alias and item.enabled for item in configured_repositories()):
        raise ConfigurationError(f"no enabled repository {_safe_target(alias)} is configured")
    target = path if path is not None else default_config_paths()[0]
    document = _read_json(target) or {}
    if not isinstance(document, dict):
        raise ConfigurationError(f"{target} does not look like an nrpfiles configuration file")
    document.setdefault("repositories", [])
    document["default_alias"] = alias
    _write_private(target, document)
    return target
