"""A folder on disk against the files of a record: which keys to fetch, send or remove.

Nothing here talks to a repository; the functions compare what is on disk with
a list of :class:`~nrpfiles.models.File` entries (``client.files.list(record)``)
by size and checksum, so a script can decide what to transfer and then call
``client.files.upload`` / ``download`` / ``delete`` itself, in parallel if it
likes. The ``nrpfiles`` command's ``download``, ``upload`` and ``sync`` are
built on them.

Keys are the paths relative to the folder, with ``/`` between segments on
every system: ``data/2024/a.csv``.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from nrpfiles._checksums import (
    digest_of_chunks,
    expected_checksum,
)
from nrpfiles._transfer_plan import path_inside
from nrpfiles.models import File
from nrpfiles.streams import FileSource

__all__ = [
    "DownloadPlan",
    "SyncPlan",
    "folder_files",
    "matches",
    "plan_download",
    "plan_sync",
    "same_content",
    "select",
]

# Downloads write here before the checksum is checked (see docs/reliability.md):
# never worth uploading, nor a sign of a finished file.
_PARTIAL_SUFFIX = ".nrpfiles-partial"
# a partial download, its sidecar, and a sidecar being replaced
_LEFT_BY_DOWNLOADS = (_PARTIAL_SUFFIX, f"{_PARTIAL_SUFFIX}.json", f"{_PARTIAL_SUFFIX}.json.new")


def matches(key: str, patterns: Sequence[str]) -> bool:
    """Whether ``key`` matches any of the shell-style ``patterns`` (all keys when none are given).

    ``*``, ``?`` and ``[abc]`` work as in ``fnmatch`` (case-sensitive; ``*``
    also crosses ``/``, so ``*.csv`` finds ``data/a.csv``). A pattern that is a
    folder, with or without a trailing ``/``, matches every key under it:
    ``data`` and ``data/`` both select ``data/a.csv``.
    """
    if not patterns:
        return True
    for pattern in patterns:
        folder = pattern.rstrip("/")
        if fnmatch.fnmatchcase(key, pattern) or (folder and key.startswith(folder + "/")):
            return True
    return False


def select(files: Iterable[File], patterns: Sequence[str]) -> list[File]:
    """The files whose keys match any of ``patterns`` (see :func:`matches`), in their order."""
    return [file for file in files if matches(file.key, patterns)]


def folder_files(directory: str | os.PathLike[str], *, prefix: str = "") -> dict[str, Path]:
    """Every regular file under ``directory``, recursively, by key (``prefix`` + relative path).

    Keys use ``/`` whatever the system; they are sorted. Symbolic links to files
    are followed, links to folders are not (they could loop). Temporary files
    an interrupted download left behind (``*.nrpfiles-partial`` and its
    sidecar ``*.nrpfiles-partial.json``) are skipped.
    Raises ``NotADirectoryError`` when ``directory`` is not a folder.
    """
    root = Path(directory)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {str(root)!r}")
    found: dict[str, Path] = {}
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in names:
            path = Path(folder) / name
            if name.endswith(_LEFT_BY_DOWNLOADS) or not path.is_file():
                continue
            found[prefix + path.relative_to(root).as_posix()] = path
    return dict(sorted(found.items()))


def same_content(path: str | os.PathLike[str], file: File) -> bool:
    """Whether the file at ``path`` holds what the repository's entry says: size and checksum.

    The checksum is recomputed as the repository computed it (MD5, or S3's
    composite checksum over parts for a ``multipart:`` one). An entry without
    a checksum of a known kind never counts as the same, nor does a missing path.
    """
    local = Path(path)
    try:
        size = local.stat().st_size
    except OSError:
        return False
    if not local.is_file() or file.size is None or size != file.size:
        return False
    expected = expected_checksum(file.checksum)
    if expected is None:
        return False
    chunks = FileSource(local).iter_views(0, size)
    return digest_of_chunks(chunks, expected.new_digest()) == expected.value


@attrs.frozen
class DownloadPlan:
    """Which files to fetch into a folder, and which are already there with the right content."""

    fetch: list[tuple[File, Path]]
    present: list[tuple[File, Path]]


def plan_download(files: Iterable[File], directory: str | os.PathLike[str]) -> DownloadPlan:
    """Where each file goes under ``directory`` (keys with ``/`` become folders), and whether it must come.

    A target that exists with the same size and checksum is ``present``; any
    other is in ``fetch``. A key that would land outside ``directory``
    (``../x``, ``/etc/x``) raises ``ValueError`` before anything is planned.
    """
    fetch: list[tuple[File, Path]] = []
    present: list[tuple[File, Path]] = []
    for file in files:
        target = path_inside(directory, file.key)
        (present if same_content(target, file) else fetch).append((file, target))
    return DownloadPlan(fetch=fetch, present=present)


@attrs.frozen
class SyncPlan:
    """What makes a draft's files match a folder.

    ``upload`` holds keys the draft lacks, ``replace`` keys whose content
    differs (or whose entry is unfinished), both with the local path;
    ``unchanged`` the keys that already match; ``extra`` the draft's keys with
    no file in the folder (removed only when asked).
    """

    upload: list[tuple[str, Path]]
    replace: list[tuple[str, Path]]
    unchanged: list[str]
    extra: list[str]

    def is_empty(self, *, delete: bool = False) -> bool:
        """Whether nothing needs doing (counting ``extra`` only when deleting)."""
        return not (self.upload or self.replace or (delete and self.extra))


def plan_sync(directory: str | os.PathLike[str], files: Iterable[File]) -> SyncPlan:
    """Compare the folder with a record's files by key, size and checksum (see :func:`same_content`)."""
    local = folder_files(directory)
    remote = {file.key: file for file in files}
    upload: list[tuple[str, Path]] = []
    replace: list[tuple[str, Path]] = []
    unchanged: list[str] = []
    for key, path in local.items():
        entry = remote.get(key)
        if entry is None:
            upload.append((key, path))
        elif entry.status not in (None, "completed") or not same_content(path, entry):
            replace.append((key, path))
        else:
            unchanged.append(key)
    extra = sorted(key for key in remote if key not in local)
    return SyncPlan(upload=upload, replace=replace, unchanged=unchanged, extra=extra)
