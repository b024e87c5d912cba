from __future__ import annotations

import io
import re
import sys
import threading

import pytest

from nrpfiles.progress import Progress, ProgressShare, open_progress, progress_disabled


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def on_terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """Make stderr a terminal, from inside the test: output capture resets it after fixtures."""
    monkeypatch.delenv("NRPFILES_NO_PROGRESS", raising=False)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    return screen


def final_lines(output: str) -> list[str]:
    """The non-blank lines a terminal shows after ``output``: carriage returns
    and cursor-up moves honoured, the column kept when moving up."""
    screen: list[list[str]] = [[]]
    row = column = 0
    for token in re.findall(r"\x1b\[A|.|\n", output, flags=re.DOTALL):
        if token == "\x1b[A":
            row = max(0, row - 1)
        elif token == "\r":
            column = 0
        elif token == "\n":
            row, column = row + 1, 0
        else:
            while len(screen) <= row:
                screen.append([])
            line = screen[row]
            line.extend(" " * (column + 1 - len(line)))
            line[column] = token
            column += 1
    shown = ("".join(line).rstrip() for line in screen)
    return [line for line in shown if line]


def test_callback_receives_running_totals() -> None:
    calls: list[tuple[int, int | None]] = []
    with open_progress(lambda done, total: calls.append((done, total)), total=10) as progress:
        progress.advance(3)
        progress.advance(0)
        progress.advance(7)
    assert calls == [(0, 10), (3, 10), (10, 10)]
    assert progress.done == 10


def test_callback_with_unknown_total_and_restart() -> None:
    calls: list[tuple[int, int | None]] = []
    with open_progress(lambda d, t: calls.append((d, t)), total=None) as progress:
        progress.advance(5)
        progress.reset_to(0)
        progress.set_total(8)
        progress.advance(8)
    assert calls == [(0, None), (5, None), (0, None), (0, 8), (8, 8)]


def test_retried_bytes_are_taken_back(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int | None]] = []
    with open_progress(lambda d, t: calls.append((d, t)), total=10) as progress:
        progress.advance(6)
        progress.advance(-4)  # a part failed after 4 of its bytes; they go again
        progress.advance(8)
    assert calls == [(0, 10), (6, 10), (2, 10), (10, 10)]
    terminal = on_terminal(monkeypatch)
    with open_progress("retrying", total=10) as bar:
        bar.advance(6)
        bar.advance(-4)
        bar.advance(8)
    (summary,) = final_lines(terminal.getvalue())
    assert summary.startswith("retrying: 100%")


def test_shares_add_up_and_a_restarted_share_takes_back_only_its_own_bytes() -> None:
    seen: list[tuple[int, int | None]] = []
    with open_progress(lambda done, total: seen.append((done, total)), total=30) as whole:
        first, second = ProgressShare(whole), ProgressShare(whole)
        first.advance(8)
        second.advance(10)
        first.reset_to(0)  # the first transfer starts over
        first.advance(20)
        second.report(10, 10)  # as a callback, a share reports its running total
    assert [done for done, _ in seen] == [0, 8, 18, 10, 30]
    assert (first.done, second.done, whole.done) == (20, 10, 30)


def test_callback_zero_byte_transfer_still_reports() -> None:
    calls: list[tuple[int, int | None]] = []
    with open_progress(lambda d, t: calls.append((d, t)), total=0):
        pass
    assert calls == [(0, 0)]


def test_callback_errors_propagate() -> None:
    def refuse(done: int, total: int | None) -> None:
        if done:
            raise RuntimeError("stop")

    progress = open_progress(refuse, total=5)
    with pytest.raises(RuntimeError, match="stop"):
        progress.advance(1)


