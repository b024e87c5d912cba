"""Pytest fixtures giving a live local repository (registered through ``pytest11``).

- ``local_repository_session``: one repository for the whole session.
- ``local_repository``: that repository, emptied before the test (fresh records, no
  faults) — the cheap default.
- ``fresh_local_repository``: a repository and data directory of the test's own, for
  tests that change switches or restart it.
- ``local_repository_factory``: ``factory(**LocalRepository kwargs)`` starts one more
  (``factory(profile="zenodo", rate_limit=(5, 1.0))`` for Zenodo with a short
  window); all are stopped at the end of the test.

The server modules are imported only when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .repository import LocalRepository


def _new(**kwargs: Any) -> LocalRepository:
    from .repository import LocalRepository

    return LocalRepository(**kwargs)


@pytest.fixture(scope="session")
def local_repository_session() -> Iterator[LocalRepository]:
    with _new() as repository:
        yield repository


@pytest.fixture
def local_repository(local_repository_session: LocalRepository) -> LocalRepository:
    local_repository_session.reset()
    return local_repository_session


@pytest.fixture
def fresh_local_repository(tmp_path: Any) -> Iterator[LocalRepository]:
    with _new(data_dir=tmp_path / "repository") as repository:
        yield repository


@pytest.fixture
def local_repository_factory() -> Iterator[Callable[..., LocalRepository]]:
    started: list[LocalRepository] = []

    def factory(**kwargs: Any) -> LocalRepository:
        repository = _new(**kwargs).start()
        started.append(repository)
        return repository

    yield factory
    for repository in reversed(started):
        repository.stop()
