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
from .http import UNAUTHORIZED_MESSAGE, ApiError, Request

if TYPE_CHECKING:
    from .fetcher import Fetcher
    from .hashing import HashJobs
    from .signing import UrlSigner

TRANSFER_TYPES = ("L", "M", "F", "R")
MAX_FILES = 100
# InvenioRDM record ids: two groups of five lower-case Crockford base32 characters
_PID_ALPHABET = "".join(c for c in string.digits + string.ascii_lowercase if c not in "ilou")


@dataclass(frozen=True)
class RepositoryConfig:
    transfers: tuple[str, ...] = TRANSFER_TYPES
    ranges: bool = True
    storage_redirect: bool = False
    fetch_allowed_domains: tuple[str, ...] = ("127.0.0.1", "localhost")
    page_size: int = 25
    max_files: int = MAX_FILES


@dataclass
class Context:
    store: Store
    config: RepositoryConfig
    faults: Faults
    hashes: HashJobs
    signer: UrlSigner
    fetcher: Fetcher | None = None
    storage_port: int | None = None
    _violations: int = 0
    _violations_lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(self, request: Request, *, required: bool = True) -> User | None:
        token = request.bearer_token()
        if token is None:
            if required:
                raise ApiError(401, UNAUTHORIZED_MESSAGE)
            return None
        user = self.store.user_by_token(token)
        if user is None:
            raise ApiError(401, UNAUTHORIZED_MESSAGE)
        return user

    def reset(self) -> None:
        """Forget records and files, keep users and settings, switch faults off."""
        self.hashes.cancel_all()
        self.store.reset()
        self.faults.clear()

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
