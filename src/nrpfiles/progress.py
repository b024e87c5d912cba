"""Progress of one transfer: a terminal bar, a callback, or nothing.

``progress="Uploading data.csv"`` draws a tqdm bar on stderr with bytes in
binary units, rate and ETA, one bar per file; bars of parallel transfers
stack without garbling, and each finished bar leaves one summary line above
the live ones. In an IPython kernel (Jupyter, JupyterLab, VS Code, Colab)
bars are tqdm's notebook widgets, chosen by ``tqdm.auto`` (text bars where
ipywidgets is missing), and each finished widget stays as its summary.
Elsewhere no bar is drawn when stderr is not a terminal; nowhere when
``NRPFILES_NO_PROGRESS`` or ``TQDM_DISABLE`` is set to a true value.

``progress=callback`` calls ``callback(bytes_done, total_or_None)``: once when
the transfer starts (with the bytes already there when it resumes an
interrupted one), then after every chunk, from whichever thread moved the
bytes (a worker thread in the sync flavour, the event loop's thread in the
async one). Calls are serialised; ``bytes_done`` only goes down when bytes
are taken back to be sent again (a retried part, a restarted transfer).
Keep the callback quick, it runs while the transfer waits. An exception it
raises propagates into the transfer.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any, TypeAlias

from tqdm import tqdm

from nrpfiles._pacing import pacing_observer

__all__ = [
    "Progress",
    "ProgressCallback",
    "ProgressShare",
    "ProgressSpec",
    "in_ipython_kernel",
    "open_progress",
    "progress_disabled",
]

ProgressCallback: TypeAlias = Callable[[int, int | None], None]
ProgressSpec: TypeAlias = str | ProgressCallback | None

_TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
# A bar redraws at most this often, however many parts feed it.
_BAR_INTERVAL_SECONDS = 0.1


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE_WORDS


def in_ipython_kernel() -> bool:
    """Whether this runs in an IPython kernel, whose stderr is a notebook cell, not a terminal.

    A kernel has imported IPython already; a script that never did is not in one,
    and a terminal IPython shell has no kernel.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # a half-initialised or unusual IPython: not ours to judge
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_disabled(stream: IO[str] | None = None) -> bool:
    """Whether bars are off: turned off by the environment, or stderr is neither a
    terminal nor a notebook cell."""
    if _env_true("NRPFILES_NO_PROGRESS") or _env_true("TQDM_DISABLE"):
        return True
    if stream is None and in_ipython_kernel():
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return stream is None or not stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return True


class Progress:
    """Reports bytes moved; this base reports nowhere. All methods are thread-safe."""

    def __init__(self, total: int | None = None, start: int = 0) -> None:
        self._lock = threading.Lock()
        self._done = start
        self._total = total
        self._closed = False

    @property
    def done(self) -> int:
        return self._done

    @property
    def total(self) -> int | None:
        return self._total

    def advance(self, n: int) -> None:
        """Count ``n`` more bytes moved; a negative ``n`` takes back bytes that must go again."""
        if n == 0:
            return
        with self._lock:
            self._done += n
            self._report_locked()

    def reset_to(self, n: int) -> None:
        """Set the count to ``n`` (a restarted or resumed transfer)."""
        with self._lock:
            self._done = n
            self._report_locked(reset=True)

    def set_total(self, total: int | None) -> None:
        """Learn the size late (e.g. from a download's response headers)."""
        with self._lock:
            self._total = total
            self._report_locked(reset=True)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._close_locked()

    def paced(self, seconds: float) -> None:
        """Show that a request of this transfer waited ``seconds`` for the rate limit."""
        return None

    def _report_locked(self, *, reset: bool = False) -> None:
        return None

    def _close_locked(self) -> None:
        return None

    def __enter__(self) -> Progress:
        # Requests made for this transfer tell it when they wait for the rate limit.
        self._pacing_token = pacing_observer.set(self.paced)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = getattr(self, "_pacing_token", None)
        if token is not None:
            with contextlib.suppress(ValueError):  # left in another context than entered
                pacing_observer.reset(token)
        self.close()


