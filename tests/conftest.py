"""Isolation for every test: no real configuration file or environment leaks in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_configuration(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    saved = {k: v for k, v in os.environ.items() if k.startswith("NRPFILES_")}
    for name in saved:
        del os.environ[name]
    previous = {k: os.environ.get(k) for k in ("NRP_CMD_CONFIG_PATH", "XDG_CONFIG_HOME", "HOME")}
    os.environ["NRPFILES_CONFIG"] = str(home / "nrpfiles.json")
    os.environ["NRP_CMD_CONFIG_PATH"] = str(home / "invenio-config.json")
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    os.environ["NRPFILES_NO_PROGRESS"] = "1"
    try:
        yield home
    finally:
        for name in [k for k in os.environ if k.startswith("NRPFILES_")]:
            del os.environ[name]
        os.environ.update(saved)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
