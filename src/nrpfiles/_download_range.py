"""A byte range of a download and how far it has come."""

from __future__ import annotations


class DownloadRange:
    """One byte range of the file, how much of it arrived and is on disk; ``end`` None: until EOF.

    Bytes arrived may still wait for their write (see ``nrpfiles._write_behind``):
    the next request asks from what arrived; the sidecar and the hash count what
    is written.
    """

    __slots__ = ("arrived", "end", "resumed_at", "start", "written")

    def __init__(self, start: int, end: int | None) -> None:
        self.start, self.end, self.written, self.arrived = start, end, 0, 0
        self.resumed_at = 0  # bytes an earlier download had written

    @property
    def moved(self) -> int:
        return self.arrived - self.resumed_at

    @property
    def position(self) -> int:
        return self.start + self.arrived

    @property
    def done(self) -> bool:
        return self.end is not None and self.position >= self.end

    @property
    def written_to(self) -> int:
        return self.start + self.written

    @property
    def on_disk(self) -> bool:
        return self.end is not None and self.written_to >= self.end

    @classmethod
    def resumed(cls, start: int, end: int | None, written: int) -> DownloadRange:
        part = cls(start, end)
        part.written = part.arrived = part.resumed_at = written
        return part

    def header(self) -> str:
        last = "" if self.end is None else str(self.end - 1)
        return f"bytes={self.position}-{last}"
