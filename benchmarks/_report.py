"""The markdown the benchmarks print: one table per kind of row for each group, the ratios the
targets are stated in, and the targets with pass or fail."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path

import httpx
from _cases import GIB, LIMITS, Group

MEMORY_TARGET_MIB = 100
HASH_LIMIT_TARGET = {"download": 0.9, "upload": 0.75}  # verified, of min(curl, MD5 alone)
ASYNC_TARGET = 0.9  # every async row of its sync row
UNVERIFIED_DOWNLOAD_TARGET = 1.0  # of curl, both flavours
AUTO_TARGET = 0.9  # auto of the better of single and parallel


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else a / b


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def hash_limit(group: Group, direction: str) -> float | None:
    """GB/s a verified transfer can reach at best: the slower of curl and MD5 alone."""
    rates = [group.rate(("curl", direction, "single")), group.rate(("md5", "alone"))]
    known = [rate for rate in rates if rate]
    return min(known) if known else None


def _big_files(group: Group, out: list[str]) -> None:
    size_gib = group.size / GIB
    md5 = group.rate(("md5", "alone"))
    out.append(
        f"Big files: {size_gib:g} GiB, best of {group.rounds} run(s). MD5 alone over the same "
        f"bytes: {_fmt(md5)} GB/s. *limit* = the slower of curl and MD5 alone. "
        "`curl | tee | openssl md5` is a verified download as the shell makes one: three "
        "processes joined by pipes, the hash in one of its own.\n"
    )
    out.append(
        "| direction | client | mode | checksum | GB/s | vs curl | vs limit | async/sync "
        "| vs nrp-cmd |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|")
    for direction in ("download", "upload"):
        curl = group.rate(("curl", direction, "single"))
        limit = hash_limit(group, direction)
        if direction == "download" and ("curl", "download", "static") in group.seconds:
            static = group.rate(("curl", "download", "static"))
            out.append(
                f"| download | curl, static server ({group.static_name}) | single | - | {_fmt(static)} | "
                f"{_x(_ratio(static, curl))} | | | |"
            )
        where = "storage (presigned)" if group.storage_redirect else "repository"
        mode = "parts in turn" if direction == "upload" and group.in_parts else "single"
        out.append(f"| {direction} | curl, {where} | {mode} | - | {_fmt(curl)} | 1.00x | | | |")
        checked = ("curl", direction, "checked")
        if checked in group.seconds or checked in group.errors:
            rate = group.rate(checked)
            out.append(
                f"| {direction} | curl \\| tee \\| openssl md5 | single | verified | {_fmt(rate)} | "
                f"{_x(_ratio(rate, curl))} | {_x(_ratio(rate, limit))} | | |"
            )
        for mode in group.modes_for(direction):
            reference = group.rate(("nrp-cmd", direction, mode))
            for flavour in ("sync", "async"):
                for verify in ("verified", "unverified"):
                    case = (flavour, direction, mode, verify)
                    if case not in group.seconds and case not in group.errors:
                        continue
                    rate = group.rate(case)
                    sync = group.rate(("sync", direction, mode, verify))
                    versus_limit = _x(_ratio(rate, limit)) if verify == "verified" else ""
                    versus_sync = _x(_ratio(rate, sync)) if flavour == "async" else ""
                    out.append(
                        f"| {direction} | nrpfiles {flavour} | {mode} | {verify} | {_fmt(rate)} | "
                        f"{_x(_ratio(rate, curl))} | {versus_limit} | {versus_sync} | "
                        f"{_x(_ratio(rate, reference))} |"
                    )
            if ("nrp-cmd", direction, mode) in group.seconds:
                out.append(
                    f"| {direction} | nrp-cmd async | {mode} | not checked | {_fmt(reference)} | "
                    f"{_x(_ratio(reference, curl))} | | | 1.00x |"
                )


def _auto(group: Group, out: list[str]) -> None:
    if "auto" not in group.modes:
        return
    out.append(
        '\n`transfer_type="auto"` (verified) against the better of single stream and '
        "parallel parts on the same file:\n"
    )
    out.append("| direction | flavour | auto GB/s | best of single/parallel GB/s | auto/best |")
    out.append("|---|---|---|---|---|")
    for direction in ("download", "upload"):
        for flavour in ("sync", "async"):
            auto = group.rate((flavour, direction, "auto", "verified"))
            best = _best_fixed(group, flavour, direction)
            out.append(
                f"| {direction} | {flavour} | {_fmt(auto)} | {_fmt(best)} | "
                f"{_x(_ratio(auto, best))} |"
            )


def _best_fixed(group: Group, flavour: str, direction: str) -> float | None:
    rates = [group.rate((flavour, direction, mode, "verified")) for mode in ("single", "parallel")]
    return max((rate for rate in rates if rate), default=None)


def _memory(group: Group, out: list[str]) -> None:
    if not group.memory:
        return
    out.append(
        "\nMemory: peak resident set above the process's own baseline (parallel, verified)\n"
    )
    out.append("| direction | flavour | size | baseline MiB | peak above baseline MiB | target |")
    out.append("|---|---|---|---|---|---|")
    for flavour, direction, size, baseline, above in group.memory:
        verdict = "pass" if above < MEMORY_TARGET_MIB else "FAIL"
        out.append(
            f"| {direction} | {flavour} | {size // GIB} GiB | {baseline:.0f} | {above:.0f} | "
            f"< {MEMORY_TARGET_MIB}: {verdict} |"
        )


def _small_files(group: Group, out: list[str]) -> None:
    if not group.small:
        return
    out.append(
        f"\nMany small files: {group.small_count} files of 1-64 KiB to one draft and back, "
        "files per second, one run\n"
    )
    out.append(
        "| client | limit_connections | upload files/s | download files/s | "
        "async/sync up | async/sync down | up vs nrp-cmd | down vs nrp-cmd |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    for client in ("sync", "async", "nrp-cmd"):
        for limit in LIMITS:
            rates = group.small.get((client, limit))
            if rates is None:
                continue
            sync = group.small.get(("sync", limit), (None, None))
            reference = group.small.get(("nrp-cmd", limit), (None, None))
            name = "nrp-cmd async" if client == "nrp-cmd" else f"nrpfiles {client}"
            versus_sync = ["", ""]
            if client == "async":
                versus_sync = [_x(_ratio(rates[i], sync[i])) for i in (0, 1)]
            out.append(
                f"| {name} | {limit} | {rates[0]:.0f} | {rates[1]:.0f} | {versus_sync[0]} | "
                f"{versus_sync[1]} | {_x(_ratio(rates[0], reference[0]))} | "
                f"{_x(_ratio(rates[1], reference[1]))} |"
            )


def group_report(group: Group) -> str:
    out = [f"## {group.title}\n", f"What limits these rows: {group.limited_by}.\n"]
    if group.skipped:
        out.append(f"Skipped: {group.skipped}.")
        return "\n".join(out)
    if group.seconds:
        _big_files(group, out)
        _auto(group, out)
    _memory(group, out)
    _small_files(group, out)
    for case, error in sorted(group.errors.items()):
        out.append(f"\nfailed: {' '.join(case)}: {error}")
    return "\n".join(out)


def _verdict(value: float | None, wanted: float) -> str:
    return "n/a" if value is None else ("pass" if value >= wanted else "FAIL")


def targets(groups: list[Group]) -> str:
    """Every target of the issue, measured in this run, with pass or fail."""
    out = [
        "## Targets (checksums verified unless said)\n",
        "| group | target | measured | verdict |",
    ]
    out.append("|---|---|---|---|")

    def row(group: Group, text: str, value: float | None, wanted: float) -> None:
        out.append(f"| {group.name} | {text} | {_x(value)} | {_verdict(value, wanted)} |")

    for group in groups:
        if group.skipped:
            continue
        for direction, wanted in HASH_LIMIT_TARGET.items():
            limit = hash_limit(group, direction)
            for flavour in ("sync", "async"):
                for mode in ("single", "parallel"):
                    rate = group.rate((flavour, direction, mode, "verified"))
                    if rate is not None:
                        text = f"{flavour} {direction} {mode} >= {wanted}x limit"
                        row(group, text, _ratio(rate, limit), wanted)
        for case in sorted(group.seconds):
            if case[0] == "async":
                sync = group.rate(("sync", *case[1:]))
                row(
                    group,
                    f"{' '.join(case)} >= {ASYNC_TARGET}x sync",
                    _ratio(group.rate(case), sync),
                    ASYNC_TARGET,
                )
        for limit in LIMITS:
            async_rates, sync_rates = (
                group.small.get(("async", limit)),
                group.small.get(("sync", limit)),
            )
            if async_rates and sync_rates:
                for index, direction in enumerate(("upload", "download")):
                    text = f"async small {direction} at {limit} >= {ASYNC_TARGET}x sync"
                    row(group, text, _ratio(async_rates[index], sync_rates[index]), ASYNC_TARGET)
            reference = group.small.get(("nrp-cmd", limit))
            for flavour in ("sync", "async"):
                ours = group.small.get((flavour, limit))
                if reference and ours:
                    for index, direction in enumerate(("upload", "download")):
                        text = f"{flavour} small {direction} at {limit} ahead of nrp-cmd"
                        row(group, text, _ratio(ours[index], reference[index]), 1.0)
        curl = group.rate(("curl", "download", "single"))
        for flavour in ("sync", "async"):
            for mode in ("single", "parallel"):
                rate = group.rate((flavour, "download", mode, "unverified"))
                if rate is not None:
                    text = f"{flavour} download {mode} unverified >= 1.0x curl"
                    row(group, text, _ratio(rate, curl), UNVERIFIED_DOWNLOAD_TARGET)
            for direction in ("download", "upload"):
                auto = group.rate((flavour, direction, "auto", "verified"))
                if auto is not None:
                    best = _best_fixed(group, flavour, direction)
                    text = f"{flavour} {direction} auto >= {AUTO_TARGET}x best of single/parallel"
                    row(group, text, _ratio(auto, best), AUTO_TARGET)
                for mode in ("single", "parallel"):
                    reference = group.rate(("nrp-cmd", direction, mode))
                    ours = group.rate((flavour, direction, mode, "verified"))
                    if reference and ours:
                        text = f"{flavour} {direction} {mode} verified ahead of nrp-cmd"
                        row(group, text, _ratio(ours, reference), 1.0)
        if group.memory:
            worst = max(above for *_, above in group.memory)
            verdict = "pass" if worst < MEMORY_TARGET_MIB else "FAIL"
            out.append(
                f"| {group.name} | memory < {MEMORY_TARGET_MIB} MiB above baseline | "
                f"{worst:.0f} MiB | {verdict} |"
            )
    return "\n".join(out)


def machine() -> str:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    import h11
    import httpcore

    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    system = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    return (
        f"CPU {model}, {os.cpu_count()} cores, RAM {memory}; "
        f"{platform.system()} {platform.release()} ({system}); "
        f"Python {platform.python_version()}; httpx {httpx.__version__}, "
        f"httpcore {httpcore.__version__}, h11 {h11.__version__}; {curl.split(chr(10))[0].split(' (')[0]}"
    )
