# Generated from tests/_async/test_configured_client.py by scripts/gen_sync.py: do not edit.
# body-sha256: f0bbc8fb7678dacf389f481640dca4a58588df4002cd65df03c0105d7fcdae6f
"""Clients built from configuration: aliases from nrp-cmd's file and nrpfiles' own."""

from __future__ import annotations

import json
import os

import pytest

from nrpfiles import get_sync_client
from nrpfiles.config import save_repository
from nrpfiles.errors import ConfigurationError


def test_an_nrp_cmd_alias_gives_a_working_client(local_repository, isolated_configuration):
    nrp_cmd_file = isolated_configuration / "invenio-config.json"
    nrp_cmd_file.write_text(
        json.dumps(
            {
                "repositories": [
                    {
                        "alias": "my-alias",
                        "url": local_repository.url,
                        "token": local_repository.token,
                        "verify_tls": True,
                        "retry_count": 2,
                        "retry_after_seconds": 1,
                    }
                ],
                "default_alias": "my-alias",
            }
        )
    )
    client = get_sync_client("my-alias")
    with client:
        draft = client.records.create({"metadata": {"title": "from an alias"}})
        assert draft.is_draft  # creating a draft needs the alias's token
        assert client.config.retry_attempts == 2
    default = get_sync_client()  # the file's default alias
    with default:
        assert default.url == local_repository.url


def test_an_alias_saved_by_nrpfiles_gives_a_working_client(local_repository):
    path = save_repository(
        "local", local_repository.url, token=local_repository.token, default=True
    )
    assert os.stat(path).st_mode & 0o777 == 0o600
    client = get_sync_client("local")
    with client:
        files = client.files.list(
            client.records.create({"metadata": {"title": "saved alias"}})
        )
        assert len(files) == 0


def test_environment_beats_the_file_and_arguments_beat_both(
    local_repository, isolated_configuration, monkeypatch
):
    save_repository("local", "http://127.0.0.1:9", token="from-file", default=True)
    monkeypatch.setenv("NRPFILES_URL", local_repository.url)
    monkeypatch.setenv("NRPFILES_TOKEN", local_repository.token)
    client = get_sync_client()
    with client:
        assert client.url == local_repository.url
        client.records.create({"metadata": {"title": "env token"}})
    explicit = get_sync_client(local_repository.url, token=local_repository.token)
    with explicit:
        assert explicit.config.token == local_repository.token


def test_an_unknown_alias_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="nope"):
        get_sync_client("nope")
