"""Requests of NRP repositories (oarepo-requests): publish, edit and new version asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

__all__ = ["OPEN_STATUSES", "Request", "RequestLinks"]

# statuses of a request still waiting for someone: to be submitted, or to be decided
OPEN_STATUSES = ("created", "submitted")


@attrs.define(kw_only=True)
class RequestLinks:
    """``actions`` maps each action the caller may take now (submit, accept...) to its URL.

    ``topic`` holds the links of the record the request is about (for an accepted
    publish request, the published record).
    """

    self_: str | None = None
    self_html: str | None = None
    actions: dict[str, str] = attrs.field(factory=dict)
    topic: dict[str, Any] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class Request:
    """A request to publish a draft, edit a record or make its new version.

    ``status`` is ``created``, ``submitted`` (waiting for whoever receives it),
    ``accepted``, ``declined``, ``cancelled`` or ``expired``. ``payload``
    carries, once accepted, the links of what it made (``published_record:links:self``,
    ``draft_record:links:self``), as oarepo-requests writes them.
    """

    id: str | None = None
    type: str | None = None
    status: str | None = None
    is_open: bool | None = None
    created: datetime | None = None
    updated: datetime | None = None
    created_by: dict[str, Any] = attrs.field(factory=dict)
    receiver: dict[str, Any] = attrs.field(factory=dict)
    topic: dict[str, Any] = attrs.field(factory=dict)
    payload: dict[str, Any] = attrs.field(factory=dict)
    links: RequestLinks = attrs.field(factory=RequestLinks)
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def waiting(self) -> bool:
        """True while the request is neither decided nor withdrawn."""
        if self.is_open is not None:
            return self.is_open
        return self.status in OPEN_STATUSES
