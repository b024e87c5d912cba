"""Profiles: named deployments the local repository answers as.

A profile is data: a name, a line saying what it stands for, and the
``RepositoryConfig`` that deployment has: how its storage answers, how clients
discover it, what it refuses, and its limits. Endpoints read the configuration
only, never the profile's name, so a deployment's differences are all here.

- ``invenio``: InvenioRDM 14 as invenio-app-rdm ships it, on a file store (the
  default).
- ``zenodo``: zenodo.org: rate limits announced on every answer, 100 files and
  50 GB a record, multipart refused after init (so one request takes a whole
  file), python-requests' default User-Agent refused, and a home page naming
  InvenioRDM 13.0.
- ``nrp``: the Czech National Repository Platform as it runs in production:
  files on a real S3 engine (SeaweedFS, started with the repository), presigned
  part URLs, 302 downloads, ``multipart:`` checksums until a busy worker computes
  the md5 (it needs the ``s3`` extra); its discovery document and models; and
  publishing, editing and versioning through requests (oarepo-requests), the
  direct actions refused; ``publish_review=True`` makes a publish request wait
  for a reviewer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .server.context import RepositoryConfig
from .server.ratelimit import RateLimit

__all__ = [
    "FROM_PROFILE",
    "INVENIO",
    "NRP",
    "PROFILES",
    "ZENODO",
    "FromProfile",
    "Profile",
    "ProfileNotAvailable",
    "RateLimit",
    "RepositoryConfig",
    "configure",
    "profile_named",
]

DEFAULT_PROFILE = "invenio"
GB = 10**9
# seconds until the md5 replaces an S3 multipart upload's provisional checksum
NRP_CHECKSUM_DELAY = 30.0


@dataclass(frozen=True)
class Profile:
    """A deployment: its name, what it stands for, and the settings it has."""

    name: str
    summary: str
    config: RepositoryConfig = field(default_factory=RepositoryConfig)

    def differences(self) -> dict[str, object]:
        """The settings in which this profile differs from plain InvenioRDM 14."""
        plain = RepositoryConfig()
        return {
            f.name: getattr(self.config, f.name)
            for f in fields(RepositoryConfig)
            if f.name != "profile" and getattr(self.config, f.name) != getattr(plain, f.name)
        }


class ProfileNotAvailable(ValueError):
    """A profile that is named but that the local repository cannot answer as yet."""


INVENIO = Profile(
    name="invenio",
    summary="InvenioRDM 14 as invenio-app-rdm ships it, on a file store",
)

ZENODO = Profile(
    name="zenodo",
    summary="zenodo.org: rate limits, 100 files and 50 GB a record, no multipart for users",
    config=RepositoryConfig(
        profile="zenodo",
        # zenodo.org's documented API limits: 100 a minute signed in, 60 for guests
        rate_limit=RateLimit(100, 60.0),
        guest_rate_limit=RateLimit(60, 60.0),
        rate_limit_retry_after=True,
        max_files=100,
        max_file_size=50 * GB,
        bucket_quota=50 * GB,
        # multipart is not for its users, so a file of up to 50 GB goes in one request
        max_request_size=None,
        # users may init any transfer, but upload and commit only L
        refuse_multipart=True,
        # since January 2026
        refused_user_agents=("python-requests",),
        invenio_version="13.0",
    ),
)

NRP = Profile(
    name="nrp",
    summary="the Czech National Repository Platform: files on S3 (SeaweedFS), discovery "
    "document, publishing through requests",
    config=RepositoryConfig(
        profile="nrp",
        # files on S3: presigned part URLs, 302 downloads, multipart: checksums
        storage="s3",
        # a busy worker: multipart checksums read multipart:... for a while
        checksum_delay=NRP_CHECKSUM_DELAY,
        # oarepo-runtime's /.well-known/repository and its models
        well_known=True,
        # oarepo-requests: publish_draft, edit_published_record, new_version
        publish_through_requests=True,
    ),
)

PROFILES: dict[str, Profile] = {profile.name: profile for profile in (INVENIO, NRP, ZENODO)}

# named deployments still to be modelled, with what they will differ in
PLANNED: dict[str, str] = {}

PROFILE_NAMES = tuple(sorted([*PROFILES, *PLANNED]))


def profile_named(name: str) -> Profile:
    """The profile called ``name``; ``ProfileNotAvailable`` for a planned one."""
    if name in PROFILES:
        return PROFILES[name]
    if name in PLANNED:
        raise ProfileNotAvailable(
            f"the {name} profile ({PLANNED[name]}) is not available yet; "
            f"available: {', '.join(sorted(PROFILES))}"
        )
    raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILE_NAMES)}")


class FromProfile(enum.Enum):
    """The value an option takes when not given: the profile's."""

    VALUE = "the profile's value"


FROM_PROFILE = FromProfile.VALUE


def configure(profile: str | Profile, **options: Any) -> RepositoryConfig:
    """The profile's settings with the options given (not ``FROM_PROFILE``) in their place."""
    chosen = profile if isinstance(profile, Profile) else profile_named(profile)
    given = {name: value for name, value in options.items() if value is not FROM_PROFILE}
    known = {f.name for f in fields(RepositoryConfig)} - {"profile"}
    unknown = sorted(set(given) - known)
    if unknown:
        raise TypeError(f"unknown repository options: {', '.join(unknown)}")
    return replace(chosen.config, profile=chosen.name, **given)
