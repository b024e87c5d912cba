"""``client.files``: list, read, upload, download, update and delete the files of a record."""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx

from nrpfiles._async.download import AsyncDownloader
from nrpfiles._async.http import decode_json
from nrpfiles._async.reading import AsyncFileReader
from nrpfiles._async.record_refs import AsyncRecordRefs
from nrpfiles._async.records import record_from
from nrpfiles._async.upload import AsyncUploader
from nrpfiles._async.upload_many import Outgoing, async_upload_many
from nrpfiles._concurrency import async_run_in_thread
from nrpfiles._transfer_plan import (
    check_key,
    download_ranges,
    path_inside,
    upload_parts,
)
from nrpfiles._transfer_plan import (
    transfer_type as wire_letter,  # the name ``transfer_type`` is a parameter here
)
from nrpfiles._urls import join, quote_key, to_url
from nrpfiles.errors import DoesNotExistError, PermissionDeniedError
from nrpfiles.models import File, FilesList, Record, structure
from nrpfiles.progress import ProgressSpec, open_progress
from nrpfiles.streams import DataSink, FileSink, as_sink, as_source, is_url

if TYPE_CHECKING:
    from nrpfiles._async.client import AsyncClient

# .../records/{id}/files/{key} of a published record; a draft's lives under /draft/.
_PUBLISHED_FILE = re.compile(r"^(?P<record>.*/records/[^/]+)/files/(?P<key>.+)$")


