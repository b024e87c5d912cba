"""The proxy setting: where it comes from, what is refused, and that its password stays hidden."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from nrpfiles import AsyncClient, Client
from nrpfiles._transport import proxy_routes
from nrpfiles.config import resolve_config
from nrpfiles.errors import ConfigurationError

URL = "https://repo.example.org"
PROXY = "http://alice:pa55word@proxy.example.org:3128"


def config_file(tmp_path: Path, **settings: object) -> list[Path]:
    path = tmp_path / "config.json"
    entry = {"alias": "here", "url": URL, **settings}
    path.write_text(json.dumps({"repositories": [entry]}), encoding="utf-8")
    return [path]


def test_argument_then_environment_then_file(tmp_path: Path) -> None:
    paths = config_file(tmp_path, proxy="http://file-proxy:1")
    env = {"NRPFILES_PROXY": "http://env-proxy:2"}
    assert resolve_config("here", environ={}, config_paths=paths).proxy == "http://file-proxy:1"
    assert resolve_config("here", environ=env, config_paths=paths).proxy == "http://env-proxy:2"
    explicit = resolve_config("here", proxy=PROXY, environ=env, config_paths=paths)
    assert explicit.proxy == PROXY
    assert resolve_config("here", proxy="", environ=env, config_paths=paths).proxy == ""
    assert resolve_config(URL, environ={}, config_paths=[]).proxy is None


@pytest.mark.parametrize(
    "bad", ["proxy.example.org:3128", "ftp://proxy.example.org", "http://", "http://:3128"]
)
def test_a_proxy_that_is_not_a_proxy_url_is_refused_before_anything_is_sent(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="proxy must be a URL"):
        resolve_config(URL, proxy=bad, environ={}, config_paths=[])


def test_a_proxy_in_the_file_must_be_text(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="'proxy' must be a string"):
        resolve_config("here", environ={}, config_paths=config_file(tmp_path, proxy=3128))


def test_the_proxy_password_is_in_no_repr_nor_error() -> None:
    config = resolve_config(URL, proxy=PROXY, environ={}, config_paths=[])
    assert "pa55word" not in repr(config) and "alice" in repr(config)
    with pytest.raises(ConfigurationError) as refused:
        resolve_config(URL, proxy="gopher://alice:pa55word@proxy", environ={}, config_paths=[])
    assert "pa55word" not in str(refused.value)
    for client_class in (Client, AsyncClient):
        client = client_class(URL, proxy=PROXY)
        assert "pa55word" not in repr(client) + repr(client.config)


def test_routes_follow_httpx_reading_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://tls-proxy:1")
    monkeypatch.setenv("HTTP_PROXY", "http://plain-proxy:2")
    monkeypatch.setenv("NO_PROXY", "internal.example,10.0.0.1,::1,localhost")
    routes = {
        pattern: None if proxy is None else str(proxy.url)
        for pattern, proxy in proxy_routes(None).items()
    }
    assert routes == {
        "https://": "http://tls-proxy:1",
        "http://": "http://plain-proxy:2",
        "all://*internal.example": None,
        "all://10.0.0.1": None,
        "all://[::1]": None,
        "all://localhost": None,
    }
    assert proxy_routes("") == {}
    assert list(proxy_routes(PROXY)) == ["all://"]


def test_a_socks_proxy_without_socksio_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "socksio" else real_find_spec(name, *args),
    )
    with pytest.raises(ConfigurationError, match=r"httpx\[socks\]") as refused:
        Client(URL, proxy="socks5://alice:pa55word@proxy.example.org:1080")
    assert "pa55word" not in str(refused.value)


def test_a_proxy_and_a_transport_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="transport is the route"):
        Client(URL, proxy=PROXY, transport=httpx.MockTransport(lambda request: httpx.Response(200)))
