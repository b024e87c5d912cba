from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from nrpfiles.config import (
    RepositoryConfig,
    default_config_paths,
    resolve_config,
    save_repository,
)
from nrpfiles.errors import ConfigurationError, RepositoryError

SECRET = "tok-SECRET-123"
OTHER_SECRET = "tok-OTHER-456"
ENV_SECRET = "tok-ENV-789"


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
def nrp_cmd_file(tmp_path: Path) -> Path:
    """A file as nrp-cmd writes it: every field of its RepositoryConfig, plus its own keys."""
    return write(
        tmp_path / "invenio-config.json",
        {
            "repositories": [
                {
                    "alias": "zenodo",
                    "url": "https://zenodo.org/api",
                    "token": SECRET,
                    "auth_method": "Bearer",
                    "verify_tls": True,
                    "retry_count": 10,
                    "retry_after_seconds": 12,
                    "info": None,
                    "enabled": True,
                },
                {
                    "alias": "test",
                    "url": "https://test.example.org",
                    "token": OTHER_SECRET,
                    "verify_tls": False,
                    "retry_count": 2,
                    "retry_after_seconds": 1,
                },
                {"alias": "retired", "url": "https://old.example.org", "enabled": False},
            ],
            "default_alias": "zenodo",
            "per_directory_variables": True,
            "datacite_url": None,
        },
    )


@pytest.fixture
def our_file(tmp_path: Path) -> Path:
    return write(
        tmp_path / "config.json",
        {
            "repositories": [
                {
                    "alias": "mine",
                    "url": "https://mine.example.org/",
                    "token": "tok-mine",
                    "timeout": 99,
                    "connect_timeout": 3,
                    "retry_attempts": 7,
                    "retry_max_wait": 4.5,
                    "ca_bundle": "/etc/ssl/mine.pem",
                },
                # Shadows nrp-cmd's alias of the same name: our file is read first.
                {"alias": "test", "url": "https://test.example.org", "token": "tok-ours"},
            ],
        },
    )


def resolve(
    *args: Any, env: dict[str, str] | None = None, paths: list[Path], **kwargs: Any
) -> RepositoryConfig:
    return resolve_config(*args, environ=env or {}, config_paths=paths, **kwargs)


def test_defaults_for_a_bare_url(tmp_path: Path) -> None:
    config = resolve("https://repo.example.org/", paths=[tmp_path / "none.json"])
    assert config == RepositoryConfig(url="https://repo.example.org")
    assert config.token is None
    assert config.alias is None
    assert (config.verify_tls, config.ca_bundle) == (True, None)
    assert (config.timeout, config.connect_timeout) == (30.0, 10.0)
    assert (config.retry_attempts, config.retry_max_wait) == (5, 30.0)


def test_nrp_cmd_alias_with_its_field_names(nrp_cmd_file: Path) -> None:
    config = resolve("zenodo", paths=[nrp_cmd_file])
    assert config.url == "https://zenodo.org/api"
    assert config.alias == "zenodo"
    assert config.token == SECRET
    assert config.retry_attempts == 10
    assert config.retry_max_wait == 12.0
    assert isinstance(config.retry_max_wait, float)
    test = resolve("test", paths=[nrp_cmd_file])
    assert (test.verify_tls, test.retry_attempts, test.token) == (False, 2, OTHER_SECRET)


def test_default_alias_when_nothing_is_given(nrp_cmd_file: Path) -> None:
    assert resolve(paths=[nrp_cmd_file]).alias == "zenodo"


def test_our_file_is_read_before_nrp_cmd_file(our_file: Path, nrp_cmd_file: Path) -> None:
    paths = [our_file, nrp_cmd_file]
    assert resolve("test", paths=paths).token == "tok-ours"
    mine = resolve("mine", paths=paths)
    assert mine.url == "https://mine.example.org"
    assert (mine.timeout, mine.connect_timeout) == (99.0, 3.0)
    assert (mine.retry_attempts, mine.retry_max_wait) == (7, 4.5)
    assert mine.ca_bundle == "/etc/ssl/mine.pem"
    # nrp-cmd's default_alias applies when ours has none.
    assert resolve(paths=paths).alias == "zenodo"


def test_default_alias_of_our_file_wins(tmp_path: Path, nrp_cmd_file: Path) -> None:
    ours = write(tmp_path / "ours.json", {"repositories": [], "default_alias": "test"})
    assert resolve(paths=[ours, nrp_cmd_file]).alias == "test"


