"""``LocalRepository``: an InvenioRDM-compatible repository running in background threads."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .faults import Faults
from .profiles import DEFAULT_PROFILE, FROM_PROFILE, FromProfile, Profile, configure
from .server.app import make_dispatch
from .server.context import STORAGES, TRANSFER_TYPES, Context, RepositoryConfig
from .server.fetcher import Fetcher
from .server.hashing import ChecksumTasks, HashJobs
from .server.http import AppServer
from .server.objects import ContentObjects, FileObjects
from .server.ratelimit import RateLimit
from .server.signing import UrlSigner
from .server.storage_server import make_storage_dispatch
from .storage import Store

if TYPE_CHECKING:
    from .seaweed import SeaweedEngine

FIRST_USER = "admin"
BUCKET = "nrpfiles"
RateLimitOption = RateLimit | tuple[int, float] | str | None


class LocalRepository:
    """A local repository speaking InvenioRDM's REST API, with faults on demand.

    ``with LocalRepository() as repo:`` gives a running repository on a free port;
    ``repo.url``, ``repo.api_url`` and ``repo.token`` are what a client needs. With a
    ``data_dir`` everything persists across restarts; without one a temporary
    directory is used and removed on stop.

    By default it answers as a plain InvenioRDM 14 on a file store does: ordinary
    users get L and M transfers, Range headers are ignored, a multipart upload's
    checksum comes from a background task ``checksum_delay`` seconds after commit,
    files are limited by ``max_file_size`` and ``bucket_quota`` (10 GB each), a
    content or part upload of more than ``max_request_size`` bytes (100 MiB) in one
    request is answered 413, and clients find it by its home page. ``well_known=True`` adds NRP's
    ``/.well-known/repository`` document; ``csrf=False`` drops the session cookie
    checks of the API; ``cut_upload_deletes_entry=False`` keeps the entry of a
    whole-content upload whose body ends early (InvenioRDM deletes it). A delete of
    a draft's file holds the draft ``delete_save_seconds`` (0.02), as InvenioRDM's
    save of the draft does: another delete of it meanwhile is refused (400 "Not a
    valid value." when the draft has a resource type, else 500), and so is a new
    entry (500); 0 lets them all through.

    ``profile`` names the deployment answered as (``"invenio"``, ``"nrp"``,
    ``"zenodo"``; see ``nrpfiles.testing.profiles``): every option not given takes
    the profile's value, and one given replaces it. ``storage="s3"`` (the ``nrp``
    profile's) keeps content in SeaweedFS, started and stopped with the repository,
    its data under the data dir: parts go to presigned S3 URLs valid
    ``part_url_expiry`` seconds, downloads answer 302 to one valid
    ``download_url_expiry`` seconds (it needs the ``s3`` extra). ``rate_limit``
    (``RateLimit(30, 5.0)``,
    ``(30, 5.0)`` or ``"30/5"``; None for none) limits signed-in users, and guests
    too unless ``guest_rate_limit`` says otherwise; ``rate_limit_retry_after``
    chooses whether a 429 says ``Retry-After``. ``publish_through_requests``
    (the ``nrp`` profile's) publishes, edits and versions through requests as
    oarepo-requests does; ``publish_review=True`` then leaves a publish request
    ``submitted`` until another user accepts it.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        transfers: tuple[str, ...] | list[str] | FromProfile = FROM_PROFILE,
        ranges: bool | FromProfile = FROM_PROFILE,
        storage_redirect: bool | FromProfile = FROM_PROFILE,
        fetch_allowed_domains: tuple[str, ...] | list[str] | FromProfile = FROM_PROFILE,
        page_size: int | FromProfile = FROM_PROFILE,
        max_files: int | FromProfile = FROM_PROFILE,
        max_file_size: int | FromProfile | None = FROM_PROFILE,
        bucket_quota: int | FromProfile | None = FROM_PROFILE,
        checksum_delay: float | FromProfile = FROM_PROFILE,
        well_known: bool | FromProfile = FROM_PROFILE,
        csrf: bool | FromProfile = FROM_PROFILE,
        cut_upload_deletes_entry: bool | FromProfile = FROM_PROFILE,
        *,
        profile: str | Profile = DEFAULT_PROFILE,
        rate_limit: RateLimitOption | FromProfile = FROM_PROFILE,
        guest_rate_limit: RateLimitOption | FromProfile = FROM_PROFILE,
        rate_limit_retry_after: bool | FromProfile = FROM_PROFILE,
        refuse_multipart: bool | FromProfile = FROM_PROFILE,
        refused_user_agents: tuple[str, ...] | list[str] | FromProfile = FROM_PROFILE,
        publish_through_requests: bool | FromProfile = FROM_PROFILE,
        publish_review: bool | FromProfile = FROM_PROFILE,
        storage: str | FromProfile = FROM_PROFILE,
        download_url_expiry: int | FromProfile = FROM_PROFILE,
        part_url_expiry: int | FromProfile = FROM_PROFILE,
        max_request_size: int | FromProfile | None = FROM_PROFILE,
        delete_save_seconds: float | FromProfile = FROM_PROFILE,
    ) -> None:
        options: dict[str, Any] = {
            "transfers": _tuple(transfers),
            "ranges": ranges,
            "storage_redirect": storage_redirect,
            "fetch_allowed_domains": _tuple(fetch_allowed_domains),
            "page_size": page_size,
            "max_files": max_files,
            "max_file_size": max_file_size,
            "bucket_quota": bucket_quota,
            "checksum_delay": _float(checksum_delay),
            "well_known": well_known,
            "csrf": csrf,
            "cut_upload_deletes_entry": cut_upload_deletes_entry,
            "rate_limit": _rate_limit(rate_limit),
            "guest_rate_limit": _rate_limit(guest_rate_limit),
            "rate_limit_retry_after": rate_limit_retry_after,
            "refuse_multipart": refuse_multipart,
            "refused_user_agents": _tuple(refused_user_agents),
            "publish_through_requests": publish_through_requests,
            "publish_review": publish_review,
            "storage": storage,
            "download_url_expiry": download_url_expiry,
            "part_url_expiry": part_url_expiry,
            "max_request_size": max_request_size,
            "delete_save_seconds": _float(delete_save_seconds),
        }
        if rate_limit is not FROM_PROFILE and guest_rate_limit is FROM_PROFILE:
            options["guest_rate_limit"] = options["rate_limit"]
        config = configure(profile, **options)
        unknown = [t for t in config.transfers if t not in TRANSFER_TYPES]
        if unknown:
            raise ValueError(f"unknown transfer types {unknown}; known: {TRANSFER_TYPES}")
        if config.storage not in STORAGES:
            raise ValueError(f"unknown storage {config.storage!r}; known: {', '.join(STORAGES)}")
        if config.storage == "s3":
            from .seaweed import require_s3

            require_s3()
        self._data_dir = None if data_dir is None else Path(data_dir)
        self._host = host
        self._port = port
        self._token = token
        self.config: RepositoryConfig = config
        self.faults = Faults()
        self._owned_dir: Path | None = None
        self._ctx: Context | None = None
        self._servers: list[AppServer] = []
        self._threads: list[threading.Thread] = []
        self._engine: SeaweedEngine | None = None

    # lifecycle ----------------------------------------------------------------------
    def start(self) -> LocalRepository:
        if self._ctx is not None:
            return self
        if self._data_dir is None:
            self._owned_dir = Path(tempfile.mkdtemp(prefix="nrpfiles-repository-"))
            data_dir = self._owned_dir
        else:
            data_dir = self._data_dir
            data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(data_dir)
        hashes = HashJobs()
        try:
            objects = self._start_objects(store, hashes, data_dir)
        except BaseException:
            store.close()
            raise
        store.objects = objects
        self._token = self._ensure_first_user(store)
        ctx = Context(
            store=store,
            config=self.config,
            faults=self.faults,
            hashes=hashes,
            checksums=ChecksumTasks(store, self.config.checksum_delay, objects.md5),
            signer=UrlSigner(),
            objects=objects,
        )
        try:
            api = AppServer((self._host, self._port), make_dispatch(ctx), self.faults, "/_local/")
            self._servers = [api]
            if self.config.storage_redirect:
                storage = AppServer((self._host, 0), make_storage_dispatch(ctx), self.faults)
                ctx.storage_port = storage.port
                self._servers.append(storage)
        except BaseException:
            for server in self._servers:
                server.server_close()
            self._stop_objects(objects)
            store.close()
            raise
        ctx.fetcher = Fetcher(ctx)
        self._ctx = ctx
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"nrpfiles-repository-{server.port}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        ctx.fetcher.resume_pending()
        ctx.checksums.resume()
        return self

    def stop(self) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        self._ctx = None
        if ctx.fetcher is not None:
            ctx.fetcher.stop()
        for server in self._servers:
            server.shutdown()
            server.close_connections()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []
        ctx.hashes.cancel_all()
        ctx.checksums.cancel_all()
        self._stop_objects(ctx.objects)
        ctx.store.close()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None

    def __enter__(self) -> LocalRepository:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # what clients need --------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url_of(self._running_servers()[0])

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    @property
    def storage_url(self) -> str | None:
        """Where downloads redirect to: S3's endpoint, or the stand-in storage's."""
        servers = self._running_servers()
        if self._engine is not None:
            return self._engine.endpoint
        return self._url_of(servers[1]) if len(servers) > 1 else None

    @property
    def token(self) -> str:
        if self._token is None:
            raise RuntimeError("the repository has not been started")
        return self._token

    @property
    def data_dir(self) -> Path:
        ctx = self._running()
        return ctx.store.data_dir

    @property
    def token_violations(self) -> int:
        return self._running().token_violations

    @property
    def stats(self) -> dict[str, Any]:
        """What the API answered: ``requests``, ``rate_limited`` (429s), ``statuses``, ..."""
        return self._running().stats.snapshot()

    def wait_until_idle(self, timeout: float = 30.0) -> None:
        """Wait until the repository handles no request, storage included.

        A client that gave up on a request (Ctrl-C, a timeout) no longer waits for
        it, but the repository may still carry it out, as a real one does: an
        upload cut off deletes its entry, even one made since under the same
        key. A test that goes on with another client first waits here.
        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        for server in self._servers:
            if not server.wait_until_idle(max(deadline - time.monotonic(), 0.0)):
                raise TimeoutError(f"the repository still handled requests after {timeout} s")

    def add_user(self, name: str) -> str:
        """A new user with their own drafts; returns the user's token."""
        return self._running().store.add_user(name, secrets.token_urlsafe(32)).token

    def reclaim_storage(self) -> int:
        """Give the disk back the bytes of deleted files now; the bytes freed.

        The file store frees them as files are deleted; S3 storage keeps them until
        its next sweep, minutes later, too late for a run that uploads and deletes
        gigabytes (a benchmark). Takes several seconds on S3.
        """
        self._running()
        return 0 if self._engine is None else self._engine.reclaim_space()

    def reset(self) -> None:
        """Delete all records, drafts and files; keep users and settings; clear faults.

        ``stats`` and the rate-limit windows start again from zero.
        """
        self._running().reset()

    def __repr__(self) -> str:
        state = self.url if self._ctx is not None else "stopped"
        return f"<LocalRepository {state}>"

    # helpers ------------------------------------------------------------------------
    def _start_objects(self, store: Store, hashes: HashJobs, data_dir: Path) -> ContentObjects:
        if self.config.storage != "s3":
            return FileObjects(store, hashes)
        from .seaweed import SeaweedEngine
        from .server.s3objects import S3Objects

        engine = SeaweedEngine(data_dir / "s3", BUCKET)
        engine.start()
        assert engine.credentials is not None
        try:
            objects = S3Objects(
                engine.endpoint,
                BUCKET,
                engine.credentials,
                part_url_expiry=self.config.part_url_expiry,
                download_url_expiry=self.config.download_url_expiry,
            )
        except BaseException:
            engine.stop()
            raise
        self._engine = engine
        return objects

    def _stop_objects(self, objects: ContentObjects) -> None:
        objects.close()
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.stop()

    def _running(self) -> Context:
        if self._ctx is None:
            raise RuntimeError("the repository is not running; use start() or a with block")
        return self._ctx

    def _running_servers(self) -> list[AppServer]:
        self._running()
        return self._servers

    def _url_of(self, server: AppServer) -> str:
        host = self._host
        if host in ("", "0.0.0.0"):  # noqa: S104  (display address for a wildcard bind)
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{server.port}"

    def _ensure_first_user(self, store: Store) -> str:
        users = store.users()
        if not users:
            return store.add_user(FIRST_USER, self._token or secrets.token_urlsafe(32)).token
        first = users[0]
        if self._token is not None and self._token != first.token:
            store.set_token(first.id, self._token)
            return self._token
        return first.token


def _tuple(value: tuple[str, ...] | list[str] | FromProfile) -> tuple[str, ...] | FromProfile:
    return value if isinstance(value, FromProfile) else tuple(value)


def _float(value: float | FromProfile) -> float | FromProfile:
    return value if isinstance(value, FromProfile) else float(value)


def _rate_limit(value: RateLimitOption | FromProfile) -> RateLimit | FromProfile | None:
    if value is None or isinstance(value, FromProfile):
        return value
    return RateLimit.of(value)
