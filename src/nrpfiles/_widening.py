"""How many parts of a transfer run at once when the caller leaves it to us (``auto``).

Parallel parts pay where one connection is the limit (a long round trip, a
server or storage that paces each connection) and cost where the machine is
(the hash then reads parts back out of order, and more streams share two
cores). Which one holds is learnt from the transfer itself, not guessed from
its size: parts go in waves, one at a time at first; each wave's throughput
is measured, and one more part runs at once while that adds at least a tenth
to the throughput of the width before. The first width that does not stays
for the rest of the transfer, one narrower. Waves shorter than a fifth of a
second are measured together with the next at the same width: a fast link moves
a wave of two 32 MiB ranges in about 40 ms, where a scheduling hiccup alone
can make one width look a tenth faster than another.
"""

from __future__ import annotations

# What one more part at once must add to the throughput to be kept.
GAIN = 1.1
# How long a width is measured, at least, before it is judged.
MIN_MEASURED_SECONDS = 0.2


class Widening:
    """The width of the next wave of parts, from the throughput of the waves before."""

    def __init__(self, maximum: int) -> None:
        self.width = 1
        self._maximum = max(1, maximum)
        self._best: float | None = None
        self.settled = self._maximum == 1
        self._size = 0  # moved at the current width so far, and in how long
        self._seconds = 0.0

    def wave(self) -> int:
        """How many parts the next wave takes (only while not settled)."""
        return 2 * self.width

    def measured(self, size: int, seconds: float) -> None:
        """A wave of ``size`` bytes took ``seconds`` at the current width."""
        if self.settled:
            return
        self._size += size
        self._seconds += seconds
        if self._seconds < MIN_MEASURED_SECONDS:
            return  # another wave at this width first
        rate = self._size / self._seconds
        self._size, self._seconds = 0, 0.0
        if self._best is None or rate >= self._best * GAIN:
            self._best = rate
            if self.width < self._maximum:
                self.width += 1
            else:
                self.settled = True
        else:
            self.width -= 1
            self.settled = True
