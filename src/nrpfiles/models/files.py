"""Files of a record: entries, their links and transfers, and the list of them."""

from __future__ import annotations

from collections.abc import Iterator, KeysView, Sequence
from datetime import datetime
from typing import Any, overload

import attrs

from nrpfiles.errors import FieldError

__all__ = ["File", "FileLinks", "FileTransfer", "FilesList", "FilesListLinks", "PartLink"]


@attrs.define(kw_only=True)
class PartLink:
    """Where to PUT one part of a multipart upload (part numbers start at 1)."""

    part: int
    url: str
    expiration: datetime | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class FileLinks:
    self_: str | None = None
    content: str | None = None
    commit: str | None = None
    parts: list[PartLink] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class FileTransfer:
    """How content reaches the repository.

    ``type`` is the wire letter: ``L`` local, ``M`` multipart, ``F`` fetch, ``R`` remote.
    """

    type: str = "L"
    url: str | None = None
    error: str | None = None
    parts: int | None = None
    part_size: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class File:
    """One file entry of a draft or a published record.

    ``errors`` is non-empty when the server reports a problem with the file,
    for example a failed content upload answered with status 200.
    """

    key: str
    size: int | None = None
    mimetype: str | None = None
    checksum: str | None = None
    status: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict)
    access: dict[str, Any] = attrs.field(factory=dict)
    transfer: FileTransfer | None = None
    storage_class: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    file_id: str | None = None
    version_id: str | None = None
    bucket_id: str | None = None
    links: FileLinks = attrs.field(factory=FileLinks)
    errors: list[FieldError] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class FilesListLinks:
    self_: str | None = None
    archive: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class FilesList:
    """The files of a draft or record; reads like a sequence of ``File``.

    ``"data.csv" in files`` tests for a key, ``files.get("data.csv")`` finds
    the entry, ``files[0]`` and iteration follow the server's order.
    It is registered as a ``collections.abc.Sequence`` at run time but does not
    inherit ``Sequence[File]`` in typing, so that type checkers accept a key
    on the left of ``in``; ``entries`` is the plain ``list[File]``.
    """

    enabled: bool = True
    entries: list[File] = attrs.field(factory=list)
    default_preview: str | None = None
    order: list[str] = attrs.field(factory=list)
    links: FilesListLinks = attrs.field(factory=FilesListLinks)
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)

    def get(self, key: str) -> File | None:
        return next((entry for entry in self.entries if entry.key == key), None)

    def keys(self) -> KeysView[str]:
        return {entry.key: None for entry in self.entries}.keys()

    @overload
    def __getitem__(self, index: int) -> File: ...

    @overload
    def __getitem__(self, index: slice) -> list[File]: ...

    def __getitem__(self, index: int | slice) -> File | list[File]:
        return self.entries[index]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[File]:
        return iter(self.entries)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return any(entry.key == item for entry in self.entries)
        return item in self.entries


Sequence.register(FilesList)
