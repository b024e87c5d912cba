"""The repository's JSON as attrs classes, and the functions that convert between the two.

Models are mutable so metadata can be edited in place; fields a server adds
that a model does not name are kept in ``extra`` and sent back by
:func:`unstructure`.
"""

from __future__ import annotations

from nrpfiles.errors import FieldError
from nrpfiles.models._converter import structure, unstructure
from nrpfiles.models.files import File, FileLinks, FilesList, FilesListLinks, FileTransfer, PartLink
from nrpfiles.models.info import ModelContentType, ModelInfo, RepositoryInfo
from nrpfiles.models.records import Record, RecordFiles, RecordLinks, SearchLinks, SearchPage
from nrpfiles.models.requests import Request, RequestLinks

__all__ = [
    "FieldError",
    "File",
    "FileLinks",
    "FileTransfer",
    "FilesList",
    "FilesListLinks",
    "ModelContentType",
    "ModelInfo",
    "PartLink",
    "Record",
    "RecordFiles",
    "RecordLinks",
    "RepositoryInfo",
    "Request",
    "RequestLinks",
    "SearchLinks",
    "SearchPage",
    "structure",
    "unstructure",
]
