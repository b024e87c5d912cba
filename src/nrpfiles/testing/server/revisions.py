"""The revision ids InvenioRDM 14 gives drafts and records, step by step.

A revision id counts the database writes of a record, and InvenioRDM writes more
than once per request; a client only sees the sums, and these are they. A
vocabulary reference (a resource type, a creator's role) costs one more write
whenever the metadata is stored. Uploading, committing and describing files leave
the draft's revision alone; removing a file does not.
"""

from __future__ import annotations

from typing import Any

from .vocabularies import has_references

CREATED = 4  # a new draft, or a new version's draft
UPDATED = 1  # each update of a draft
FILES_CHANGED = 2  # a file removed (or all of them), files imported from the last version
FIRST_EDIT = 7  # the first draft of a published record, after its last draft's revision
LATER_EDIT = 8  # each further one
PUBLISHED = 4  # a version's first publication...
PUBLISHED_WITH_FILES = 5  # ...when it has files
REPUBLISHED = 3  # an edit published, after the record's revision...
REPUBLISHED_CHANGED = 4  # ...when the edit's draft was updated
EDIT_DISCARDED = 2  # the record, when the draft of an edit is thrown away


def _references(metadata: Any) -> int:
    return 1 if isinstance(metadata, dict) and has_references(metadata) else 0


def created(metadata: Any) -> int:
    return CREATED + _references(metadata)


def updated(revision: int, metadata: Any) -> int:
    return revision + UPDATED + _references(metadata)


def files_changed(revision: int) -> int:
    return revision + FILES_CHANGED


def edited(last_draft_revision: int, edited_before: bool) -> int:
    return last_draft_revision + (LATER_EDIT if edited_before else FIRST_EDIT)


def published(previous: int | None, *, has_files: bool, changed: bool) -> int:
    if previous is None:
        return PUBLISHED_WITH_FILES if has_files else PUBLISHED
    return previous + (REPUBLISHED_CHANGED if changed else REPUBLISHED)


def discarded(revision: int) -> int:
    return revision + EDIT_DISCARDED
