"""What a repository says about itself: its API base, transfers and models."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ModelContentType", "ModelInfo", "RepositoryInfo"]


@attrs.define(kw_only=True)
class ModelContentType:
    content_type: str
    name: str | None = None
    can_export: bool = False
    can_deposit: bool = False
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class ModelInfo:
    """One record model of an NRP repository (an item of the list at ``links["models"]``).

    ``metadata`` is true when record data sits under a ``metadata`` key.
    """

    type: str
    name: str | None = None
    description: str | None = None
    version: str | None = None
    schema: str | None = None
    metadata: bool = True
    links: dict[str, str] = attrs.field(factory=dict)
    content_types: list[ModelContentType] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.define(kw_only=True)
class RepositoryInfo:
    """How to talk to a repository, from its discovery document or from defaults.

    ``kind`` is ``"nrp"`` (a ``/.well-known/repository`` document exists) or
    ``"invenio-rdm"``. ``transfers`` lists the transfer letters the repository
    offers (``L``, ``M``, ``F``, ``R``); empty when it did not say. Structuring
    a bare discovery document fills ``api_url`` from ``links["api"]`` and
    ``root_url`` from ``links["self"]``. ``models`` is not part of the
    document: it is filled from ``links["models"]`` by whoever fetches it.
    """

    root_url: str
    api_url: str
    kind: str = "nrp"
    name: str | None = None
    description: str | None = None
    version: str | None = None
    invenio_version: str | None = None
    transfers: tuple[str, ...] = ()
    default_model: str | None = None
    links: dict[str, str] = attrs.field(factory=dict)
    models: list[ModelInfo] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)
