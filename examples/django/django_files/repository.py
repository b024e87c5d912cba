"""One nrpfiles client for the whole process, shared by every request and thread.

Django has no hook for the end of a process, so the client is made on first
use and closed by ``atexit``. One sync client may be shared by threads: its
connection pool is reused by all of them.
"""

import atexit
import functools

from django.conf import settings

from nrpfiles import Client, get_sync_client


@functools.cache
def repository() -> Client:
    client = get_sync_client(settings.NRPFILES_URL, token=settings.NRPFILES_TOKEN)
    atexit.register(client.close)
    return client


def forget_repository() -> None:
    """Close the shared client; the next request makes a new one (tests use it)."""
    if repository.cache_info().currsize:
        repository().close()
    repository.cache_clear()
