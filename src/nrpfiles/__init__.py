"""nrpfiles: the files of InvenioRDM and NRP repository records, from sync and async Python.

``nrpfiles.Client`` (what ``get_sync_client`` returns) is the blocking client;
``nrpfiles.AsyncClient`` (``await get_async_client(...)``) is its mirror.
"""

from nrpfiles._async.client import AsyncClient, get_async_client
from nrpfiles._async.files import AsyncFilesClient
from nrpfiles._async.reading import AsyncFileReader
from nrpfiles._async.records import AsyncDraftRecordsClient, AsyncRecordsClient
from nrpfiles._async.requests import AsyncRequestsClient
from nrpfiles._retry import RetryPolicy
from nrpfiles._sync.client import Client, get_sync_client
from nrpfiles._sync.files import FilesClient
from nrpfiles._sync.reading import FileReader
from nrpfiles._sync.records import DraftRecordsClient, RecordsClient
from nrpfiles._sync.requests import RequestsClient
from nrpfiles._version import __version__
from nrpfiles.errors import (
    ChecksumMismatchError,
    ConflictError,
    DoesNotExistError,
    LimitExceededError,
    PermissionDeniedError,
    RateLimitedError,
    RepositoryClientError,
    RepositoryCommunicationError,
    RepositoryError,
    RepositoryServerError,
    RequestNotApplicable,
    TransferError,
    UnexpectedResponseError,
    ValidationError,
)
from nrpfiles.limits import limit_connections
from nrpfiles.models import File, FilesList, Record, Request, SearchPage

# The names the client that inspired us uses in its guide's type hints.
AsyncRepositoryClient = AsyncClient
RepositoryClient = Client

__all__ = [
    "AsyncClient",
    "AsyncDraftRecordsClient",
    "AsyncFileReader",
    "AsyncFilesClient",
    "AsyncRecordsClient",
    "AsyncRepositoryClient",
    "AsyncRequestsClient",
    "ChecksumMismatchError",
    "Client",
    "ConflictError",
    "DoesNotExistError",
    "DraftRecordsClient",
    "File",
    "FileReader",
    "FilesClient",
    "FilesList",
    "LimitExceededError",
    "PermissionDeniedError",
    "RateLimitedError",
    "Record",
    "RecordsClient",
    "RepositoryClient",
    "RepositoryClientError",
    "RepositoryCommunicationError",
    "RepositoryError",
    "RepositoryServerError",
    "Request",
    "RequestNotApplicable",
    "RequestsClient",
    "RetryPolicy",
    "SearchPage",
    "TransferError",
    "UnexpectedResponseError",
    "ValidationError",
    "__version__",
    "get_async_client",
    "get_sync_client",
    "limit_connections",
]
