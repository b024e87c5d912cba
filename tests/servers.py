"""The repositories integration tests run against, chosen with ``--servers``.

``local`` is nrpfiles' own local repository in its default configuration;
``local-nrp`` is the local repository with the ``nrp`` profile (files on a
SeaweedFS it starts itself, as invenio-s3 keeps them); ``invenio-file`` and
``invenio-s3`` are the real InvenioRDM 14 on a file store
(Celery eager) and on S3 storage with a lazy worker, started by the
conformance harness in ``conformance/``. A test that takes the ``repository``
fixture (or ``client``/``draft``, which build on it) runs against each
selected server; the case asserts what the real application does, and the
local repository is held to it.

Faults are switched the same way on every server, ``repository.faults``: the
local repository injects its own; a real site is reached through a
fault-injecting reverse proxy on loopback (``tests/fault_proxy.py``), as a
production site sits behind nginx, and its links name the proxy. Requests
that go to S3 storage on presigned URLs pass beside the proxy and meet no
faults (``storage_faults`` is False there).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nrpfiles.testing import LocalRepository
from nrpfiles.testing.faults import Faults
from tests.fault_proxy import FaultProxy

LOCAL = "local"
LOCAL_NRP = "local-nrp"
REAL = {"invenio-file": ("file", True), "invenio-s3": ("s3", False)}
KNOWN = (LOCAL, LOCAL_NRP, *REAL)
# servers that publish, edit and version through requests and refuse the direct action
# links (as NRP does): cases marked direct_actions do not run on them
REFUSE_DIRECT_ACTIONS = frozenset({LOCAL_NRP})
_users = itertools.count(1)


@dataclass
class RepositoryUnderTest:
    """What a test needs to know of the server it talks to."""

    name: str
    url: str
    token: str
    storage: str  # "file" or "s3"
    ranges: bool  # whether downloads honour Range
    # configure()/injected/clear() as in the local repository; cleared by reset()
    faults: Faults
    # whether faults reach the requests that carry file content (parts, downloads);
    # on S3 they go to storage on presigned URLs, past the proxy
    storage_faults: bool = True
    # whether it serves NRP's /.well-known/repository document (an NRP site does)
    well_known: bool = False
    # whether a resumed multipart upload may be refused at commit and start over:
    # SeaweedFS keeps both uploads of a part sent twice (one in flight when the
    # last run died, then sent again), and invenio-s3 counts them all
    resent_parts_listed_twice: bool = False
    local: LocalRepository | None = None
    other_token: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.local is not None

    def another_user(self) -> str:
        """A token of a second user, who must not see the first one's drafts."""
        if self.local is not None:
            return self.local.add_user(f"someone-else-{next(_users)}")
        assert self.other_token is not None
        return self.other_token

    def reset(self) -> None:
        """Switch faults off; empty the local repository too (a real one keeps its records)."""
        if self.local is not None:
            self.local.reset()
        self.faults.clear()


def selected(option: str) -> list[str]:
    names = [name.strip() for name in option.split(",") if name.strip()]
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        raise ValueError(f"unknown servers {unknown}; known: {', '.join(KNOWN)}")
    return names


def local_server(repository: LocalRepository, name: str = LOCAL) -> RepositoryUnderTest:
    on_s3 = repository.config.storage == "s3"
    return RepositoryUnderTest(
        name=name,
        url=repository.url,
        token=repository.token,
        storage=repository.config.storage,
        # on S3 content comes from S3 itself, through the redirect, and S3 honours ranges
        ranges=repository.config.ranges or on_s3,
        faults=repository.faults,
        # parts and downloads go to S3 on presigned URLs, where no fault is injected
        storage_faults=not on_s3,
        well_known=repository.config.well_known,
        local=repository,
    )


@contextlib.contextmanager
def started(name: str) -> Iterator[RepositoryUnderTest]:
    """A real InvenioRDM site behind a fault proxy, or the local repository on S3.

    The default local repository comes from its fixture.
    """
    if name == LOCAL_NRP:
        with LocalRepository(profile="nrp") as repository:
            yield local_server(repository, LOCAL_NRP)
        return
    from conformance.real_invenio import RealInvenio

    storage, eager = REAL[name]
    # The proxy listens first, so that the site can be told its public URL.
    with (
        FaultProxy() as proxy,
        RealInvenio(storage=storage, eager=eager, public_url=proxy.url) as site,
    ):
        proxy.forward_to(site.app_url)
        try:
            yield RepositoryUnderTest(
                name=name,
                url=site.url,
                token=site.token,
                storage=storage,
                # Range requests: off on InvenioRDM's file store, honoured by S3 storage.
                ranges=storage == "s3",
                faults=proxy.faults,
                storage_faults=storage != "s3",
                resent_parts_listed_twice=storage == "s3",
                other_token=site.other_token,
                details={"app_url": site.app_url},
            )
        finally:
            proxy.stop()  # before the app: nothing half-way through a request as it goes