class AsyncFilesClient:
    """The files of draft and published records (``client.files``).

    Records can be given as :class:`~nrpfiles.models.Record` objects, as record
    URLs (``str``, ``httpx.URL`` or anything whose ``str()`` is the URL) or as
    record ids. Published records' files are read-only.
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._http = client._http
        self._uploader = AsyncUploader(client._http, max_file_size=client.config.max_file_size)
        self._downloader = AsyncDownloader(client._http)
        self._refs = AsyncRecordRefs(client)

    async def list(self, record_or_url: Any) -> FilesList:
        """All files of a record: iterable, indexable and searchable by key (``.get(key)``)."""
        files_url = await self._files_url(record_or_url)
        body, _ = await self._http.request_json("GET", files_url)
        return structure(body, FilesList)

    async def read(self, record_or_url: Any, key: str | File | None = None) -> File:
        """A file's entry: ``read(record, key)``, ``read(record_url, key)`` or ``read(file_url)``."""
        if key is None:
            return await self._read_file_url(to_url(record_or_url))
        files_url = await self._files_url(record_or_url)
        url = self._file_url_within(files_url, key)
        body, _ = await self._http.request_json("GET", url)
        return structure(body, File)

    async def upload(
        self,
        record_or_url: Any,
        key: str,
        metadata: Mapping[str, Any] | None = None,
        source: Any = None,
        transfer_type: str | None = "auto",
        transfer_metadata: Mapping[str, Any] | None = None,
        progress: ProgressSpec = None,
        *,
        overwrite: bool = False,
        size: int | None = None,
        resume: bool = True,
    ) -> File:
        """Upload ``source`` to the draft as file ``key`` and return its completed entry.

        ``source`` is a path (``str`` or ``Path``), ``bytes``, a ``FileSource``
        or ``MemorySource``, or any binary file object: an open file,
        ``io.BytesIO``, a pipe, Django's ``UploadedFile``, werkzeug's
        ``FileStorage``. A file object is read from its current position and
        never closed; one that cannot seek is copied to a temporary file, first
        or (when ``size=`` gives its length) while it is sent. ``size=``, when
        given, must be what the source holds. For
        ``transfer_type="url-fetch"`` ``source`` is the URL the repository
        fetches from. ``transfer_type`` is ``"auto"`` (multipart for
        large files where the repository offers it, else local), one of the
        guide's names (``"local-file"``, ``"multipart"``, ``"url-fetch"``,
        ``"remote"``) or a wire letter (``L``, ``M``, ``F``, ``R``).
        ``transfer_metadata`` may set ``part_size``/``parts`` for multipart,
        ``timeout`` (seconds) for url-fetch, ``size``/``checksum`` for remote.

        The upload streams with flat memory and is verified: the MD5 computed
        while sending must equal the checksum the repository reports after
        commit. On a mismatch, or when the transfer fails for good, the
        unfinished file entry is deleted from the draft and the error says so;
        nothing is left looking complete. When ``key`` already exists,
        a completed file is kept and ``ConflictError`` raised unless
        ``overwrite=True``; an unfinished one (a failed earlier attempt) is
        replaced.

        A multipart upload of a file on disk is journaled in the user's cache
        directory; when one is interrupted (Ctrl-C, a killed process), uploading
        the same unchanged file to the same record and key again sends only
        the parts the repository has not confirmed. ``resume=False`` starts
        over, removing the unfinished entry and its journal.
        """
        check_key(key)
        plan_options = dict(transfer_metadata or {})
        wire_type = transfer_type_for(transfer_type, source)
        local_source = None
        if wire_type not in ("F", "R"):
            # Copying a pipe to a temporary file must not stall the event loop.
            local_source = await async_run_in_thread(lambda: as_source(source, size=size))
        if wire_type in ("F", "R"):
            to_url(source)  # malformed URLs are refused before any request
        elif local_source is not None and (
            wire_type == "M" or {"parts", "part_size"} & set(plan_options)
        ):
            upload_parts(local_source.size, plan_options)  # bad part sizes, likewise
        files_url = await self._files_url(record_or_url, for_writing=True)
        info = await self._client.info()
        return await self._uploader.upload(
            files_url,
            key,
            metadata=dict(metadata or {}),
            source=local_source,
            source_url=None if local_source is not None else str(source),
            wire_type=wire_type,
            offered=info.transfers,
            transfer_metadata=plan_options,
            progress=progress,
            overwrite=overwrite,
            resume=resume,
        )

    async def upload_many(
        self,
        record_or_url: Any,
        sources: Mapping[str, Any],
        metadata: Mapping[str, Mapping[str, Any]] | None = None,
        transfer_type: str | None = "auto",
        progress: ProgressSpec = None,
        *,
        overwrite: bool = False,
    ) -> builtins.list[File]:  # ``list`` is a method here
        """Upload several files to the draft, ``{key: source}``; their completed entries, in order.

        Sources are what :meth:`upload` takes, URLs aside; ``metadata`` gives
        a file's metadata by its key. Faster than one :meth:`upload` after
        another: the files sent in one request have their entries made
        together, a request for up to 100 of them, and the files go side by
        side, as many at a time as ``limit_connections`` allows (4 without
        it). Large files go in parts, as :meth:`upload` sends them. One bar
        or callback (``progress``) counts the bytes of them all.

        Each file is verified as :meth:`upload` verifies it. When a key is
        already taken by a completed file, ``ConflictError`` is raised before
        anything is sent, unless ``overwrite=True``. When a file fails for
        good the others stop: the files completed stay on the draft, every
        unfinished entry is removed, and the error says how many got through.
        """
        if not isinstance(sources, Mapping):
            raise TypeError(
                f"sources is a mapping of keys to sources, not {type(sources).__name__}"
            )
        wanted = dict(metadata or {})
        stray = sorted(set(wanted) - set(sources))
        if stray:
            raise ValueError(f"metadata given for keys that are not uploaded: {stray}")
        wire_type = wire_letter(transfer_type)
        if wire_type in ("F", "R"):
            raise ValueError("upload_many sends local data; upload() takes URLs, one at a time")
        for key, source in sources.items():
            check_key(key)
            if is_url(source):
                raise ValueError(f"the source of {key!r} is a URL; upload() fetches URLs")
        outgoing = await async_run_in_thread(
            lambda: [
                Outgoing(key, dict(wanted.get(key) or {}), as_source(source), wire_type)
                for key, source in sources.items()
            ]
        )
        for item in outgoing:
            self._uploader.check_size(item.key, item.source.size)
        if not outgoing:
            return []
        files_url = await self._files_url(record_or_url, for_writing=True)
        info = await self._client.info()
        total = sum(item.source.size for item in outgoing)
        with open_progress(progress, total=total, description=f"{len(outgoing)} files") as bar:
            return await async_upload_many(
                self._uploader, files_url, outgoing,
                offered=info.transfers, overwrite=overwrite, whole=bar,
            )  # fmt: skip

    async def download(
        self,
        file_or_url: Any,
        key_or_sink: Any,
        sink: Any = None,
        *,
        parts: int | None = None,
        part_size: int | None = None,
        progress: ProgressSpec = None,
        resume: bool = True,
    ) -> DataSink:
        """Download a file: ``download(file_or_url, sink)`` or ``download(record, key, sink)``.

        ``sink`` is a path (parent directories are made; an existing directory
        receives the file under its key), a ``FileSink`` or a ``MemorySink``.
        Large files come in parallel byte ranges when the server offers them
        (``parts``/``part_size`` choose the split, down to 1 MiB); otherwise in
        one stream, resumed where it broke. Bytes go to a temporary file
        beside the target, renamed into place only after the MD5 matches the
        repository's checksum; on any failure the target is untouched.

        A download into a file that is interrupted (an error, Ctrl-C, a killed
        process) leaves its bytes in ``<target>.nrpfiles-partial`` with a
        sidecar ``<target>.nrpfiles-partial.json`` naming the remote file; the
        next download to the same target continues from there when the remote
        file is the same and the server honours ranges. ``resume=False``
        removes such leftovers and starts from the first byte.
        Returns the sink (``str()`` of a file sink is its path).
        """
        download_ranges(None, parts, part_size)  # bad part sizes are refused before any request
        if sink is None:
            target, file = key_or_sink, None
            if isinstance(file_or_url, File):
                file = file_or_url
        else:
            target, file = sink, None
            if isinstance(key_or_sink, File):
                self._check_file_belongs(file_or_url, key_or_sink)
                file = key_or_sink
        data_sink = self._sink_for(target, key_hint(file_or_url, key_or_sink, sink))
        data_sink.validate()
        if file is None:
            if sink is None:
                file = await self._read_file_url(to_url(file_or_url))
            else:
                file = await self.read(file_or_url, key_or_sink)
        await self._downloader.download(
            file, data_sink, parts=parts, part_size=part_size, progress=progress, resume=resume
        )
        return data_sink

    def open(self, file_or_url: Any, key: str | File | None = None) -> AsyncFileReader:
        """Read a file as a stream: ``open(record, key)``, ``open(file)`` or ``open(file_url)``.

        Use it as a context manager; the request goes out on entering it (or
        on ``start()``). The reader gives ``read(n)``, ``readinto``, an
        iteration over chunks (``iter_bytes``, async: ``aiter_bytes``, with
        ``chunk_size=None``), ``size`` and ``file`` (the entry).
        Nothing is written to disk. The checksum is recomputed as the bytes
        pass and compared at the end of the stream:
        ``ChecksumMismatchError`` then means the bytes already read are not
        the repository's file. Redirects to storage are followed without the
        token; a body that breaks off is resumed where it stopped.
        """
        if isinstance(file_or_url, File) and key is None:
            given = file_or_url

            async def known() -> File:
                return given

            return AsyncFileReader(self._http, known, given)

        async def resolve() -> File:
            if key is None:
                return await self._read_file_url(to_url(file_or_url))
            return await self.read(file_or_url, key)

        return AsyncFileReader(self._http, resolve)

    async def update(self, file: File) -> File:
        """Save a file's ``metadata`` (and ``access``) as edited; returns the new entry."""
        url = self._self_link(file)
        payload: dict[str, Any] = {"metadata": file.metadata}
        if file.access:
            payload["access"] = file.access
        body, _ = await self._http.request_json("PUT", url, json=payload)
        return structure(body, File)

    async def delete(self, record_or_file_or_url: Any, key: str | File | None = None) -> None:
        """Delete one file: ``delete(record, key=...)``, ``delete(file)`` or ``delete(file_url)``.

        Giving a record without a key is refused rather than read as "all
        files"; use :meth:`delete_all` for that.
        """
        entries = self._uploader.entries_of_drafts
        if isinstance(record_or_file_or_url, File) and key is None:
            await entries.delete(self._self_link(record_or_file_or_url))
            return
        if key is None:
            if isinstance(record_or_file_or_url, Record):
                raise ValueError("give the key of the file to delete, or use delete_all(record)")
            await entries.delete(await self._draft_file_url(to_url(record_or_file_or_url)))
            return
        files_url = await self._files_url(record_or_file_or_url, for_writing=True)
        await entries.delete(self._file_url_within(files_url, key))

    async def delete_all(self, record_or_url: Any) -> None:
        """Delete every file of a draft."""
        files_url = await self._files_url(record_or_url, for_writing=True)
        await self._uploader.entries_of_drafts.delete_all(files_url)

    # -- resolving what callers pass -------------------------------------------------

    async def _files_url(self, record_or_url: Any, *, for_writing: bool = False) -> str:
        record = await self._record(record_or_url)
        if for_writing and record.is_draft is False:
            raise PermissionDeniedError(
                f"record {record.id} is published and its files are read-only; "
                "edit it or create a new version to change files",
                url=record.links.self_,
            )
        if record.links.files:
            return record.links.files
        if record.links.self_:
            return join(record.links.self_, "files")
        raise ValueError(f"record {record.id!r} has no files link")

    async def _record(self, record_or_url: Any) -> Record:
        if isinstance(record_or_url, Record):
            return record_or_url
        if isinstance(record_or_url, File):
            raise TypeError("expected a record or its URL, got a File")
        url = await self._record_url(record_or_url)
        try:
            body, response = await self._http.request_json("GET", url)
        except DoesNotExistError:
            if url.rstrip("/").endswith("/draft"):
                raise
            # Not published (yet): the id may name a draft.
            body, response = await self._http.request_json("GET", join(url, "draft"))
        return record_from(body, response)

    async def _record_url(self, record_or_url: Any) -> str:
        if isinstance(record_or_url, str) and not is_url(record_or_url):
            if not record_or_url.strip() or "/" in record_or_url:
                raise ValueError(f"not a record id or URL: {record_or_url!r}")
            info = await self._client.info()
            return join(info.api_url, "records", record_or_url)
        return await self._refs.api_form(str(to_url(record_or_url)))

    async def _read_file_url(self, url: httpx.URL) -> File:
        """Read a file URL as given, or its draft twin when only the draft has the file.

        A file's web page (``{site}/records/ID/files/KEY``) stands for its API URL.
        """
        url = to_url(await self._refs.api_form(str(url)))
        try:
            response = await self._http.request("GET", url)
        except DoesNotExistError:
            draft_url = _draft_twin(url)
            if draft_url is None:
                raise
            response = await self._http.request("GET", draft_url)
        return structure(decode_json(response), File)

    async def _draft_file_url(self, url: httpx.URL) -> httpx.URL | str:
        """The URL a change of this file goes to: published files are read-only, so the draft's."""
        url = to_url(await self._refs.api_form(str(url)))
        return _draft_twin(url) or url

    def _file_url_within(self, files_url: str, key: str | File) -> str:
        if isinstance(key, File):
            self._check_file_belongs_to_files_url(files_url, key)
            return self._self_link(key)
        return join(files_url, quote_key(check_key(key)))

    def _check_file_belongs(self, record_or_url: Any, file: File) -> None:
        if isinstance(record_or_url, Record) and record_or_url.links.files:
            self._check_file_belongs_to_files_url(record_or_url.links.files, file)

    @staticmethod
    def _check_file_belongs_to_files_url(files_url: str, file: File) -> None:
        link = file.links.self_ or ""
        if not link.startswith(files_url.rstrip("/") + "/"):
            raise ValueError(
                f"file {file.key!r} belongs to another record ({link}), not to {files_url}"
            )

    @staticmethod
    def _self_link(file: File) -> str:
        if not file.links.self_:
            raise ValueError(f"file {file.key!r} has no self link; read it from the repository")
        return file.links.self_

    @staticmethod
    def _sink_for(target: Any, key: str | None) -> DataSink:
        if isinstance(target, (str, os.PathLike)) and not is_url(target):
            text = os.fspath(target)
            if key and (Path(text).is_dir() or text.endswith(("/", "\\"))):
                return FileSink(path_inside(text, key))
        return as_sink(target)


