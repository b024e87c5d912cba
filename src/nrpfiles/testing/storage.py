"""Durable state of the local repository: SQLite for metadata, plain files for content.

Content files are immutable once in place: a committed file is never rewritten, so
published records, edit drafts and imported new versions can share one content file.
An upload is written under ``tmp/`` and renamed into ``content/`` only when complete,
so a broken upload never leaves anything that looks stored.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    parent_id TEXT NOT NULL,
    owner_id INTEGER NOT NULL,
    version_index INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    draft TEXT,
    published TEXT
);
CREATE INDEX IF NOT EXISTS records_parent ON records (parent_id);
CREATE TABLE IF NOT EXISTS files (
    record_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (record_id, bucket, key)
);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    topic_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_topic ON requests (topic_id);
"""

DRAFT = "draft"
PUBLISHED = "published"
# a multipart upload to S3 reads so until a background task computes the md5
PROVISIONAL_CHECKSUM = "multipart:"


class ObjectKeeper(Protocol):
    """Where content objects live: told when one is no longer referred to."""

    def remove(self, file_id: str) -> None: ...

    def abort(self, data: dict[str, Any]) -> None: ...

    def clear(self) -> None: ...


def checksum_pending(data: dict[str, Any]) -> bool:
    """Whether a completed entry's md5 is still to be computed by the background task."""
    checksum = data.get("checksum")
    return not checksum or str(checksum).startswith(PROVISIONAL_CHECKSUM)


@dataclass
class User:
    id: int
    name: str
    token: str


@dataclass
class RecordRow:
    """One persistent identifier: its draft and/or its published state, both JSON."""

    id: str
    parent_id: str
    owner_id: int
    version_index: int
    seq: int = 0
    draft: dict[str, Any] | None = None
    published: dict[str, Any] | None = None


@dataclass
class FileRow:
    """A file entry of one bucket (the draft's or the published record's)."""

    record_id: str
    bucket: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)