def test_url_picks_up_token_and_settings_of_a_same_origin_entry(nrp_cmd_file: Path) -> None:
    config = resolve("https://zenodo.org", paths=[nrp_cmd_file])
    assert config.url == "https://zenodo.org"
    assert config.alias == "zenodo"
    assert config.token == SECRET
    assert config.retry_attempts == 10


def test_url_on_another_origin_gets_no_file_token(nrp_cmd_file: Path) -> None:
    for url in (
        "https://elsewhere.org",
        "http://zenodo.org",  # another scheme
        "https://zenodo.org:8443",  # another port
        "https://zenodo.org.evil.example",
    ):
        config = resolve(url, paths=[nrp_cmd_file])
        assert config.token is None, url
        assert config.alias is None


def test_url_matching_prefers_the_longest_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        {
            "repositories": [
                {"alias": "a", "url": "https://host.example/a", "token": "ta"},
                {"alias": "ab", "url": "https://host.example/a/b", "token": "tab"},
                {"alias": "c", "url": "https://host.example/c", "token": "tc"},
            ]
        },
    )
    assert resolve("https://host.example/a/b/api", paths=[path]).alias == "ab"
    assert resolve("https://host.example/a/x", paths=[path]).alias == "a"
    assert resolve("https://host.example/c", paths=[path]).alias == "c"
    # Same origin, no path match: the first entry of that origin.
    assert resolve("https://host.example/", paths=[path]).alias == "a"


def test_disabled_entries_are_skipped(nrp_cmd_file: Path) -> None:
    assert resolve("https://old.example.org", paths=[nrp_cmd_file]).alias is None
    with pytest.raises(ConfigurationError, match=r"'retired' .* is disabled"):
        resolve("retired", paths=[nrp_cmd_file])


def test_unknown_alias_lists_known_aliases_and_no_tokens(nrp_cmd_file: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve("zenodoo", paths=[nrp_cmd_file])
    message = str(caught.value)
    assert "'zenodoo'" in message
    assert "known aliases: test, zenodo" in message
    assert str(nrp_cmd_file) in message
    assert SECRET not in message and OTHER_SECRET not in message
    assert isinstance(caught.value, RepositoryError)
    assert isinstance(caught.value, ValueError)


def test_no_repository_at_all_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no repository given.*NRPFILES_URL"):
        resolve(paths=[tmp_path / "missing.json"])


def test_precedence_argument_then_environment_then_file(our_file: Path) -> None:
    paths = [our_file]
    env = {
        "NRPFILES_TIMEOUT": "11",
        "NRPFILES_CONNECT_TIMEOUT": "2.5",
        "NRPFILES_RETRY_ATTEMPTS": "3",
        "NRPFILES_RETRY_MAX_WAIT": "0",
        "NRPFILES_VERIFY_TLS": "false",
        "NRPFILES_CA_BUNDLE": "/env/ca.pem",
    }
    from_file = resolve("mine", paths=paths)
    assert from_file.timeout == 99.0

    from_env = resolve("mine", env=env, paths=paths)
    assert (from_env.timeout, from_env.connect_timeout) == (11.0, 2.5)
    assert (from_env.retry_attempts, from_env.retry_max_wait) == (3, 0.0)
    assert (from_env.verify_tls, from_env.ca_bundle) == (False, "/env/ca.pem")

    explicit = resolve(
        "mine",
        env=env,
        paths=paths,
        timeout=1,
        connect_timeout=1,
        retry_attempts=1,
        retry_max_wait=1,
        verify_tls=True,
        ca_bundle="/arg/ca.pem",
        token="tok-arg",
    )
    assert (explicit.timeout, explicit.connect_timeout) == (1.0, 1.0)
    assert (explicit.retry_attempts, explicit.retry_max_wait) == (1, 1.0)
    assert (explicit.verify_tls, explicit.ca_bundle) == (True, "/arg/ca.pem")
    assert explicit.token == "tok-arg"


def test_explicit_false_is_not_ignored(our_file: Path) -> None:
    env = {"NRPFILES_VERIFY_TLS": "1"}
    assert resolve("mine", env=env, paths=[our_file], verify_tls=False).verify_tls is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", False), ("1", True), ("false", False), ("TRUE", True), ("no", False), ("on", True)],
)
def test_verify_tls_from_environment(tmp_path: Path, text: str, expected: bool) -> None:
    env = {"NRPFILES_VERIFY_TLS": text}
    assert resolve("https://r.example", env=env, paths=[]).verify_tls is expected


def test_environment_url_and_token(tmp_path: Path) -> None:
    env = {"NRPFILES_URL": "https://env.example.org/api", "NRPFILES_TOKEN": ENV_SECRET}
    config = resolve(env=env, paths=[])
    assert (config.url, config.token) == ("https://env.example.org/api", ENV_SECRET)


