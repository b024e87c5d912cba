"""SeaweedFS as the S3 engine of a conformance site (``weed mini``, all in one process).

Every port is given explicitly on 127.0.0.1, so that nothing listens
elsewhere and two sites can run side by side; the Unix sockets it would put
in /tmp go into its own folder. Its S3 endpoint gets one identity (access
key and secret): without ``-s3.config`` SeaweedFS accepts anonymous
requests, and bad signatures would go unnoticed.

Standard library only.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

try:
    from .processes import Child, Watchdog, free_ports, http_status, wait_until
except ImportError:  # run from this folder rather than as the conformance package
    from processes import (  # type: ignore[no-redef]
        Child,
        Watchdog,
        free_ports,
        http_status,
        wait_until,
    )

# Their gRPC ports are these plus 10000: SeaweedFS's worker assumes that
# offset for the admin server whatever -admin.port.grpc says.
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
REGION = "us-east-1"


class SeaweedS3:
    def __init__(
        self, weed: Path, folder: Path, log: Path, watchdog: Watchdog, bucket: str = "invenio"
    ) -> None:
        self.weed, self.folder, self.log, self.watchdog = weed, folder, log, watchdog
        self.bucket = bucket
        self.access_key = "conformance-" + secrets.token_hex(4)
        self.secret_key = secrets.token_urlsafe(24)
        self.ports: dict[str, int] = {}
        self.server: Child | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self) -> None:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        identities = self.folder / "identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "conformance",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        }
                    ]
                }
            )
        )
        identities.chmod(0o600)
        self.ports = dict(
            zip(COMPONENTS, free_ports(len(COMPONENTS), grpc_offset=True), strict=True)
        )
        ports = [f"-{name}.port={port}" for name, port in self.ports.items()]
        ports += [f"-{name}.port.grpc={port + 10000}" for name, port in self.ports.items()]
        for socket in self.grpc_sockets():
            self.watchdog.tell(f"path {socket}")  # removed even if we are killed
        (self.folder / "logs").mkdir(exist_ok=True)
        self.server = Child(
            "seaweedfs",
            [
                str(self.weed),
                f"-logdir={self.folder / 'logs'}",  # its own log files, else in /tmp
                "mini",
                f"-dir={self.folder / 'data'}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                *ports,
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-webdav=false",
                "-admin.ui=false",
                "-master.telemetry=false",
                f"-bucket={self.bucket}",
                f"-s3.config={identities}",
                f"-filer.localSocket={self.folder / 'filer.sock'}",
                f"-s3.localSocket={self.folder / 's3.sock'}",
            ],
            self.log,
            watchdog=self.watchdog,
            cwd=self.folder,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.server is not None
        wait_until(self._bucket_exists, self.server, timeout, "S3 bucket")

    def _bucket_exists(self) -> bool:
        # The S3 port answers (403 to an unsigned request) and the filer,
        # which needs no signature, lists the bucket's folder.
        if not http_status(self.endpoint + "/", timeout=2):
            return False
        filer = f"http://127.0.0.1:{self.ports['filer']}/buckets/{self.bucket}/"
        return http_status(filer, timeout=2, headers={"Accept": "application/json"}) == 200

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=15)
            self.server = None
        for socket in self.grpc_sockets():  # left behind when it had to be killed
            socket.unlink(missing_ok=True)

    def grpc_sockets(self) -> list[Path]:
        """The Unix sockets weed mini serves its gRPC on besides TCP.

        Their place is not configurable: /tmp, named after component and
        port. SeaweedFS removes them when it shuts down cleanly, not when
        it is killed.
        """
        return [
            Path(f"/tmp/seaweedfs-{name}-grpc-{port + 10000}.sock")  # noqa: S108 (its choice)
            for name, port in self.ports.items()
        ]

    def invenio_settings(self) -> str:
        """The invenio.cfg lines that store files in this bucket."""
        settings = {
            "FILES_REST_STORAGE_FACTORY": "invenio_s3.s3fs_storage_factory",
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_ACCESS_KEY_ID": self.access_key,
            "S3_SECRET_ACCESS_KEY": self.secret_key,
            "S3_REGION_NAME": REGION,
            "S3_SIGNATURE_VERSION": "s3v4",
            "S3_URL_EXPIRATION": 60,  # downloads: a 302 to a URL valid for a minute
            "S3_UPLOAD_URL_EXPIRATION": 7 * 24 * 3600,  # multipart part URLs: a week
        }
        return "\n".join(f"{name} = {value!r}" for name, value in settings.items())
