"""A local InvenioRDM-compatible repository for tests, demos and benchmarks.

``from nrpfiles.testing import LocalRepository``. Importing this package is cheap: the
server modules load on first use, so the pytest plugin costs nothing until a fixture
is requested.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .repository import LocalRepository

__all__ = ["LocalRepository"]


def __getattr__(name: str) -> Any:
    if name == "LocalRepository":
        from .repository import LocalRepository

        return LocalRepository
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
