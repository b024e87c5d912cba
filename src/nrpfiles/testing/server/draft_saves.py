"""Deletes of a draft's files that overlap, refused as InvenioRDM 14 refuses them.

InvenioRDM saves the draft, under a version check, whenever it deletes one of its
entries (one file or all of them). A second delete of the same draft that comes
while the first is saving fails: 400 "Not a valid value." when the draft refers to
a vocabulary term (its references fail to resolve mid-save), 500 otherwise (the
version check). An entry created meanwhile fails with 500. Each delete holds its
draft for ``RepositoryConfig.delete_save_seconds``, about what the real save takes,
so that deletes sent side by side meet as they do there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..storage import RecordRow
from .http import INTERNAL_ERROR, ApiError

NOT_A_VALID_VALUE = "Not a valid value."


class DraftSaves:
    """The drafts a delete is saving just now."""

    def __init__(self) -> None:
        self._saving: set[str] = set()
        self._lock = threading.Lock()

    @contextmanager
    def deleting(self, record: RecordRow, seconds: float) -> Iterator[None]:
        """Hold the draft for one delete; a delete already holding it refuses this one."""
        if seconds <= 0:
            yield
            return
        with self._lock:
            if record.id in self._saving:
                raise _overlap_refusal(record)
            self._saving.add(record.id)
        try:
            time.sleep(seconds)
            yield
        finally:
            with self._lock:
                self._saving.discard(record.id)

    def refuse_while_deleting(self, record: RecordRow) -> None:
        """An entry created while a delete saves the draft: the version check fails."""
        with self._lock:
            if record.id in self._saving:
                raise ApiError(500, INTERNAL_ERROR)

    def reset(self) -> None:
        with self._lock:
            self._saving.clear()


def _overlap_refusal(record: RecordRow) -> ApiError:
    metadata = (record.draft or {}).get("metadata") or {}
    if metadata.get("resource_type"):
        return ApiError(400, NOT_A_VALID_VALUE)
    return ApiError(500, INTERNAL_ERROR)
