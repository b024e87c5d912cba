"""A conformance site's one-time set-up, done once and reused by every start.

Setting up a site (tables, users, tokens, vocabularies) takes longer than
starting one. So it is done once per environment and set-up code, into a
private cluster that is then stopped and kept, with the fake search's
documents and the site's secrets, in
``${XDG_CACHE_HOME:-~/.cache}/nrpfiles/conformance/prepared/<key>/``. Each
start copies that cluster into its own work folder and points the default
files location at its own storage: every run still gets a fresh database.

Also here: writing a site's invenio.cfg, which both need.

Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from string import Template

try:
    from .environment import Environment, cache_home, exclusive, log, mark_used, prune_unused
    from .postgres import PrivateCluster
    from .processes import Child, Watchdog, free_ports, http_status, wait_until
except ImportError:  # run from this folder rather than as the conformance package
    from environment import (  # type: ignore[no-redef]
        Environment,
        cache_home,
        exclusive,
        log,
        mark_used,
        prune_unused,
    )
    from postgres import PrivateCluster  # type: ignore[no-redef]
    from processes import (  # type: ignore[no-redef]
        Child,
        Watchdog,
        free_ports,
        http_status,
        wait_until,
    )

HERE = Path(__file__).resolve().parent
SITE = HERE / "site"
FAKE_SEARCH = HERE / "fake_search.py"
# Bump when what a prepared site holds changes in a way the hashed files do not show.
RECIPE = "1"
# the hosts site/invenio.cfg.in trusts
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def prepared_key(environment: Environment) -> str:
    digest = hashlib.sha256()
    for part in (RECIPE, environment.key, str(environment.postgres_bin)):
        digest.update(part.encode() + b"\0")
    for path in [*sorted(SITE.iterdir()), FAKE_SEARCH]:
        if path.suffix in (".py", ".in"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def site_environment(instance: Path) -> dict[str, str]:
    """Environment variables for the site's scripts: theirs, not the caller's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("INVENIO_", "PYTHON", "VIRTUAL_ENV"))
    }
    return env | {"INVENIO_INSTANCE_PATH": str(instance), "PYTHONPATH": str(SITE)}


def write_invenio_cfg(
    instance: Path,
    *,
    secret_key: str,
    database_uri: str,
    search_port: int,
    site_url: str,
    eager: bool,
    storage_settings: str = "",
) -> None:
    """The site's invenio.cfg; ``site_url`` is the UI root its links use (the API under /api)."""
    instance.mkdir(parents=True, exist_ok=True)
    values = {
        "secret_key": secret_key,
        "database_uri": database_uri,
        "search_port": search_port,
        "site_ui_url": site_url,
        "site_api_url": site_url + "/api",
        "eager": eager,
    }
    text = Template((SITE / "invenio.cfg.in").read_text()).substitute(
        {name: repr(value) for name, value in values.items()},
        storage_settings=storage_settings,
    )
    # The template trusts loopback; a site reached under another name trusts that too.
    host = urllib.parse.urlsplit(site_url).hostname
    if host and host not in LOOPBACK_HOSTS:
        text += f"\n# The site's public host.\nTRUSTED_HOSTS = {[*LOOPBACK_HOSTS, host]!r}\n"
    (instance / "invenio.cfg").write_text(text)


def start_fake_search(
    folder: Path, watchdog: Watchdog, load: Path | None = None
) -> tuple[Child, int]:
    port = free_ports(1)[0]
    argv = [sys.executable, "-I", str(FAKE_SEARCH), "--port", str(port)]
    if load is not None:
        argv += ["--load", str(load)]
    return Child("fake-search", argv, folder / "fake-search.log", watchdog=watchdog), port


def wait_fake_search(child: Child, port: int) -> None:
    wait_until(
        lambda: http_status(f"http://127.0.0.1:{port}/", timeout=2) == 200, child, 30, "answering"
    )


def ensure_prepared(environment: Environment, watchdog: Watchdog) -> Path:
    """The folder of the prepared site for this environment, set up first if missing."""
    final = cache_home() / "prepared" / prepared_key(environment)
    if not (final / "site.json").exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        with exclusive(final.parent / f".{final.name}.lock"):
            if not (final / "site.json").exists():
                _prepare(environment, watchdog, final)
                prune_unused(final.parent, keep=final)
    mark_used(final)
    return final


def _prepare(environment: Environment, watchdog: Watchdog, final: Path) -> None:
    log("setting up a site once (tables, users, tokens, vocabularies)")
    # Outside the cache: the cluster's owner (postgres) must reach it, and may not reach $HOME.
    work = Path(tempfile.mkdtemp(prefix="nrpfiles-prepare-"))
    work.chmod(0o711)
    watchdog.tell(f"path {work}")
    cluster = PrivateCluster(environment.postgres_bin, work / "pg", watchdog)
    search: Child | None = None
    try:
        cluster.initialise()
        cluster.start()
        search, search_port = start_fake_search(work, watchdog)
        cluster.wait_ready()
        cluster.create_database()
        wait_fake_search(search, search_port)
        secret_key = secrets.token_urlsafe(48)
        write_invenio_cfg(
            work / "instance",
            secret_key=secret_key,
            database_uri=cluster.database_uri,
            search_port=search_port,
            site_url="http://127.0.0.1",
            eager=True,
        )
        tokens = _run_setup(environment, work, watchdog)
        with urllib.request.urlopen(f"http://127.0.0.1:{search_port}/_fake/dump") as answer:
            documents = answer.read()
        search.stop()
        cluster.stop()
        _keep(final, cluster.data, documents, tokens | {"secret_key": secret_key})
    finally:
        if search is not None:
            search.stop()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def _run_setup(environment: Environment, work: Path, watchdog: Watchdog) -> dict[str, str]:
    output = work / "setup.out"
    with open(output, "wb") as stdout:
        setup = Child(
            "set-up",
            [
                str(environment.python),
                str(SITE / "setup_site.py"),
                "--location",
                f"file://{work / 'files'}",
            ],
            work / "setup.log",
            watchdog=watchdog,
            stdout=stdout.fileno(),
            env=site_environment(work / "instance"),
        )
    try:
        code = setup.process.wait(timeout=600)
    except subprocess.TimeoutExpired:
        setup.stop()
        raise RuntimeError(f"the set-up took over 10 minutes:\n{setup.log_tail()}") from None
    if code != 0:
        raise RuntimeError(f"the set-up failed ({code}):\n{setup.log_tail()}")
    return json.loads(output.read_text().strip().splitlines()[-1])


def _keep(final: Path, data: Path, documents: bytes, site: dict[str, str]) -> None:
    """Store the stopped cluster and the rest in the cache, appearing whole or not at all."""
    building = Path(tempfile.mkdtemp(prefix=f".build-{final.name}-", dir=final.parent))
    try:
        subprocess.run(["cp", "-a", str(data), str(building / "pgdata")], check=True)
        (building / "search.json").write_bytes(documents)
        (building / "site.json").write_text(json.dumps(site))
        (building / "site.json").chmod(0o600)  # tokens and the secret key
        os.rename(building, final)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
