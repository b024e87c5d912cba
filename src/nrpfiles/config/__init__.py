"""Which repository to talk to, with which token and settings.

Each setting comes from the first place that gives it: an explicit argument,
then an environment variable, then a configuration file entry, then the
default. Configuration files are nrpfiles' own (``$NRPFILES_CONFIG``, else
``$XDG_CONFIG_HOME/nrpfiles/config.json``, else
``~/.config/nrpfiles/config.json``) and then nrp-cmd's
(``$NRP_CMD_CONFIG_PATH``, else ``~/.nrp/invenio-config.json``); both have
nrp-cmd's shape::

    {"repositories": [{"alias": "...", "url": "...", "token": "...", ...}],
     "default_alias": "..."}

``NRPFILES_TOKEN`` is used only when ``NRPFILES_URL`` is unset or has the
same origin (scheme, host, port) as the repository being resolved, so a token
meant for one repository is never sent to another. See docs/configuration.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from nrpfiles._urls import redact_url, same_origin
from nrpfiles.config.aliases import (
    ConfiguredRepository,
    configured_repositories,
    remove_repository,
    save_repository,
    select_repository,
)
from nrpfiles.config.files import (
    _as_http_url,
    _Entry,
    _Files,
    _list_paths,
    _read_files,
    _safe_target,
    default_config_paths,
)
from nrpfiles.errors import ConfigurationError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_RETRY_MAX_WAIT",
    "DEFAULT_TIMEOUT",
    "ConfiguredRepository",
    "RepositoryConfig",
    "configured_repositories",
    "default_config_paths",
    "remove_repository",
    "resolve_config",
    "save_repository",
    "select_repository",
]

DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_RETRY_ATTEMPTS = 5
DEFAULT_RETRY_MAX_WAIT = 30.0


def _masked(token: str | None) -> str:
    return "None" if token is None else "'***'"


def _redacted(url: str) -> str:
    return repr(redact_url(url))


@attrs.frozen(kw_only=True)
class RepositoryConfig:
    """Everything needed to reach one repository. Its repr never shows the token.

    ``timeout`` bounds reads, writes and waiting for a pooled connection;
    ``connect_timeout`` bounds opening a connection. ``retry_attempts``
    counts all attempts of a request, the first included; ``retry_max_wait``
    caps the pause between two of them, in seconds. ``max_file_size`` (bytes)
    refuses larger uploads before anything is sent, where the repository's
    limit is known (Zenodo's is 50 GB). ``proxy`` (an ``http``, ``https``,
    ``socks5`` or ``socks5h`` URL) carries every request; ``None`` follows
    ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` as httpx
    does; ``""`` goes straight, whatever the environment says.
    """

    url: str = attrs.field(repr=_redacted)
    token: str | None = attrs.field(default=None, repr=_masked)
    alias: str | None = None
    verify_tls: bool = True
    ca_bundle: str | None = None
    timeout: float = attrs.field(default=DEFAULT_TIMEOUT, converter=float)
    connect_timeout: float = attrs.field(default=DEFAULT_CONNECT_TIMEOUT, converter=float)
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    retry_max_wait: float = attrs.field(default=DEFAULT_RETRY_MAX_WAIT, converter=float)
    max_file_size: int | None = None
    proxy: str | None = attrs.field(default=None, repr=lambda url: _redacted(url) if url else repr(url))

    def __str__(self) -> str:
        return repr(self)


def resolve_config(
    url_or_alias: str | None = None,
    *,
    token: str | None = None,
    verify_tls: bool | None = None,
    ca_bundle: str | None = None,
    timeout: float | None = None,
    connect_timeout: float | None = None,
    retry_attempts: int | None = None,
    retry_max_wait: float | None = None,
    max_file_size: int | None = None,
    proxy: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_paths: Sequence[Path] | None = None,
) -> RepositoryConfig:
    """How to reach a repository given by URL or alias (or by the environment and files).

    A URL (``http://`` or ``https://``) is used as given, and a configuration
    entry on the same origin supplies its token and settings. Anything else
    is an alias that must exist in a configuration file. With neither,
    ``NRPFILES_URL`` is used, then the files' ``default_alias``.
    ``token=""`` means no token at all, whatever the environment and files say.
    """
    env = os.environ if environ is None else environ
    paths = default_config_paths(env) if config_paths is None else list(config_paths)
    files = _read_files(paths)
    target = url_or_alias or env.get("NRPFILES_URL") or files.default_alias
    if not target:
        raise ConfigurationError(
            "no repository given: pass a URL or an alias, set NRPFILES_URL, or set "
            f"default_alias in {_list_paths(paths)}"
        )
    url, entry = _locate(target, files, paths)
    layers = _Layers(env, entry)
    return RepositoryConfig(
        url=url,
        token=_pick_token(token, env, url, files, paths, entry, named=url_or_alias is not None),
        alias=entry.alias if entry else None,
        verify_tls=layers.pick(verify_tls, "NRPFILES_VERIFY_TLS", ("verify_tls",), _BOOL, True),
        ca_bundle=layers.pick(ca_bundle, "NRPFILES_CA_BUNDLE", ("ca_bundle",), _TEXT, None),
        timeout=_check(
            "timeout",
            layers.pick(timeout, "NRPFILES_TIMEOUT", ("timeout",), _NUMBER, DEFAULT_TIMEOUT),
            minimum=0.0,
            inclusive=False,
        ),
        connect_timeout=_check(
            "connect_timeout",
            layers.pick(
                connect_timeout,
                "NRPFILES_CONNECT_TIMEOUT",
                ("connect_timeout",),
                _NUMBER,
                DEFAULT_CONNECT_TIMEOUT,
            ),
            minimum=0.0,
            inclusive=False,
        ),
        retry_attempts=_check(
            "retry_attempts",
            layers.pick(
                retry_attempts,
                "NRPFILES_RETRY_ATTEMPTS",
                ("retry_attempts", "retry_count"),
                _INTEGER,
                DEFAULT_RETRY_ATTEMPTS,
            ),
            minimum=1,
        ),
        retry_max_wait=_check(
            "retry_max_wait",
            layers.pick(
                retry_max_wait,
                "NRPFILES_RETRY_MAX_WAIT",
                ("retry_max_wait", "retry_after_seconds"),
                _NUMBER,
                DEFAULT_RETRY_MAX_WAIT,
            ),
            minimum=0.0,
        ),
        max_file_size=_optional_limit(
            "max_file_size",
            layers.pick(max_file_size, "NRPFILES_MAX_FILE_SIZE", ("max_file_size",), _INTEGER, None),
        ),
        proxy=_check_proxy(layers.pick(proxy, "NRPFILES_PROXY", ("proxy",), _TEXT, None)),
    )


# --- resolution -------------------------------------------------------------------------


def _locate(target: str, files: _Files, paths: Sequence[Path]) -> tuple[str, _Entry | None]:
    """The repository URL for a URL or alias, and the configuration entry that goes with it."""
    parsed = _as_http_url(target)
    if parsed is not None:
        return target.rstrip("/"), files.by_url(parsed)
    entry = files.by_alias(target)
    if entry is None:
        known = files.known_aliases()
        listing = f"known aliases: {', '.join(known)}" if known else "no aliases are configured"
        raise ConfigurationError(
            f"{_safe_target(target)} is neither an http(s) URL nor a known alias "
            f"({listing}; looked in {_list_paths(paths)})"
        )
    if not entry.enabled:
        raise ConfigurationError(f"{entry.describe()} is disabled")
    if _as_http_url(entry.url) is None:
        raise ConfigurationError(f"{entry.describe()}: 'url' is not an absolute http(s) URL")
    return entry.url.rstrip("/"), entry


def _pick_token(
    explicit: str | None,
    env: Mapping[str, str],
    url: str,
    files: _Files,
    paths: Sequence[Path],
    entry: _Entry | None,
    *,
    named: bool,
) -> str | None:
    if explicit is not None:
        return explicit or None
    env_token = env.get("NRPFILES_TOKEN")
    if env_token and _env_token_applies(env.get("NRPFILES_URL"), url, files, paths, named):
        return env_token
    if entry is not None:
        file_token = entry.settings.get("token")
        if file_token is not None and not isinstance(file_token, str):
            raise ConfigurationError(f"{entry.describe()}: 'token' must be a string")
        return file_token or None
    return None


def _env_token_applies(
    env_url: str | None, url: str, files: _Files, paths: Sequence[Path], named: bool
) -> bool:
    """NRPFILES_TOKEN belongs to NRPFILES_URL's origin.

    Without NRPFILES_URL it says nothing of where it belongs, so it applies only
    to the repository chosen without naming one (the files' default); a URL or
    alias named in code never receives it.
    """
    if not env_url:
        return not named
    try:
        env_target, _ = _locate(env_url, files, paths)
    except ConfigurationError:
        return False
    env_parsed, parsed = _as_http_url(env_target), _as_http_url(url)
    return env_parsed is not None and parsed is not None and same_origin(env_parsed, parsed)


@attrs.frozen
class _Kind:
    """How a setting is read from an environment variable and checked in a file."""

    description: str
    from_text: Callable[[str], Any]
    accepts: Callable[[Any], bool]


def _bool_from_text(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_BOOL = _Kind("0, 1, true or false", _bool_from_text, lambda value: isinstance(value, bool))
_TEXT = _Kind("a string", str, lambda value: isinstance(value, str))
_NUMBER = _Kind("a number", float, _is_number)
_INTEGER = _Kind(
    "an integer", int, lambda value: isinstance(value, int) and not isinstance(value, bool)
)


@attrs.frozen
class _Layers:
    """The environment and the configuration entry, consulted after explicit arguments."""

    env: Mapping[str, str]
    entry: _Entry | None

    def pick(
        self,
        explicit: Any,
        env_name: str,
        file_names: Sequence[str],
        kind: _Kind,
        default: Any,
    ) -> Any:
        if explicit is not None:
            return explicit
        text = self.env.get(env_name, "").strip()
        if text:
            try:
                return kind.from_text(text)
            except ValueError:
                raise ConfigurationError(
                    f"{env_name} must be {kind.description}, not {text!r}"
                ) from None
        if self.entry is None:
            return default
        for name in file_names:
            value = self.entry.settings.get(name)
            if value is None:
                continue
            if not kind.accepts(value):
                raise ConfigurationError(
                    f"{self.entry.describe()}: {name!r} must be {kind.description}"
                )
            return value
        return default


_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def _check_proxy(value: str | None) -> str | None:
    if not value:
        return value
    scheme, separator, rest = value.partition("://")
    host = rest.rpartition("@")[2].split("/", 1)[0]
    if not separator or scheme.lower() not in _PROXY_SCHEMES or not host.split(":")[0]:
        raise ConfigurationError(
            f"proxy must be a URL such as http://proxy.example:3128 "
            f"({', '.join(_PROXY_SCHEMES)}), not {_redacted(value)}"
        )
    return value


def _optional_limit(name: str, value: int | None) -> int | None:
    return None if value is None else int(_check(name, value, minimum=1))


def _check(name: str, value: Any, *, minimum: float, inclusive: bool = True) -> Any:
    if not _is_number(value) or value < minimum or (value == minimum and not inclusive):
        bound = f"at least {minimum:g}" if inclusive else f"more than {minimum:g}"
        raise ConfigurationError(f"{name} must be a number {bound}, not {value!r}")
    return value