class _CallbackProgress(Progress):
    def __init__(self, callback: ProgressCallback, total: int | None, start: int = 0) -> None:
        super().__init__(total, start)
        self._callback = callback
        with self._lock:
            self._report_locked()

    def _report_locked(self, *, reset: bool = False) -> None:
        self._callback(self._done, self._total)


class ProgressShare(Progress):
    """One transfer's share of a progress several transfers feed: its bytes move the whole.

    A share taken back (a restarted transfer) takes its bytes back from the
    whole, not the others'. ``report`` is the share as a progress callback.
    """

    def __init__(self, whole: Progress) -> None:
        super().__init__()
        self._whole = whole

    def advance(self, n: int) -> None:
        with self._lock:
            self._done += n
        self._whole.advance(n)

    def reset_to(self, n: int) -> None:
        with self._lock:
            change, self._done = n - self._done, n
        self._whole.advance(change)

    def paced(self, seconds: float) -> None:
        self._whole.paced(seconds)

    def report(self, done: int, total: int | None) -> None:
        self.reset_to(done)


def _notebook_bar_class() -> type[tqdm[Any]]:
    # Imported late: tqdm.auto chooses widgets or text once, when first imported.
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm


class _BarProgress(Progress):
    def __init__(
        self,
        label: str | None,
        total: int | None,
        stream: IO[str],
        start: int = 0,
        *,
        notebook: bool = False,
    ) -> None:
        super().__init__(total, start)
        self._notebook = notebook
        bar_class = _notebook_bar_class() if notebook else tqdm
        self._bar = bar_class(
            total=total,
            initial=start,
            desc=label,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=stream,
            dynamic_ncols=True,
            mininterval=_BAR_INTERVAL_SECONDS,
            # On a terminal finished bars are cleared and summarised by tqdm.write,
            # which prints above the live bars instead of over one of them; a
            # notebook widget is its own summary.
            leave=notebook,
        )
        self._stream = stream
        self._shown = start  # bytes already handed to tqdm
        self._next_draw = 0.0

    def paced(self, seconds: float) -> None:
        with self._lock:
            self._bar.set_postfix_str(f"paced for the rate limit {seconds:.1f}s", refresh=False)

    def _report_locked(self, *, reset: bool = False) -> None:
        if reset:
            self._bar.total = self._total
            self._bar.n = self._bar.last_print_n = self._shown = self._done
            self._bar.refresh()
            return
        now = time.monotonic()
        if now < self._next_draw:
            return  # parts keep counting; the bar catches up at the next draw
        self._next_draw = now + _BAR_INTERVAL_SECONDS
        self._bar.update(self._done - self._shown)
        self._shown = self._done

    def _close_locked(self) -> None:
        bar = self._bar
        bar.n = self._done
        if self._notebook:
            bar.close()
            return
        summary = bar.format_dict
        summary["rate"] = None  # the whole transfer's average, not the recent rate
        line = bar.format_meter(**summary)
        with tqdm.get_lock():  # type: ignore[no-untyped-call]
            bar.close()
            # Closing a bar below the first leaves the cursor mid-line.
            tqdm.write("\r" + line, file=self._stream)


def open_progress(
    progress: ProgressSpec | bool,
    *,
    total: int | None,
    description: str | None = None,
    start: int = 0,
) -> Progress:
    """Start reporting one transfer of ``total`` bytes (None when unknown).

    ``start`` is where a resumed transfer takes up: the first report says it.

    ``progress`` is a bar label, a callback, or None/False for nothing;
    ``True`` or ``""`` draw a bar labelled with ``description``.
    """
    if progress is None or progress is False:
        return Progress(total, start)
    if callable(progress):
        return _CallbackProgress(progress, total, start)
    if progress is True or isinstance(progress, str):
        if progress_disabled():
            return Progress(total, start)
        label = progress if isinstance(progress, str) and progress else description
        return _BarProgress(label, total, sys.stderr, start, notebook=in_ipython_kernel())
    raise TypeError(f"progress is a label, a callable or None, not {type(progress).__name__}")
