"""What every endpoint shares: configuration, storage, faults and the current user."""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..faults import Faults
from ..storage import Store, User
from .draft_saves import DraftSaves
from .http import PERMISSION_DENIED, ApiError, Request
from .ratelimit import RateLimit, RateLimiter
from .stats import Stats

if TYPE_CHECKING:
    from .fetcher import Fetcher
    from .hashing import ChecksumTasks, HashJobs
    from .objects import ContentObjects
    from .signing import UrlSigner

TRANSFER_TYPES = ("L", "M", "F", "R")
# what InvenioRDM lets ordinary users create: F and R need an administrator
DEFAULT_TRANSFERS = ("L", "M")
MAX_FILES = 100
# InvenioRDM's RDM_FILES_DEFAULT_QUOTA_SIZE and RDM_FILES_DEFAULT_MAX_FILE_SIZE: 10 GB each
DEFAULT_BUCKET_QUOTA = 10 * 10**9
DEFAULT_MAX_FILE_SIZE = 10 * 10**9
# invenio-app-rdm's MAX_CONTENT_LENGTH, which every content and part PUT meets too:
# invenio-records-resources lifts the limit of those to FILES_REST_DEFAULT_MAX_FILE_SIZE,
# but that is None unless a site sets it, and Flask 3.1 then takes the app's limit
DEFAULT_MAX_REQUEST_SIZE = 100 * 2**20
# how long the background task takes to fill in a multipart upload's checksum
DEFAULT_CHECKSUM_DELAY = 0.5
INVENIO_VERSION = "14.0"
# how long InvenioRDM takes to save a draft when one of its files is deleted (20-70 ms
# on the real application here): a second delete of the draft meanwhile is refused
DEFAULT_DELETE_SAVE_SECONDS = 0.02
# where content lives: InvenioRDM's file store, or S3 (SeaweedFS started with the repository)
STORAGES = ("file", "s3")
# invenio-s3's S3_URL_EXPIRATION (downloads) and S3_UPLOAD_URL_EXPIRATION (parts)
DEFAULT_DOWNLOAD_URL_EXPIRY = 60
DEFAULT_PART_URL_EXPIRY = 7 * 24 * 3600
# InvenioRDM record ids: two groups of five lower-case Crockford base32 characters
_PID_ALPHABET = "".join(c for c in string.digits + string.ascii_lowercase if c not in "ilou")


@dataclass(frozen=True)
class RepositoryConfig:
    """How this repository differs from another: every deployment choice is a field here.

    The defaults are those of a plain InvenioRDM 14 on a file store; a profile
    (``nrpfiles.testing.profiles``) is a name for another set of them.
    """

    transfers: tuple[str, ...] = DEFAULT_TRANSFERS
    ranges: bool = False
    storage_redirect: bool = False
    fetch_allowed_domains: tuple[str, ...] = ()
    page_size: int = 25
    max_files: int = MAX_FILES
    max_file_size: int | None = DEFAULT_MAX_FILE_SIZE
    bucket_quota: int | None = DEFAULT_BUCKET_QUOTA
    # the largest body one content or part PUT may carry (413 above); None: no limit
    max_request_size: int | None = DEFAULT_MAX_REQUEST_SIZE
    checksum_delay: float = DEFAULT_CHECKSUM_DELAY
    well_known: bool = False
    invenio_version: str = INVENIO_VERSION
    csrf: bool = True
    # InvenioRDM deletes the entry of a whole-content upload whose body ends early
    cut_upload_deletes_entry: bool = True
    # seconds a delete of a draft's file (or all of them) holds the draft, refusing
    # another delete or a new entry of it meanwhile; 0: they never overlap
    delete_save_seconds: float = DEFAULT_DELETE_SAVE_SECONDS
    # the profile these settings started from
    profile: str = "invenio"
    # requests per window for a signed-in user (per user) and for guests (per address);
    # None: no limit and no X-RateLimit-* headers, as InvenioRDM ships
    rate_limit: RateLimit | None = None
    guest_rate_limit: RateLimit | None = None
    # whether a 429 of the rate limit says Retry-After
    rate_limit_retry_after: bool = True
    # M init answers 201, but every part PUT and the commit 403 (Zenodo)
    refuse_multipart: bool = False
    # User-Agent prefixes answered 403 (Zenodo refuses python-requests' default)
    refused_user_agents: tuple[str, ...] = ()
    # NRP (oarepo-requests): drafts are published, records edited and versioned through
    # requests; the direct actions answer 403, records read with ?expand=true list their
    # requests, and the discovery document links the requests API
    publish_through_requests: bool = False
    # a publish request waits, submitted, until someone other than its creator accepts it
    publish_review: bool = False
    # "file" or "s3": on S3 parts go to presigned URLs and downloads answer 302
    storage: str = "file"
    # seconds a download's presigned URL lasts, and a multipart part's (S3 only)
    download_url_expiry: int = DEFAULT_DOWNLOAD_URL_EXPIRY
    part_url_expiry: int = DEFAULT_PART_URL_EXPIRY


@dataclass
class Context:
    store: Store
    config: RepositoryConfig
    faults: Faults
    hashes: HashJobs
    checksums: ChecksumTasks
    signer: UrlSigner
    objects: ContentObjects
    fetcher: Fetcher | None = None
    storage_port: int | None = None
    stats: Stats = field(default_factory=Stats)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    draft_saves: DraftSaves = field(default_factory=DraftSaves)
    _violations: int = 0
    _violations_lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(self, request: Request, *, required: bool = True) -> User | None:
        """The caller; an unknown token counts as none, and either is a 403 where one is needed.

        InvenioRDM never answers 401: a token it does not know leaves the request
        anonymous, and what anonymous may not do is "Permission denied.".
        """
        token = request.bearer_token()
        user = None if token is None else self.store.user_by_token(token)
        if user is None and required:
            raise ApiError(403, PERMISSION_DENIED)
        return user

    def reset(self) -> None:
        """Forget records and files, keep users and settings, switch faults off.

        The counters of ``stats`` start again from zero, and so do rate-limit windows.
        """
        self.hashes.cancel_all()
        self.checksums.cancel_all()
        self.store.reset()
        self.faults.clear()
        self.stats.reset()
        self.limiter.reset()
        self.draft_saves.reset()

    def count_violation(self) -> None:
        with self._violations_lock:
            self._violations += 1

    @property
    def token_violations(self) -> int:
        with self._violations_lock:
            return self._violations

    def storage_base(self, request: Request) -> str:
        host = request.host.rsplit(":", 1)[0] if ":" in request.host else request.host
        return f"http://{host}:{self.storage_port}"


def api_base(request: Request) -> str:
    return request.base_url + "/api"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def new_pid() -> str:
    chars = [secrets.choice(_PID_ALPHABET) for _ in range(10)]
    return "".join(chars[:5]) + "-" + "".join(chars[5:])
