"""Records and drafts, and pages of search results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import attrs

from nrpfiles.errors import FieldError
from nrpfiles.models.files import File

__all__ = ["Record", "RecordFiles", "RecordLinks", "SearchLinks", "SearchPage"]


@attrs.define(kw_only=True)
class RecordLinks:
    """Links of a draft (``self`` ends in ``/draft``) or of a published record."""

    self_: str | None = None
    self_html: str | None = None
    files: str | None = None
    publish: str | None = None
    record: str | None = None
    draft: str | None = None
    latest: str | None = None
    latest_html: str | None = None
    versions: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class RecordFiles:
    """The ``files`` section of a record; ``entries`` is keyed by file key."""

    enabled: bool = True
    count: int | None = None
    total_bytes: int | None = None
    entries: dict[str, File] = attrs.field(factory=dict)
    order: list[str] = attrs.field(factory=list)
    default_preview: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class Record:
    """A draft or a published record.

    ``errors`` holds the field problems a lenient create or update reported
    (the draft was saved anyway). ``etag`` is not part of the JSON: it is the
    ``ETag`` header the record was read with, for ``If-Match`` on update;
    ``read_as`` keeps the editable parts as read, to tell a real conflict from
    a revision the repository bumped itself.
    """

    id: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    revision_id: int | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict)
    access: dict[str, Any] = attrs.field(factory=dict)
    files: RecordFiles = attrs.field(factory=RecordFiles)
    parent: dict[str, Any] = attrs.field(factory=dict)
    versions: dict[str, Any] = attrs.field(factory=dict)
    is_published: bool | None = None
    is_draft: bool | None = None
    status: str | None = None
    links: RecordLinks = attrs.field(factory=RecordLinks)
    errors: list[FieldError] = attrs.field(factory=list)
    etag: str | None = None
    read_as: dict[str, Any] | None = attrs.field(default=None, repr=False, eq=False)
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class SearchLinks:
    self_: str | None = None
    next: str | None = None
    prev: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class SearchPage:
    """One page of search results; iterating gives its records.

    ``total`` counts all matches, not only this page. ``total_relation`` is
    set when the server gave the total as ``{"value", "relation"}`` (``"gte"``
    means at least). ``hits_extra`` keeps unknown fields of the ``hits`` object.
    """

    hits: list[Record] = attrs.field(factory=list)
    total: int = 0
    total_relation: str | None = None
    aggregations: dict[str, Any] = attrs.field(factory=dict)
    sort_by: str | None = None
    links: SearchLinks = attrs.field(factory=SearchLinks)
    hits_extra: dict[str, Any] = attrs.field(factory=dict, repr=False)
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.hits)
