"""Isolation for every test: no real configuration file or environment leaks in."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http_proxy import ForwardProxy, forward_proxy
from tests.servers import (
    LOCAL,
    LOCAL_NRP,
    REFUSE_DIRECT_ACTIONS,
    RepositoryUnderTest,
    local_server,
    selected,
    started,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--servers",
        # the local repository as plain InvenioRDM and as NRP on S3: a bare `pytest` runs both
        default=f"{LOCAL},{LOCAL_NRP}",
        help="comma-separated servers for integration tests: local, local-nrp, invenio-file, "
        "invenio-s3 (default: local,local-nrp; the real InvenioRDM ones need the conformance "
        "environment; see README)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "repository_server" in metafunc.fixturenames:
        names = selected(metafunc.config.getoption("--servers"))
        metafunc.parametrize("repository_server", names, indirect=True, scope="session")


def _refused_direct_actions(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    server = None if callspec is None else callspec.params.get("repository_server")
    return server in REFUSE_DIRECT_ACTIONS and item.get_closest_marker("direct_actions") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the local repository among the servers, only cases that take a server run.

    Cases about InvenioRDM's direct action links do not run on servers that refuse them.
    """
    kept = [item for item in items if not _refused_direct_actions(item)]
    if LOCAL not in selected(config.getoption("--servers")):
        kept = [item for item in kept if "repository_server" in getattr(item, "fixturenames", ())]
    kept_ids = {id(item) for item in kept}
    deselected = [item for item in items if id(item) not in kept_ids]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def repository_server(request: pytest.FixtureRequest) -> Iterator[RepositoryUnderTest]:
    if request.param == LOCAL:
        # The same server as the local_repository fixture, so tests may use both.
        yield local_server(request.getfixturevalue("local_repository_session"))
        return
    with started(request.param) as server:
        yield server


@pytest.fixture(autouse=True)
def every_transfer_verified(request: pytest.FixtureRequest) -> Iterator[None]:
    """Against any server, an upload or download the client could not verify fails the case."""
    if "repository_server" not in request.fixturenames or request.node.get_closest_marker(
        "unverified"
    ):
        yield
        return
    caplog: pytest.LogCaptureFixture = request.getfixturevalue("caplog")
    caplog.set_level(logging.WARNING, logger="nrpfiles")
    yield
    unverified = [
        record.getMessage()
        for record in caplog.get_records("call")
        if record.name == "nrpfiles" and "not verified" in record.getMessage()
    ]
    assert not unverified, f"transfers left unverified: {unverified}"


@pytest.fixture
def repository(repository_server: RepositoryUnderTest) -> Iterator[RepositoryUnderTest]:
    repository_server.reset()
    yield repository_server
    # Faults left on by a case that failed half-way must not reach the next one.
    repository_server.faults.clear()


_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


@pytest.fixture(autouse=True)
def isolated_configuration(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    # The machine's proxy variables would route the loopback servers through its proxy.
    saved = {
        k: v for k, v in os.environ.items() if k.startswith("NRPFILES_") or k.lower() in _PROXY_VARS
    }
    for name in saved:
        del os.environ[name]
    previous = {
        k: os.environ.get(k)
        for k in ("NRP_CMD_CONFIG_PATH", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "HOME")
    }
    os.environ["NRPFILES_CONFIG"] = str(home / "nrpfiles.json")
    os.environ["NRP_CMD_CONFIG_PATH"] = str(home / "invenio-config.json")
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    os.environ["XDG_CACHE_HOME"] = str(home / ".cache")  # upload journals
    os.environ["NRPFILES_NO_PROGRESS"] = "1"
    try:
        yield home
    finally:
        for name in [
            k for k in os.environ if k.startswith("NRPFILES_") or k.lower() in _PROXY_VARS
        ]:
            del os.environ[name]
        os.environ.update(saved)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def proxy_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForwardProxy]:
    with forward_proxy(tmp_path_factory.mktemp("proxy"), credentials=PROXY_CREDENTIALS) as proxy:
        yield proxy


@pytest.fixture
def http_proxy(proxy_session: ForwardProxy) -> ForwardProxy:
    """A real forward proxy on loopback that demands credentials; its log starts empty."""
    proxy_session.forget()
    return proxy_session


PROXY_CREDENTIALS = "researcher:proxy-secret"