def transfer_type_for(requested: str | None, source: Any) -> str:
    """The wire type to use: explicit, or "url-fetch" when auto meets a URL source."""
    wire = wire_letter(requested)
    if source is None:
        raise ValueError(
            "an upload needs a source: a path, bytes, a file object, a DataSource or a URL"
        )
    if wire == "auto" and is_url(source):
        return "F"
    if wire in ("F", "R") and not is_url(source):
        raise ValueError(f"transfer type {wire} takes the URL of the data as its source")
    return wire


def key_hint(file_or_url: Any, key_or_sink: Any, sink: Any) -> str | None:
    """The file key, when known without a request, to name a file inside a directory sink."""
    if sink is not None and isinstance(key_or_sink, (str, File)):
        return key_or_sink.key if isinstance(key_or_sink, File) else key_or_sink
    if isinstance(file_or_url, File):
        return file_or_url.key
    match = _PUBLISHED_FILE.match(str(file_or_url)) if sink is None else None
    return unquote(match["key"]) if match else None


def _draft_twin(url: httpx.URL) -> str | None:
    """The draft's URL of a published record's file; None for a URL that is a draft's already."""
    match = None if "/draft/files/" in str(url) else _PUBLISHED_FILE.match(str(url))
    return None if match is None else f"{match['record']}/draft/files/{match['key']}"
