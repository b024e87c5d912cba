"""Background fetching for url-fetch (F) files, as InvenioRDM's fetch task does.

Only hosts on the allow list are contacted, redirects included. The fetch never
carries the repository's credentials.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import httpx

from ..storage import DRAFT
from .context import Context, now_iso
from .files import domain_allowed
from .serialize import guess_mimetype

log = logging.getLogger("nrpfiles.testing")
_CHUNK = 4 << 20
_MAX_REDIRECTS = 5


class FetchError(Exception):
    pass


class Fetcher:
    def __init__(self, ctx: Context, workers: int = 4) -> None:
        self._ctx = ctx
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nrpfiles-fetch")

    def submit(self, record_id: str, key: str) -> None:
        if not self._stopping.is_set():
            self._pool.submit(self._fetch, record_id, key)

    def resume_pending(self) -> None:
        """Fetches that a stop interrupted start again."""
        store = self._ctx.store
        for record in store.records():
            for row in store.files(record.id, DRAFT):
                if row.data["transfer"]["type"] == "F" and row.data["status"] == "pending":
                    self.submit(record.id, row.key)

    def stop(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _fetch(self, record_id: str, key: str) -> None:
        store = self._ctx.store
        row = store.get_file(record_id, DRAFT, key)
        if row is None or row.data["status"] != "pending":
            return
        version_id = row.data["version_id"]
        temporary = store.new_temporary()
        try:
            size, md5_hex = self._download(str(row.data["source_url"]), temporary)
        except Exception as error:
            temporary.unlink(missing_ok=True)
            if self._stopping.is_set():
                return
            log.debug("fetch of %s failed: %s", key, error)
            self._finish(record_id, key, version_id, error=str(error) or type(error).__name__)
            return
        if self._stopping.is_set():
            temporary.unlink(missing_ok=True)
            return
        file_id = self._ctx.objects.adopt(temporary)
        if not self._finish(record_id, key, version_id, file_id=file_id, size=size, md5=md5_hex):
            store.release_content(file_id)

    def _download(self, url: str, target: object) -> tuple[int, str]:
        digest = hashlib.md5()  # noqa: S324
        size = 0
        with httpx.Client(trust_env=False, timeout=60.0) as client:
            for _ in range(_MAX_REDIRECTS + 1):
                if not domain_allowed(self._ctx, url):
                    raise FetchError("Domain not allowed")
                with client.stream("GET", url) as response:
                    if response.is_redirect and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status_code != 200:
                        response.read()
                        raise FetchError(response.text or f"HTTP {response.status_code}")
                    with open(str(target), "wb") as stream:
                        for chunk in response.iter_bytes():
                            if self._stopping.is_set():
                                raise FetchError("repository stopped")
                            stream.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                    return size, digest.hexdigest()
        raise FetchError("Too many redirects.")

    def _finish(
        self,
        record_id: str,
        key: str,
        version_id: str,
        *,
        error: str | None = None,
        file_id: str | None = None,
        size: int = 0,
        md5: str = "",
    ) -> bool:
        store = self._ctx.store
        with store.transaction():
            row = store.get_file(record_id, DRAFT, key)
            if row is None or row.data["version_id"] != version_id:
                return False
            data = row.data
            data["updated"] = now_iso()
            if error is not None:
                data["status"] = "failed"
                data["transfer"] = {"type": "F", "error": error}
            else:
                data.update(
                    status="completed",
                    transfer={"type": "L"},
                    file_id=file_id,
                    size=size,
                    checksum=f"md5:{md5}",
                    mimetype=guess_mimetype(key),
                )
                data.pop("declared_size", None)
                data.pop("declared_checksum", None)
            data.pop("source_url", None)
            store.save_file(row)
        return True
