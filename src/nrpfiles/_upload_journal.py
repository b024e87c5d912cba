"""The journal of multipart uploads in progress, so that another process can finish one.

One JSON file per upload in ``$XDG_CACHE_HOME/nrpfiles/uploads/`` (``~/.cache``
when unset; ``%LOCALAPPDATA%`` on Windows), named by a hash of the repository,
the record's files URL and the key. It holds no secret: the repository's and
the record's URLs, the key, the source's identity (absolute path, size,
modification time), the part plan, the entry it created (its ``file_id`` and
creation time) and the numbers of the parts the repository confirmed. It is
written after the first confirmed part (a repository that refuses parts, as
Zenodo does, never gets one) and removed when the upload ends, one way or the
other, except when it was interrupted: then the next upload resumes from it.

While an upload runs it holds a lock beside its journal, so a second process
uploading the same key to the same record fails at once and clearly instead of
replacing the first one's entry under it.

Nothing here does network I/O; both flavours share it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs

from nrpfiles._urls import redact_url
from nrpfiles.errors import TransferError
from nrpfiles.models import File
from nrpfiles.streams import DataSource, FileSource

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one upload per key is on the user
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("nrpfiles")

JOURNAL_FORMAT = "nrpfiles-upload-journal/1"
# A journal untouched this long belongs to an upload nobody resumed: it is removed.
# (S3 keeps presigned part links for 7 days; a running upload touches its journal
# with every part.)
JOURNAL_MAX_AGE_SECONDS = 30 * 24 * 3600


def journal_directory() -> Path:
    """Where journals live: the user's cache directory, as the XDG spec places it."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not base and os.name == "nt":
        base = os.environ.get("LOCALAPPDATA", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "nrpfiles" / "uploads"


@attrs.frozen
class SourceIdentity:
    """What tells that a file on disk is still the one an upload began with."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, source: DataSource) -> SourceIdentity | None:
        """The identity of a file source; None for sources that have none (memory)."""
        if not isinstance(source, FileSource):
            return None
        status = source.path.stat()
        return cls(str(source.path.resolve()), status.st_size, status.st_mtime_ns)


@attrs.frozen
class PendingUpload:
    """What a journal says an interrupted upload left on the draft."""

    file_id: str | None
    created: str | None
    confirmed: frozenset[int]

    def names(self, entry: File) -> bool:
        """Whether ``entry`` is the very entry the interrupted upload created."""
        if self.file_id is not None and entry.file_id is not None:
            return self.file_id == entry.file_id
        return self.created is not None and _iso(entry.created) == self.created


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class UploadJournal:
    """The journal of one multipart upload, locked while this process runs it.

    Use as a context manager: entering takes the lock (``TransferError`` when
    another process holds it), leaving releases it. ``pending`` is what an
    earlier, interrupted upload of the same source and plan left;
    ``confirm`` records a part; ``forget`` removes the journal.
    """

    def __init__(
        self,
        *,
        repository: str,
        files_url: str,
        key: str,
        source: SourceIdentity,
        parts: int,
        part_size: int,
        directory: Path | None = None,
    ) -> None:
        self.key = key
        self._identity: dict[str, Any] = {
            "repository": redact_url(repository),
            "files_url": redact_url(files_url),
            "key": key,
        }
        self._source = source
        self._parts, self._part_size = parts, part_size
        name = hashlib.sha256(json.dumps(self._identity, sort_keys=True).encode()).hexdigest()
        folder = journal_directory() if directory is None else directory
        self.path = folder / f"{name[:32]}.json"
        self._lock_path = folder / f"{name[:32]}.lock"
        self._lock_fd: int | None = None
        self._write_lock = threading.Lock()
        self._entry: File | None = None
        self._confirmed: set[int] = set()

    # -- the lock ----------------------------------------------------------------------

    def __enter__(self) -> UploadJournal:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise TransferError(
                    f"another upload of {self.key!r} to this record is running "
                    f"(journal {self.path}); wait for it to finish, then upload again",
                    key=self.key,
                ) from None
        self._lock_fd = fd
        _remove_abandoned(self.path.parent)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lock_fd is None:
            return
        if not self.path.exists():
            with contextlib.suppress(FileNotFoundError):
                self._lock_path.unlink()  # nothing left to resume: no trace of it either
        os.close(self._lock_fd)
        self._lock_fd = None

    # -- reading -----------------------------------------------------------------------

    def pending(self) -> PendingUpload | None:
        """The earlier upload this one can continue: same source, unchanged, same parts."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            logger.info("the upload journal %s is unreadable (%s); starting over", self.path, error)
            return None
        if not isinstance(saved, dict) or saved.get("format") != JOURNAL_FORMAT:
            return None
        same = (
            all(saved.get(name) == value for name, value in self._identity.items())
            and saved.get("source") == attrs.asdict(self._source)
            and saved.get("parts") == self._parts
            and saved.get("part_size") == self._part_size
        )
        if not same:
            logger.info(
                "%r changed since its interrupted upload (or is sent in other parts): "
                "starting over",
                self.key,
            )
            return None
        entry = saved.get("entry") or {}
        confirmed = saved.get("confirmed") or []
        return PendingUpload(
            file_id=entry.get("file_id"),
            created=entry.get("created"),
            confirmed=frozenset(int(n) for n in confirmed if 1 <= int(n) <= self._parts),
        )

    # -- writing -----------------------------------------------------------------------

    def begin(self, entry: File, confirmed: frozenset[int] = frozenset()) -> None:
        """The entry this upload sends parts to, and the parts already confirmed."""
        with self._write_lock:
            self._entry = entry
            self._confirmed = set(confirmed)

    def confirm(self, number: int) -> None:
        """Part ``number`` was accepted: written at once, a kill may come any moment."""
        with self._write_lock:
            self._confirmed.add(number)
            self._write_locked()

    def forget(self) -> None:
        """The upload ended (done, or given up and cleaned up): nothing to resume."""
        with self._write_lock:
            self._entry = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _write_locked(self) -> None:
        if self._entry is None:
            return
        document = {
            "format": JOURNAL_FORMAT,
            **self._identity,
            "source": attrs.asdict(self._source),
            "parts": self._parts,
            "part_size": self._part_size,
            "entry": {"file_id": self._entry.file_id, "created": _iso(self._entry.created)},
            "confirmed": sorted(self._confirmed),
            "updated": datetime.now(timezone.utc).isoformat(),
        }
        temporary = self.path.with_name(self.path.name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # dumps, not dump: dump encodes in Python, piece by piece, at every part
            handle.write(json.dumps(document))
        os.replace(temporary, self.path)


def _remove_abandoned(folder: Path) -> None:
    cutoff = time.time() - JOURNAL_MAX_AGE_SECONDS
    for journal in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            if journal.stat().st_mtime < cutoff:
                journal.unlink()
                logger.info("removed the upload journal %s, untouched for 30 days", journal)
