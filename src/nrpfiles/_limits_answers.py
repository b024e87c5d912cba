"""The answers with which InvenioRDM refuses a file for a limit, read as clear errors."""

from __future__ import annotations

from nrpfiles.errors import LimitExceededError, RepositoryClientError

# What InvenioRDM (and Zenodo) say, and the limit each names.
_REFUSALS = (
    ("exceeding the max amount per record", "files per record"),
    ("maximum file size exceeded", "file size"),
    ("bucket quota exceeded", "record quota"),
)


def limit_refusal(error: RepositoryClientError, key: str, size: int | None) -> LimitExceededError | None:
    """The clear error for a refusal that names a limit; None for any other error."""
    said = (error.server_message or "").lower()
    limit = next((name for text, name in _REFUSALS if text in said), None)
    if error.status != 400 or limit is None:
        return None
    what = f"{key!r}" if size is None else f"{key!r} ({size:,} bytes)"
    reasons = {
        "files per record": f"the record already holds as many files as the repository allows; "
        f"{what} was not added",
        "file size": f"{what} is larger than the repository allows for one file",
        "record quota": f"{what} would take the record over its storage quota",
    }
    return LimitExceededError(
        f"{reasons[limit]} ({error.server_message})",
        limit=limit,
        key=key,
        status=error.status,
        method=error.method,
        url=error.url,
        server_message=error.server_message,
    )