def test_environment_token_beats_the_file_token(nrp_cmd_file: Path) -> None:
    env = {"NRPFILES_URL": "https://zenodo.org", "NRPFILES_TOKEN": ENV_SECRET}
    assert resolve("zenodo", env=env, paths=[nrp_cmd_file]).token == ENV_SECRET


def test_environment_token_never_goes_to_another_origin(nrp_cmd_file: Path) -> None:
    env = {"NRPFILES_URL": "https://env.example.org", "NRPFILES_TOKEN": ENV_SECRET}
    # An explicit URL elsewhere: the environment token stays home.
    assert resolve("https://elsewhere.org", env=env, paths=[]).token is None
    # An alias elsewhere: that entry's own token, not the environment's.
    assert resolve("zenodo", env=env, paths=[nrp_cmd_file]).token == SECRET
    # Same host, other port: another origin.
    assert resolve("https://env.example.org:444", env=env, paths=[]).token is None
    # Same origin, any path: the token applies.
    assert resolve("https://env.example.org/api", env=env, paths=[]).token == ENV_SECRET


def test_environment_url_may_be_an_alias(nrp_cmd_file: Path) -> None:
    env = {"NRPFILES_URL": "test", "NRPFILES_TOKEN": ENV_SECRET}
    config = resolve(env=env, paths=[nrp_cmd_file])
    assert (config.alias, config.token) == ("test", ENV_SECRET)
    assert resolve("zenodo", env=env, paths=[nrp_cmd_file]).token == SECRET


def test_environment_token_without_environment_url_goes_to_no_named_repository(
    nrp_cmd_file: Path,
) -> None:
    env = {"NRPFILES_TOKEN": ENV_SECRET}
    # A URL or alias named in code may be anywhere: the token does not follow it.
    assert resolve("https://any.example.org", env=env, paths=[]).token is None
    assert resolve("zenodo", env=env, paths=[nrp_cmd_file]).token == SECRET
    # Nothing named: the files' default repository is the one meant.
    default = resolve(env=env, paths=[nrp_cmd_file])
    assert default.token == ENV_SECRET


def test_empty_token_argument_means_no_token(nrp_cmd_file: Path) -> None:
    env = {"NRPFILES_TOKEN": ENV_SECRET}
    assert resolve("zenodo", env=env, paths=[nrp_cmd_file], token="").token is None


def test_token_is_never_shown(nrp_cmd_file: Path) -> None:
    config = resolve("zenodo", paths=[nrp_cmd_file])
    assert config.token == SECRET
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert "token='***'" in repr(config)
    assert "token=None" in repr(resolve("https://x.example", paths=[]))


