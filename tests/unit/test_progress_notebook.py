"""Progress bars in an IPython kernel, with a stand-in kernel (no Jupyter needed).

The stand-ins are what tqdm and our detection look at: ``IPython.get_ipython()``
returning a shell with a kernel, ``ipykernel.zmqshell`` imported, and for
widgets a minimal ``ipywidgets`` and ``IPython.display.display``.
"""

from __future__ import annotations

import io
import sys
import types
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from nrpfiles.progress import Progress, in_ipython_kernel, open_progress, progress_disabled

# Modules that decide between widgets and text when imported: fresh for each case.
_CHOOSERS = ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook")


class Cell(io.StringIO):
    """A notebook cell's stderr: not a terminal."""

    def isatty(self) -> bool:
        return False


class _Widget:
    def __init__(self, **traits: Any) -> None:
        self.layout = types.SimpleNamespace()
        self.style = types.SimpleNamespace()
        self.value: Any = None
        self.bar_style = ""
        self.closed = False
        self.__dict__.update(traits)

    def close(self) -> None:
        self.closed = True


def in_cell(monkeypatch: pytest.MonkeyPatch) -> Cell:
    """Make stderr a cell from inside the test: output capture resets it after fixtures."""
    cell = Cell()
    monkeypatch.setattr(sys, "stderr", cell)
    return cell


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


class Kernel:
    def __init__(self) -> None:
        self.displayed: list[Any] = []


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Kernel]:
    """This process looks like a Jupyter kernel with ipywidgets; stderr is a cell."""
    yield from _fake_ipython(monkeypatch, kernel=True, widgets=True)


@pytest.fixture
def kernel_without_widgets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Kernel]:
    yield from _fake_ipython(monkeypatch, kernel=True, widgets=False)


@pytest.fixture
def terminal_ipython(monkeypatch: pytest.MonkeyPatch) -> Iterator[Kernel]:
    """IPython's own terminal shell, with output piped: no kernel."""
    yield from _fake_ipython(monkeypatch, kernel=False, widgets=False)


def _fake_ipython(monkeypatch: pytest.MonkeyPatch, *, kernel: bool, widgets: bool) -> Iterator[Kernel]:
    state = Kernel()
    shell = types.SimpleNamespace(kernel=object() if kernel else None)
    monkeypatch.setitem(sys.modules, "IPython", _module("IPython", get_ipython=lambda: shell))
    monkeypatch.setitem(
        sys.modules, "IPython.display", _module("IPython.display", display=state.displayed.append)
    )
    if kernel:
        monkeypatch.setitem(sys.modules, "ipykernel", _module("ipykernel"))
        monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", _module("ipykernel.zmqshell"))
    if widgets:
        fake_widgets = _module(
            "ipywidgets",
            FloatProgress=type("FloatProgress", (_Widget,), {}),
            HTML=type("HTML", (_Widget,), {}),
            HBox=type("HBox", (_Widget,), {}),
        )
        monkeypatch.setitem(sys.modules, "ipywidgets", fake_widgets)
    else:
        monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails, as when absent
    for name in ("NRPFILES_NO_PROGRESS", "TQDM_DISABLE"):
        monkeypatch.delenv(name, raising=False)
    saved = {name: sys.modules.pop(name) for name in _CHOOSERS if name in sys.modules}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tqdm's notices about which bars it chose
            yield state
    finally:
        for name in _CHOOSERS:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def test_in_a_kernel_bars_are_notebook_widgets(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    cell = in_cell(monkeypatch)
    assert in_ipython_kernel() and not progress_disabled()
    with open_progress("Uploading a.bin", total=1000) as progress:
        progress.advance(400)
        progress.advance(600)
    assert type(progress._bar).__module__ == "tqdm.auto"  # type: ignore[attr-defined]
    assert isinstance(progress._bar, sys.modules["tqdm.notebook"].tqdm)  # type: ignore[attr-defined]
    [widget] = kernel.displayed
    label, bar, numbers = widget.children
    assert label.value.replace("\u2007", " ").startswith("Uploading a.bin")  # figure spaces
    assert (bar.max, bar.value, bar.bar_style) == (1000, 1000, "success")
    assert "0.98k/0.98k" in numbers.value and not widget.closed  # the finished widget stays
    assert cell.getvalue() == ""  # no text bar beside the widget


def test_an_unfinished_transfer_leaves_a_widget_marked_failed(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_cell(monkeypatch)
    with open_progress("Downloading", total=1000) as progress:
        progress.advance(300)
    [widget] = kernel.displayed
    assert (widget.children[1].value, widget.children[1].bar_style) == (300, "danger")


def test_in_a_kernel_nrpfiles_no_progress_still_wins(
    kernel: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_cell(monkeypatch)
    monkeypatch.setenv("NRPFILES_NO_PROGRESS", "1")
    assert progress_disabled()
    with open_progress("Uploading", total=10) as progress:
        progress.advance(10)
    assert type(progress) is Progress and kernel.displayed == []


def test_a_kernel_without_ipywidgets_gets_text_bars_in_the_cell(
    kernel_without_widgets: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    cell = in_cell(monkeypatch)
    with open_progress("Uploading b.bin", total=2048) as progress:
        progress.advance(2048)
    assert kernel_without_widgets.displayed == []
    assert "Uploading b.bin" in cell.getvalue()


def test_ipython_in_a_terminal_with_piped_output_stays_quiet(
    terminal_ipython: Kernel, monkeypatch: pytest.MonkeyPatch
) -> None:
    cell = in_cell(monkeypatch)
    assert not in_ipython_kernel() and progress_disabled()
    with open_progress("Uploading", total=10) as progress:
        progress.advance(10)
    assert type(progress) is Progress and cell.getvalue() == ""


def test_without_ipython_a_pipe_stays_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.delenv("NRPFILES_NO_PROGRESS", raising=False)
    in_cell(monkeypatch)
    assert not in_ipython_kernel() and progress_disabled()
