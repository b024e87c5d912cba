"""nrpfiles: the files of InvenioRDM and NRP repository records, from sync and async Python.

``nrpfiles.Client`` (what ``get_sync_client`` returns) is the blocking client;
``nrpfiles.AsyncClient`` (``await get_async_client(...)``) is its mirror.
"""

from nrpfiles._async.client import AsyncClient, get_async_client
from nrpfiles._retry import RetryPolicy
from nrpfiles._sync.client import Client, get_sync_client
from nrpfiles._version import __version__
from nrpfiles.errors import (
    ChecksumMismatchError,
    ConflictError,
    DoesNotExistError,
    PermissionDeniedError,
    RateLimitedError,
    RepositoryClientError,
    RepositoryCommunicationError,
    RepositoryError,
    RepositoryServerError,
    TransferError,
    UnexpectedResponseError,
    ValidationError,
)
from nrpfiles.limits import limit_connections

__all__ = [
    "AsyncClient",
    "ChecksumMismatchError",
    "Client",
    "ConflictError",
    "DoesNotExistError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RepositoryClientError",
    "RepositoryCommunicationError",
    "RepositoryError",
    "RepositoryServerError",
    "RetryPolicy",
    "TransferError",
    "UnexpectedResponseError",
    "ValidationError",
    "__version__",
    "get_async_client",
    "get_sync_client",
    "limit_connections",
]