def test_thread_safe_advance_totals() -> None:
    seen: list[int] = []
    progress = open_progress(lambda d, t: seen.append(d), total=16 * 1000 * 7)
    start = threading.Barrier(16)

    def part() -> None:
        start.wait()
        for _ in range(1000):
            progress.advance(7)

    threads = [threading.Thread(target=part) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    progress.close()
    assert progress.done == 16 * 1000 * 7
    assert seen[-1] == 16 * 1000 * 7
    assert seen == sorted(seen)  # serialised calls, never going backwards


def test_none_and_false_report_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    for spec in (None, False):
        with open_progress(spec, total=10) as progress:
            progress.advance(10)
        assert type(progress) is Progress
        assert progress.done == 10
    assert terminal.getvalue() == ""


def test_bar_shows_bytes_rate_and_label(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    with open_progress("Uploading data.csv", total=3 << 20) as progress:
        for _ in range(3):
            progress.advance(1 << 20)
    (summary,) = final_lines(terminal.getvalue())
    assert summary.startswith("Uploading data.csv: 100%")
    assert "3.00M/3.00M" in summary
    assert "B/s" in summary


def test_bar_labelled_with_description(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    with open_progress(True, total=10, description="data.csv") as progress:
        progress.advance(10)
    (summary,) = final_lines(terminal.getvalue())
    assert summary.startswith("data.csv: 100%")


def test_bar_with_unknown_total_and_a_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    with open_progress("Downloading", total=None) as progress:
        progress.advance(5000)
        progress.reset_to(1000)
        progress.advance(1000)
    (summary,) = final_lines(terminal.getvalue())
    assert summary.startswith("Downloading: 1.95kB")  # 2000 bytes in binary units


def test_bars_of_parallel_transfers_each_leave_one_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    start = threading.Barrier(4)

    def transfer(number: int) -> None:
        start.wait()
        with open_progress(f"file-{number}", total=400_000) as progress:
            for _ in range(100):
                progress.advance(4000)

    threads = [threading.Thread(target=transfer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summaries = final_lines(terminal.getvalue())
    assert sorted(s.split(":")[0] for s in summaries) == [f"file-{n}" for n in range(4)]
    assert all("100%" in s and "391k/391k" in s for s in summaries)


def test_silent_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = Pipe()
    monkeypatch.setattr(sys, "stderr", pipe)
    with open_progress("Uploading", total=10) as progress:
        progress.advance(10)
    assert type(progress) is Progress
    assert pipe.getvalue() == ""
    assert progress_disabled()


def test_silent_without_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", None)
    with open_progress("Uploading", total=10) as progress:
        progress.advance(10)
    assert type(progress) is Progress


@pytest.mark.parametrize("variable", ["NRPFILES_NO_PROGRESS", "TQDM_DISABLE"])
@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_environment_turns_bars_off(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    terminal = on_terminal(monkeypatch)
    monkeypatch.setenv(variable, value)
    with open_progress("Uploading", total=10) as progress:
        progress.advance(10)
    assert terminal.getvalue() == ""


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_false_environment_values_keep_bars(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    terminal = on_terminal(monkeypatch)
    monkeypatch.setenv("NRPFILES_NO_PROGRESS", value)
    with open_progress("Uploading", total=10) as progress:
        progress.advance(10)
    assert "Uploading" in terminal.getvalue()


def test_callbacks_ignore_the_terminal_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NRPFILES_NO_PROGRESS", "1")
    monkeypatch.setattr(sys, "stderr", Pipe())
    calls: list[tuple[int, int | None]] = []
    with open_progress(lambda d, t: calls.append((d, t)), total=4) as progress:
        progress.advance(4)
    assert calls[-1] == (4, 4)


def test_close_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    progress = open_progress("x", total=1)
    progress.advance(1)
    progress.close()
    progress.close()
    assert len(final_lines(terminal.getvalue())) == 1


def test_unknown_spec_is_refused() -> None:
    with pytest.raises(TypeError):
        open_progress(42, total=1)  # type: ignore[arg-type]


def test_a_wait_for_the_rate_limit_shows_in_the_bar_of_its_transfer() -> None:
    from nrpfiles._pacing import report_pacing
    from nrpfiles.progress import _BarProgress

    with _BarProgress("data.csv", 100, io.StringIO()) as bar:
        report_pacing(1.5)
        assert "rate limit 1.5s" in bar._bar.postfix
    report_pacing(1.0)  # outside any transfer there is nothing to show it in
