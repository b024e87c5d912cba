"""A private PostgreSQL cluster for one conformance site, on a loopback port.

Debian's server binaries, a data folder inside the site's work folder, trust
authentication, TCP on 127.0.0.1 only, the Unix socket inside the work
folder. Durability is switched off (fsync, synchronous commit, full page
writes): the cluster lives for one run, and speed matters more. As root the
server runs as the ``postgres`` user, since PostgreSQL refuses to run as
root; the data folder and the socket folder are then handed to that user.

Standard library only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

try:
    from .processes import Child, Watchdog, free_ports, wait_until
except ImportError:  # run from this folder rather than as the conformance package
    from processes import Child, Watchdog, free_ports, wait_until  # type: ignore[no-redef]

DATABASE = "invenio"


class PrivateCluster:
    def __init__(self, bin_dir: Path, folder: Path, watchdog: Watchdog) -> None:
        self.bin_dir, self.folder, self.watchdog = bin_dir, folder, watchdog
        self.data = folder / "data"
        self.sockets = folder / "sockets"
        self.log = folder / "postgres.log"
        self.user = "postgres" if os.geteuid() == 0 else None
        self.port = 0
        self.server: Child | None = None

    @property
    def database_uri(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def prepare_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        self._hand_over(self.folder, self.sockets)

    def initialise(self) -> None:
        """A new, empty cluster."""
        self.prepare_folder()
        self._run_as_owner(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )

    def copy_from(self, data: Path) -> None:
        """A cluster that starts as a copy of a stopped one (ownership kept)."""
        self.prepare_folder()
        subprocess.run(["cp", "-a", str(data), str(self.data)], check=True)
        self._hand_over(self.data)

    def start(self) -> None:
        self.port = free_ports(1)[0]
        self.server = Child(
            "postgres",
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.sockets}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            self.log,
            watchdog=self.watchdog,
            user=self.user,
            cwd=self.folder,
            # If the launcher dies: an immediate shutdown, which also ends the backends.
            death_signal=signal.SIGQUIT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.server is not None
        wait_until(self._accepts_connections, self.server, timeout, "accepting connections")

    def _accepts_connections(self) -> bool:
        done = subprocess.run(
            [
                str(self.bin_dir / "pg_isready"),
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
            ],
            check=False,
        )
        return done.returncode == 0

    def create_database(self) -> None:
        self.sql(f"CREATE DATABASE {DATABASE}", database="postgres")

    def sql(self, statements: str, database: str = DATABASE, **variables: str) -> str:
        """Run SQL through psql; :'name' in it quotes the value of variable name."""
        command = [
            str(self.bin_dir / "psql"),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
        ]
        for name, value in variables.items():
            command += ["-v", f"{name}={value}"]
        done = subprocess.run(
            command, input=statements, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        """A fast shutdown (what pg_ctl stop -m fast sends), then harder if it hangs."""
        if self.server is not None:
            self.server.stop(signal.SIGINT, timeout=20)
            self.server = None

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _hand_over(self, *paths: Path) -> None:
        if self.user is None:
            return
        entry = pwd.getpwnam(self.user)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
            if path == self.data:
                for root, dirs, files in os.walk(path):
                    for name in dirs + files:
                        os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)

    def _run_as_owner(self, command: list[str]) -> None:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.folder,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed:\n{done.stdout}{done.stderr}")
