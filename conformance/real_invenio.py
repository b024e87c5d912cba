"""Start the real InvenioRDM 14 on loopback, for the conformance stage; stop it cleanly.

    with RealInvenio(storage="s3") as site:
        httpx.get(site.api_url + "/records", headers={"Authorization": f"Bearer {site.token}"})

A site is a private PostgreSQL cluster, a fake search endpoint, SeaweedFS
(S3 only) and InvenioRDM's app under werkzeug, each a child process,
everything on 127.0.0.1. The InvenioRDM environment is installed and cached
by ``environment.py``, the one-time set-up by ``prepared.py``; the site's
own files (invenio.cfg template, set-up and serve scripts, stand-ins) are
in ``site/``. Timings of each phase go to stderr.

Leaving the ``with`` block, a KeyboardInterrupt, or a SIGTERM to this
process stops everything started and removes the work folder; if this
process is killed outright, its children die with it and a watchdog
removes the rest. Set NRPFILES_CONFORMANCE_KEEP=1 to keep the work folder
(logs, database) for a look afterwards.

Standard library only, any Python 3.10+: it runs the site's scripts with
the InvenioRDM environment's Python.

    python3 conformance/real_invenio.py --storage s3 [--lazy|--eager]

prints ``Repository: <url>`` and ``Token: <token>`` first, then serves until
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

try:
    from .environment import ensure_environment, log
    from .postgres import PrivateCluster
    from .prepared import (
        SITE,
        ensure_prepared,
        site_environment,
        start_fake_search,
        wait_fake_search,
        write_invenio_cfg,
    )
    from .processes import Child, Watchdog, free_ports, http_status, wait_until
    from .seaweed import SeaweedS3
except ImportError:  # run as a script rather than as the conformance package
    from environment import ensure_environment, log  # type: ignore[no-redef]
    from postgres import PrivateCluster  # type: ignore[no-redef]
    from prepared import (  # type: ignore[no-redef]
        SITE,
        ensure_prepared,
        site_environment,
        start_fake_search,
        wait_fake_search,
        write_invenio_cfg,
    )
    from processes import (  # type: ignore[no-redef]
        Child,
        Watchdog,
        free_ports,
        http_status,
        wait_until,
    )
    from seaweed import SeaweedS3  # type: ignore[no-redef]

STORAGES = ("file", "s3")
START_TIMEOUT = 300.0  # seconds for the app to answer; about 20 are usual on 2 cores


@contextlib.contextmanager
def phase(name: str, timings: dict[str, float]) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[name] = time.monotonic() - started
        log(f"{name}: {timings[name]:.1f} s")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class RealInvenio:
    """A real InvenioRDM 14 site on 127.0.0.1, for as long as the ``with`` block lasts.

    storage: "file" (a folder) or "s3" (SeaweedFS). eager: whether Celery
    runs post-commit tasks inside the request; by default eager on a file
    store and not on S3, where a multipart checksum then stays
    "multipart:...", as behind a busy worker. work_dir: an empty or new
    folder for everything of this site (default: a new temporary folder);
    it is removed at the end either way (unless NRPFILES_CONFORMANCE_KEEP
    is set), a non-empty one is refused. public_url: the site's address as
    its users reach it, when something (a reverse proxy) stands in front of
    the app: http://host:port, which the app then uses in every link
    (SITE_UI_URL, SITE_API_URL) and trusts as a host (TRUSTED_HOSTS); url
    is then that, and app_url where the app itself listens. By default both
    are the app's own address.
    """

    def __init__(
        self,
        storage: str = "file",
        eager: bool | None = None,
        work_dir: str | os.PathLike[str] | None = None,
        public_url: str | None = None,
    ) -> None:
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {STORAGES}, not {storage!r}")
        self.public_url = _checked_public_url(public_url) if public_url is not None else None
        self.storage = storage
        self.eager = storage == "file" if eager is None else bool(eager)
        self.url = ""  # the UI root, e.g. http://127.0.0.1:18123; the API is under /api
        self.api_url = ""
        self.app_url = ""  # where the app listens: url itself unless a public_url is given
        self.token = ""  # a personal token of the owner of what the tests create
        self.other_token = ""  # a second user's, for what one user must not touch
        self.s3_endpoint: str | None = None
        self.timings: dict[str, float] = {}
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.log_files: dict[str, Path] = {}
        self._children: list[tuple[Child, Any]] = []  # (child, how to stop it), in start order
        self._watchdog: Watchdog | None = None
        self._cluster: PrivateCluster | None = None
        self._previous_sigterm: Any = None
        self._owns_work_dir = False

    def __enter__(self) -> RealInvenio:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- starting --------------------------------------------------------------

    def start(self) -> None:
        if threading.current_thread() is threading.main_thread():
            # A SIGTERM becomes a KeyboardInterrupt, which unwinds through our cleanup.
            # (signal.signal answers None for a handler not set from Python: keep default.)
            previous = signal.signal(signal.SIGTERM, _raise_interrupt)
            self._previous_sigterm = signal.SIG_DFL if previous is None else previous
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        started = time.monotonic()
        with phase("environment", self.timings):
            environment = ensure_environment()
        self._watchdog = watchdog = Watchdog()
        work = self._make_work_dir()
        with phase("prepared site", self.timings):
            prepared = ensure_prepared(environment, watchdog)
        site = json.loads((prepared / "site.json").read_text())
        logs = work / "logs"
        logs.mkdir()

        with phase("services", self.timings):
            cluster = self._cluster = PrivateCluster(
                environment.postgres_bin, work / "pg", watchdog
            )
            cluster.copy_from(prepared / "pgdata")
            cluster.start()
            self._children.append((cluster.server, cluster.stop))
            search, search_port = start_fake_search(logs, watchdog, load=prepared / "search.json")
            self._children.append((search, search.stop))
            s3 = None
            if self.storage == "s3":
                s3 = SeaweedS3(environment.weed, work / "s3", logs / "seaweedfs.log", watchdog)
                s3.start()
                self._children.append((s3.server, s3.stop))
            cluster.wait_ready()
            wait_fake_search(search, search_port)
            if s3 is not None:
                s3.wait_ready()
            location = f"s3://{s3.bucket}" if s3 else f"file://{work / 'files'}"
            (work / "files").mkdir()
            cluster.sql("UPDATE files_location SET uri = :'uri' WHERE \"default\";", uri=location)

        port = free_ports(1)[0]
        self.app_url = f"http://127.0.0.1:{port}"
        self.url = self.public_url or self.app_url
        self.api_url = self.url + "/api"
        self.token, self.other_token = site["token"], site["other_token"]
        self.s3_endpoint = s3.endpoint if s3 else None
        write_invenio_cfg(
            work / "instance",
            secret_key=site["secret_key"],
            database_uri=cluster.database_uri,
            search_port=search_port,
            site_url=self.url,
            eager=self.eager,
            storage_settings=s3.invenio_settings() if s3 else "",
        )
        with phase("app start", self.timings):
            self._serve(environment.python, work, logs, port)
        self.log_files = {path.stem: path for path in sorted(logs.iterdir())}
        self.log_files["postgres"] = cluster.log
        self.timings["total"] = time.monotonic() - started
        log(
            f"{self.storage} site ({'eager' if self.eager else 'lazy'}) up at {self.url} "
            f"in {self.timings['total']:.1f} s"
        )

    def _make_work_dir(self) -> Path:
        if self.work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="nrpfiles-invenio-"))
        elif self.work_dir.exists() and any(self.work_dir.iterdir()):
            # Refused before it is ours: the clean-up must not remove someone's files.
            raise ValueError(f"work_dir {self.work_dir} is not empty")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._owns_work_dir = True
        self.work_dir.chmod(0o711)  # the cluster's owner (postgres) must traverse it
        if not os.environ.get("NRPFILES_CONFORMANCE_KEEP"):
            assert self._watchdog is not None
            self._watchdog.tell(f"path {self.work_dir}")
        return self.work_dir

    def _serve(self, python: Path, work: Path, logs: Path, port: int) -> None:
        assert self._watchdog is not None
        app = Child(
            "invenio",
            [
                str(python),
                str(SITE / "serve_site.py"),
                "--port",
                str(port),
                "--log",
                str(logs / "invenio.log"),
            ],
            logs / "invenio.log",
            watchdog=self._watchdog,
            env=site_environment(work / "instance"),
            cwd=work,
        )
        self._children.append((app, app.stop))
        # Asked directly: whatever stands at the public URL may not forward yet.
        wait_until(
            lambda: http_status(self.app_url + "/api/records", timeout=30) == 200,
            app,
            START_TIMEOUT,
            "answer from GET /api/records",
        )
        status = http_status(self.app_url + "/", timeout=30)
        if status != 200:
            raise RuntimeError(f"the home page answers {status}:\n{app.log_tail()}")

    # -- stopping --------------------------------------------------------------

    def stop(self) -> None:
        """Stop whatever was started, newest first; safe to call more than once."""
        handling_sigterm = self._previous_sigterm is not None
        if handling_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # already on our way out
        interrupted: BaseException | None = None
        started = time.monotonic()
        steps = [(child.name, stop) for child, stop in reversed(self._children)]
        any_started = bool(steps)
        if self._cluster is not None:
            steps.append(("cluster removal", self._cluster.remove))
        steps.append(("work folder removal", self._remove_work_dir))
        took = []
        for name, step in steps:
            step_started = time.monotonic()
            try:
                step()
            except BaseException as error:  # keep cleaning; report the first problem
                interrupted = interrupted or error
            took.append(f"{name} {time.monotonic() - step_started:.1f}")
        self._children.clear()
        self._cluster = None
        if self._watchdog is not None:
            self._watchdog.finish()
            self._watchdog = None
        if handling_sigterm:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        if any_started:
            log(f"stopped in {time.monotonic() - started:.1f} s ({', '.join(took)})")
        if interrupted is not None:
            raise interrupted

    def _remove_work_dir(self) -> None:
        if self.work_dir is None or not self._owns_work_dir or not self.work_dir.exists():
            return
        self._owns_work_dir = False
        if os.environ.get("NRPFILES_CONFORMANCE_KEEP"):
            log(f"kept {self.work_dir}")
        else:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def running(self) -> bool:
        return bool(self._children) and all(child.running for child, _ in self._children)


def _checked_public_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"public_url must be http(s)://host[:port], not {url!r}")
    return url.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the real InvenioRDM 14 on loopback.")
    parser.add_argument("--storage", choices=STORAGES, default="file")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--eager",
        dest="eager",
        action="store_true",
        default=None,
        help="run Celery tasks inside requests (default on a file store)",
    )
    mode.add_argument(
        "--lazy",
        dest="eager",
        action="store_false",
        help="leave Celery tasks queued (default on S3)",
    )
    parser.add_argument("--work-dir", help="a new or empty folder (default: a temporary one)")
    parser.add_argument(
        "--public-url",
        help="the address users reach the site at, e.g. a reverse proxy's http://127.0.0.1:8080 "
        "(default: the app's own)",
    )
    args = parser.parse_args(argv)
    try:
        with RealInvenio(args.storage, args.eager, args.work_dir, args.public_url) as site:
            print(f"Repository: {site.url}")
            print(f"Token: {site.token}")
            print(f"Other token: {site.other_token}")
            print(f"API: {site.api_url}")
            if site.app_url != site.url:
                print(f"App: {site.app_url}")
            if site.s3_endpoint:
                print(f"S3 endpoint: {site.s3_endpoint}")
            print(f"Logs: {site.work_dir}/logs (Ctrl-C to stop)", flush=True)
            while site.running():
                time.sleep(1)
            log("a part of the site exited on its own; stopping the rest")
            return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