class Store:
    """Thread-safe access to the SQLite database and the content directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.content_dir = data_dir / "content"
        self.tmp_dir = data_dir / "tmp"
        self.content_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            data_dir / "repository.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._discard_stale_temporaries()
        self.objects: ObjectKeeper = ContentFiles(self)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several changes; the lock also serialises read-modify-write sequences."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def next_seq(self) -> int:
        with self._lock:
            value = int(self.get_meta("seq") or "0") + 1
            self.set_meta("seq", str(value))
            return value

    # users ------------------------------------------------------------------------
    def add_user(self, name: str, token: str) -> User:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO users (name, token) VALUES (?, ?)", (name, token)
            )
            return User(int(cursor.lastrowid or 0), name, token)

    def set_token(self, user_id: int, token: str) -> None:
        with self._lock:
            self._db.execute("UPDATE users SET token=? WHERE id=?", (token, user_id))

    def users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, token FROM users ORDER BY id").fetchall()
        return [User(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def user_by_token(self, token: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, token FROM users WHERE token=?", (token,)
            ).fetchone()
        return None if row is None else User(int(row[0]), str(row[1]), str(row[2]))

    # records ----------------------------------------------------------------------
    def get_record(self, record_id: str) -> RecordRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, parent_id, owner_id, version_index, seq, draft, published "
                "FROM records WHERE id=?",
                (record_id,),
            ).fetchone()
        return None if row is None else _record_from_row(row)

    def records(self, parent_id: str | None = None) -> list[RecordRow]:
        query = "SELECT id, parent_id, owner_id, version_index, seq, draft, published FROM records"
        args: tuple[str, ...] = ()
        if parent_id is not None:
            query += " WHERE parent_id=?"
            args = (parent_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [_record_from_row(r) for r in rows]

    def save_record(self, record: RecordRow) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO records "
                "(id, parent_id, owner_id, version_index, seq, draft, published) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.parent_id,
                    record.owner_id,
                    record.version_index,
                    record.seq,
                    _dump(record.draft),
                    _dump(record.published),
                ),
            )

    def delete_record(self, record_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records WHERE id=?", (record_id,))

    # files ------------------------------------------------------------------------
    def files(self, record_id: str, bucket: str) -> list[FileRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, data FROM files WHERE record_id=? AND bucket=? ORDER BY key",
                (record_id, bucket),
            ).fetchall()
        return [FileRow(record_id, bucket, str(r[0]), json.loads(r[1])) for r in rows]

    def get_file(self, record_id: str, bucket: str, key: str) -> FileRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM files WHERE record_id=? AND bucket=? AND key=?",
                (record_id, bucket, key),
            ).fetchone()
        return None if row is None else FileRow(record_id, bucket, key, json.loads(row[0]))

    def save_file(self, row: FileRow) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO files (record_id, bucket, key, data) VALUES (?, ?, ?, ?)",
                (row.record_id, row.bucket, row.key, json.dumps(row.data)),
            )

    def delete_file(self, row: FileRow) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM files WHERE record_id=? AND bucket=? AND key=?",
                (row.record_id, row.bucket, row.key),
            )
            self.release_content(row.data.get("file_id"))
            self.release_content(row.data.get("staged_file_id"))
        self.objects.abort(row.data)

    def delete_bucket(self, record_id: str, bucket: str) -> None:
        for row in self.files(record_id, bucket):
            self.delete_file(row)

    def move_bucket(self, record_id: str, source: str, target: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE files SET bucket=? WHERE record_id=? AND bucket=?",
                (target, record_id, source),
            )

    def content_without_checksum(self) -> list[str]:
        """Content files of completed entries whose checksum is still to be computed."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM files").fetchall()
        ids = set()
        for (raw,) in rows:
            data = json.loads(raw)
            if data.get("status") == "completed" and data.get("file_id") and checksum_pending(data):
                ids.add(str(data["file_id"]))
        return sorted(ids)

    def set_missing_checksum(self, file_id: str, checksum: str) -> None:
        """Give every entry holding this content its md5, where it has none or a provisional one."""
        with self.transaction():
            rows = self._db.execute(
                "SELECT record_id, bucket, key, data FROM files WHERE instr(data, ?) > 0",
                (file_id,),
            ).fetchall()
            for record_id, bucket, key, raw in rows:
                data = json.loads(raw)
                if data.get("file_id") == file_id and checksum_pending(data):
                    data["checksum"] = checksum
                    self.save_file(FileRow(str(record_id), str(bucket), str(key), data))

    # requests (NRP's publish, edit and new-version requests) --------------------------
    def save_request(self, request_id: str, topic_id: str, data: dict[str, Any]) -> None:
        with self._lock:
            row = self._db.execute("SELECT seq FROM requests WHERE id=?", (request_id,)).fetchone()
            seq = int(row[0]) if row else self.next_seq()
            self._db.execute(
                "INSERT OR REPLACE INTO requests (id, topic_id, seq, data) VALUES (?, ?, ?, ?)",
                (request_id, topic_id, seq, json.dumps(data)),
            )

    def get_request(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM requests WHERE id=?", (request_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def requests(self, topic_id: str | None = None) -> list[dict[str, Any]]:
        """Requests oldest first, those about one record when ``topic_id`` is given."""
        query = "SELECT data FROM requests"
        args: tuple[str, ...] = ()
        if topic_id is not None:
            query, args = query + " WHERE topic_id=?", (topic_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    # content ----------------------------------------------------------------------
    def content_path(self, file_id: str) -> Path:
        return self.content_dir / file_id[:2] / file_id

    def new_temporary(self, prefix: str = "upload") -> Path:
        return self.tmp_dir / f"{prefix}-{uuid.uuid4().hex}.part"

    def adopt(self, temporary: Path, file_id: str | None = None) -> str:
        """Move a completely received temporary file into content; returns its file id."""
        file_id = file_id or str(uuid.uuid4())
        target = self.content_path(file_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        return file_id

    def release_content(self, file_id: Any) -> None:
        """Remove a content file once no entry of any bucket refers to it."""
        if not isinstance(file_id, str) or not file_id:
            return
        with self._lock:
            # file ids are UUIDs, so a substring match on the JSON cannot hit anything else
            in_use = self._db.execute(
                "SELECT 1 FROM files WHERE instr(data, ?) > 0 LIMIT 1", (file_id,)
            ).fetchone()
        if in_use:
            return
        self.objects.remove(file_id)

    def discard_temporary(self, path: Any) -> None:
        if isinstance(path, str) and path:
            Path(path).unlink(missing_ok=True)

    def reset(self) -> None:
        """Forget every record and file; users and settings stay."""
        with self._lock:
            self._db.execute("DELETE FROM files")
            self._db.execute("DELETE FROM records")
            self._db.execute("DELETE FROM requests")
        self.objects.clear()

    def clear_content(self) -> None:
        """Remove every content and temporary file."""
        with self._lock:
            shutil.rmtree(self.content_dir, ignore_errors=True)
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.content_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def _discard_stale_temporaries(self) -> None:
        """Uploads cut by a restart are dropped; multipart staging files are kept."""
        for path in self.tmp_dir.glob("upload-*.part"):
            path.unlink(missing_ok=True)


class ContentFiles:
    """Objects as the content files of this store (until another keeper is set)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def remove(self, file_id: str) -> None:
        self._store.content_path(file_id).unlink(missing_ok=True)

    def abort(self, data: dict[str, Any]) -> None:
        self._store.discard_temporary(data.get("multipart_path"))

    def clear(self) -> None:
        self._store.clear_content()


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def _record_from_row(row: tuple[Any, ...]) -> RecordRow:
    return RecordRow(
        id=str(row[0]),
        parent_id=str(row[1]),
        owner_id=int(row[2]),
        version_index=int(row[3]),
        seq=int(row[4]),
        draft=None if row[5] is None else json.loads(row[5]),
        published=None if row[6] is None else json.loads(row[6]),
    )
