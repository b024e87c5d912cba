"""The base each flavour's streaming reader builds on; scripts/gen_sync.py maps one onto the other.

The sync reader is an :class:`io.RawIOBase`, so ``shutil.copyfileobj``,
``io.BufferedReader`` and web frameworks that take a file object accept it.
The async reader cannot be one (its methods are coroutines): its base is empty.
"""

from __future__ import annotations

import io


class AsyncReaderBase:
    """Nothing to inherit: the async reader's methods are all its own."""


class ReaderBase(io.RawIOBase):
    """A readable, non-seekable binary stream."""

    def readable(self) -> bool:
        return True