def test_url_secrets_are_masked_in_repr() -> None:
    config = RepositoryConfig(url="https://r.example/api?access_token=abc123")
    assert "abc123" not in repr(config)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("NRPFILES_TIMEOUT", "soon", "NRPFILES_TIMEOUT must be a number"),
        ("NRPFILES_TIMEOUT", "0", "timeout must be a number more than 0"),
        ("NRPFILES_CONNECT_TIMEOUT", "-1", "connect_timeout must be a number more than 0"),
        ("NRPFILES_RETRY_ATTEMPTS", "2.5", "NRPFILES_RETRY_ATTEMPTS must be an integer"),
        ("NRPFILES_RETRY_ATTEMPTS", "0", "retry_attempts must be a number at least 1"),
        ("NRPFILES_RETRY_MAX_WAIT", "-3", "retry_max_wait must be a number at least 0"),
        ("NRPFILES_VERIFY_TLS", "maybe", "NRPFILES_VERIFY_TLS must be 0, 1, true or false"),
    ],
)
def test_bad_environment_values(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        resolve("https://r.example", env={name: value}, paths=[])


def test_bad_file_values_name_the_entry_but_not_the_token(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        {
            "repositories": [
                {"alias": "x", "url": "https://x.example", "token": SECRET, "timeout": "long"}
            ]
        },
    )
    with pytest.raises(ConfigurationError) as caught:
        resolve("x", paths=[path])
    assert "repository 'x'" in str(caught.value)
    assert "'timeout' must be a number" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_broken_file_is_reported_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"repositories": [{"token": "' + SECRET + '"', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        resolve("https://x.example", paths=[path])
    assert str(path) in str(caught.value)
    assert "not valid JSON" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_missing_and_empty_files_are_ignored(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    assert resolve("https://x.example", paths=[tmp_path / "missing.json", empty]).token is None


def test_entries_without_alias_or_url_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        {
            "repositories": [
                {"url": "https://no-alias.example"},
                {"alias": "no-url"},
                "garbage",
                {"alias": "ok", "url": "https://ok.example", "future_setting": {"a": 1}},
            ],
            "something_new": True,
        },
    )
    assert resolve("ok", paths=[path]).url == "https://ok.example"


def test_old_nrp_cmd_verify_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        {
            "repositories": [
                {"alias": "a", "url": "https://a.example", "verify": False},
                {"alias": "b", "url": "https://b.example", "verify": "/etc/ca.pem"},
            ]
        },
    )
    assert resolve("a", paths=[path]).verify_tls is False
    b = resolve("b", paths=[path])
    assert (b.verify_tls, b.ca_bundle) == (True, "/etc/ca.pem")


def test_default_paths_honour_the_environment(tmp_path: Path) -> None:
    home = str(tmp_path)
    assert default_config_paths({"HOME": home}) == [
        tmp_path / ".config" / "nrpfiles" / "config.json",
        tmp_path / ".nrp" / "invenio-config.json",
    ]
    assert default_config_paths({"HOME": home, "XDG_CONFIG_HOME": str(tmp_path / "xdg")})[0] == (
        tmp_path / "xdg" / "nrpfiles" / "config.json"
    )
    assert default_config_paths(
        {"HOME": home, "NRPFILES_CONFIG": "/a/b.json", "NRP_CMD_CONFIG_PATH": "/c/d.json"}
    ) == [Path("/a/b.json"), Path("/c/d.json")]


def test_resolve_reads_the_files_the_environment_names(tmp_path: Path, nrp_cmd_file: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "NRP_CMD_CONFIG_PATH": str(nrp_cmd_file)}
    assert resolve_config("zenodo", environ=env).token == SECRET


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_save_repository_writes_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "config.json"
    written = save_repository("mine", "https://mine.example", token=SECRET, path=path, default=True)
    assert written == path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "repositories": [
            {"alias": "mine", "url": "https://mine.example", "verify_tls": True, "token": SECRET}
        ],
        "default_alias": "mine",
    }
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]
    config = resolve(paths=[path])
    assert (config.alias, config.token) == ("mine", SECRET)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_save_repository_replaces_an_entry_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.json",
        {
            "repositories": [
                {"alias": "a", "url": "https://a.example", "token": "old", "retry_count": 3},
                {"alias": "b", "url": "https://b.example"},
            ],
            "default_alias": "b",
            "custom": 1,
        },
    )
    os.chmod(path, 0o644)
    save_repository("a", "https://a2.example", verify_tls=False, path=path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["repositories"] == [
        {"alias": "a", "url": "https://a2.example", "retry_count": 3, "verify_tls": False},
        {"alias": "b", "url": "https://b.example"},
    ]
    assert document["default_alias"] == "b"
    assert document["custom"] == 1
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_save_repository_does_not_change_an_existing_directory(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    save_repository("a", "https://a.example", path=tmp_path / "c.json")
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o755


def test_save_repository_default_path_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NRPFILES_CONFIG", str(tmp_path / "ours.json"))
    assert save_repository("a", "https://a.example") == tmp_path / "ours.json"


@pytest.mark.parametrize(
    ("alias", "url"),
    [
        ("", "https://a.example"),
        ("https://a.example", "https://a.example"),
        ("a", "a.example"),
        ("a", "ftp://a"),
    ],
)
def test_save_repository_checks_its_arguments(tmp_path: Path, alias: str, url: str) -> None:
    with pytest.raises(ConfigurationError):
        save_repository(alias, url, path=tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()


def test_save_repository_refuses_to_overwrite_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        save_repository("a", "https://a.example", path=path)
    assert path.read_text(encoding="utf-8") == "[1, 2]"


def test_max_file_size_comes_from_argument_environment_or_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        {"repositories": [{"alias": "z", "url": "https://z.example", "max_file_size": 50}]},
    )
    assert resolve_config("z", config_paths=[path], environ={}).max_file_size == 50
    env = {"NRPFILES_MAX_FILE_SIZE": "70"}
    assert resolve_config("z", config_paths=[path], environ=env).max_file_size == 70
    assert resolve_config("z", max_file_size=9, config_paths=[path], environ=env).max_file_size == 9
    assert resolve_config("https://o.example", config_paths=[], environ={}).max_file_size is None
    with pytest.raises(ConfigurationError):
        resolve_config("z", max_file_size=0, config_paths=[path], environ={})
