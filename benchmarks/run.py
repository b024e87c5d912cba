"""Transfer benchmarks against the local repository on loopback, printed as markdown.

    python benchmarks/run.py                 # the full run (~10 minutes)
    python benchmarks/run.py --quick         # a smoke run (< 1 minute)
    python benchmarks/run.py --size-gib 2    # big-file rows with 2 GiB

Everything runs side by side in one go and is reported as ratios: curl against
the repository, curl against a plain static file server (nginx when installed,
else a sendfile server) on the same file, nrpfiles sync and async, and nrp-cmd
(the reference client) when Python 3.12 is found through pyenv. Every transfer
runs in a process of its own (memory peaks are its own) and the repository runs
in another, so no two share a GIL. Targets are printed with pass/fail; nothing
here is a test.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
GIB = 1 << 30
MIB = 1 << 20
REFERENCE_VENV = WORK / "nrp-cmd-venv"
MEMORY_TARGET_MIB = 100
# (flavour, direction): the fraction of curl's speed nrpfiles must reach, verified.
TARGETS = {
    ("sync", "download"): 0.8,
    ("async", "download"): 0.6,
    ("sync", "upload"): 0.9,
    ("async", "upload"): 0.8,
}


# -- processes ------------------------------------------------------------------------


def _python() -> str:
    return sys.executable


@contextlib.contextmanager
def _serving(command: list[str]) -> Iterator[str]:
    """Run a server that prints one ready line and stops when its stdin closes."""
    log = open(WORK / f"{Path(command[1]).stem}.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=HERE.parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{command[:3]} did not start")
        yield line.strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _static_server(directory: Path) -> Iterator[tuple[str, str]]:
    """(base URL, description) of nginx serving ``directory``, or of the sendfile fallback."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx:
        prefix = WORK / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = " ".join(
            f"{name}_temp_path {prefix}/{name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (prefix / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/error.log;\nevents {{ worker_connections 64; }}\n"
            f"http {{ access_log off; sendfile on; tcp_nopush on; {temp}\n"
            f"  default_type application/octet-stream;\n"
            f"  server {{ listen 127.0.0.1:{port}; root {directory}; }} }}\n"
        )
        process = subprocess.Popen(
            [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
            stderr=subprocess.PIPE,
        )
        try:
            for _ in range(50):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode() if process.stderr else "")
                time.sleep(0.1)
            version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
            yield f"http://127.0.0.1:{port}", version.strip().replace("nginx version: ", "")
        finally:
            process.terminate()
            process.wait(timeout=10)
        return
    with _serving([_python(), str(HERE / "_static_server.py"), str(directory)]) as url:
        yield url, "sendfile server (benchmarks/_static_server.py; nginx not installed)"


def _settle() -> None:
    """Flush dirty pages so one run's disk writeback does not slow the next."""
    os.sync()


# -- the local repository over plain HTTP -------------------------------------------


@dataclass
class Repository:
    url: str
    api_url: str
    token: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(headers={"Authorization": f"Bearer {self.token}"}, timeout=600)

    def new_draft(self, title: str) -> str:
        body = {"metadata": {"title": title}, "files": {"enabled": True}}
        response = self.http.post(f"{self.api_url}/records", json=body)
        response.raise_for_status()
        return str(response.json()["links"]["self"])

    def delete_file(self, draft: str, key: str) -> None:
        self.http.delete(f"{draft}/files/{key}")


def _curl(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "-f", *arguments], capture_output=True, text=True, check=True
    )


def curl_upload(repository: Repository, draft: str, key: str, source: Path) -> float:
    auth = f"Authorization: Bearer {repository.token}"
    files = f"{draft}/files"
    begin = time.perf_counter()
    _curl(
        "-H",
        auth,
        "-H",
        "Content-Type: application/json",
        "-X",
        "POST",
        "-d",
        json.dumps([{"key": key}]),
        files,
    )
    _curl(
        "-H",
        auth,
        "-H",
        "Expect:",
        "-H",
        "Content-Type: application/octet-stream",
        "-T",
        str(source),
        f"{files}/{key}/content",
    )
    _curl("-H", auth, "-X", "POST", f"{files}/{key}/commit")
    return time.perf_counter() - begin


def curl_download(url: str, target: Path, token: str | None = None) -> float:
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    begin = time.perf_counter()
    _curl(*headers, "-o", str(target), url)
    seconds = time.perf_counter() - begin
    target.unlink()
    return seconds


# -- child processes -------------------------------------------------------------------


def run_job(job: dict[str, Any], reference: bool = False) -> dict[str, Any]:
    python = str(REFERENCE_VENV / "bin/python") if reference else _python()
    script = HERE / ("_reference.py" if reference else "_worker.py")
    done = subprocess.run(
        [python, str(script), json.dumps(job)], capture_output=True, text=True, cwd=HERE.parent
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line and not line[0].isspace()]
        errors = [line for line in lines if "Error" in line.split(":")[0]] or lines or ["failed"]
        raise RuntimeError(errors[-1])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def prepare_reference(quick: bool) -> str | None:
    """The reference client's interpreter, installing it on first use; None with the reason."""
    python = REFERENCE_VENV / "bin/python"
    if python.exists():
        return None
    if quick:
        return "skipped in --quick (run the full benchmark once to install nrp-cmd)"
    candidates = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python"))
    try:
        prefix = subprocess.run(["pyenv", "prefix", "3.12.1"], capture_output=True, text=True)
        if prefix.returncode == 0:
            candidates.insert(0, Path(prefix.stdout.strip()) / "bin/python")
    except FileNotFoundError:
        pass
    interpreter = next((c for c in candidates if c.exists()), None)
    if interpreter is None:
        return "no Python 3.12 found through pyenv; nrp-cmd needs it"
    subprocess.run([str(interpreter), "-m", "venv", str(REFERENCE_VENV)], check=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "nrp-cmd"], capture_output=True, text=True
    )
    if install.returncode != 0:
        shutil.rmtree(REFERENCE_VENV, ignore_errors=True)
        return f"pip install nrp-cmd failed: {install.stderr.strip().splitlines()[-1]}"
    return None


# -- data ------------------------------------------------------------------------------


def make_big_file(path: Path, size: int) -> str:
    """Random content (a repeated 64 MiB block: incompressible, quick to make); its MD5."""
    if path.exists() and path.stat().st_size == size and path.with_suffix(".md5").exists():
        return path.with_suffix(".md5").read_text()
    block = random.Random(7).randbytes(64 * MIB)
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "wb") as stream:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            stream.write(piece)
            digest.update(piece)
            left -= len(piece)
    path.with_suffix(".md5").write_text(digest.hexdigest())
    return digest.hexdigest()


def make_small_files(directory: Path, count: int) -> None:
    if directory.exists() and len(list(directory.iterdir())) == count:
        return
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    chooser = random.Random(11)
    for index in range(count):
        size = chooser.randint(1 << 10, 64 << 10)
        (directory / f"file-{index:04d}.bin").write_bytes(chooser.randbytes(size))


# -- the measurements ------------------------------------------------------------------


@dataclass
class Measurements:
    rounds: int
    size: int
    seconds: dict[tuple[str, ...], list[float]] = field(default_factory=dict)
    errors: dict[tuple[str, ...], str] = field(default_factory=dict)
    memory: list[tuple[str, str, int, float, float]] = field(default_factory=list)
    small: dict[tuple[str, str, int], tuple[float, float]] = field(default_factory=dict)

    def add(self, case: tuple[str, ...], seconds: float) -> None:
        self.seconds.setdefault(case, []).append(seconds)

    def best(self, case: tuple[str, ...]) -> float | None:
        values = self.seconds.get(case)
        return min(values) if values else None

    def rate(self, case: tuple[str, ...]) -> float | None:
        best = self.best(case)
        return self.size / best / 1e9 if best else None


def big_file_cases(reference: bool) -> list[tuple[str, ...]]:
    cases: list[tuple[str, ...]] = [
        ("curl", "download", "static"),
        ("curl", "download", "single"),
        ("curl", "upload", "single"),
    ]
    for direction in ("download", "upload"):
        for flavour in ("sync", "async"):
            for mode in ("single", "parallel"):
                for verify in ("verified", "unverified"):
                    cases.append((flavour, direction, mode, verify))
        if reference:
            for mode in ("single", "parallel"):
                cases.append(("nrp-cmd", direction, mode))
    return cases


def measure_big_files(
    m: Measurements,
    repository: Repository,
    static_url: str,
    source: Path,
    md5: str,
    reference: bool,
) -> None:
    downloads = repository.new_draft("downloads")
    curl_upload(repository, downloads, "big.bin", source)
    uploads = repository.new_draft("uploads")
    target = WORK / "downloaded.bin"
    common = {"url": repository.url, "token": repository.token, "md5": md5}
    cases = big_file_cases(reference)
    for round_number in range(m.rounds):
        for case in cases:
            _settle()
            client, direction = case[0], case[1]
            try:
                if client == "curl":
                    if direction == "upload":
                        key = f"curl-{round_number}.bin"
                        m.add(case, curl_upload(repository, uploads, key, source))
                        repository.delete_file(uploads, key)
                    elif case[2] == "static":
                        m.add(case, curl_download(f"{static_url}/{source.name}", target))
                    else:
                        url = f"{downloads}/files/big.bin/content"
                        m.add(case, curl_download(url, target, repository.token))
                    continue
                key = f"{client}-{round_number}.bin" if direction == "upload" else "big.bin"
                job = {
                    **common,
                    "op": direction,
                    "flavour": client,
                    "mode": case[2],
                    "verify": client == "nrp-cmd" or case[3] == "verified",
                    "record": uploads if direction == "upload" else downloads,
                    "key": key,
                    "source": str(source),
                    "target": str(target),
                }
                result = run_job(job, reference=client == "nrp-cmd")
                m.add(case, result["seconds"])
                if direction == "upload":
                    repository.delete_file(uploads, key)
            except (RuntimeError, subprocess.CalledProcessError) as error:
                detail = getattr(error, "stderr", None) or str(error)
                m.errors[case] = str(detail).strip()
            finally:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
        print(f"  big files: round {round_number + 1} of {m.rounds} done", file=sys.stderr)


def measure_memory(
    m: Measurements, repository: Repository, sizes: list[int], md5s: dict[int, str]
) -> None:
    for size in sizes:
        source = WORK / f"memory-{size // GIB}g.bin"
        md5s[size] = make_big_file(source, size)
        draft = repository.new_draft(f"memory {size}")
        target = WORK / "downloaded.bin"
        common = {
            "url": repository.url,
            "token": repository.token,
            "md5": md5s[size],
            "record": draft,
            "source": str(source),
            "target": str(target),
            "mode": "parallel",
            "verify": True,
        }
        for flavour in ("sync", "async"):
            for direction in ("upload", "download"):
                _settle()
                key = "memory.bin" if flavour == "sync" else "memory-async.bin"
                if direction == "download":
                    key = "memory.bin"
                result = run_job({**common, "op": direction, "flavour": flavour, "key": key})
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                m.memory.append(
                    (
                        flavour,
                        direction,
                        size,
                        result["baseline_mib"],
                        result["peak_mib"] - result["baseline_mib"],
                    )
                )
        source.unlink()
        source.with_suffix(".md5").unlink()
        repository.http.delete(f"{draft}")  # the draft and its files
        print(f"  memory: {size // GIB} GiB done", file=sys.stderr)


def measure_small_files(
    m: Measurements, repository: Repository, directory: Path, rounds: int, reference: bool
) -> None:
    count = len(list(directory.iterdir()))
    clients = ["sync", "async"] + (["nrp-cmd"] if reference else [])
    for _ in range(rounds):
        for client in clients:
            for limit in (1, 4, 16):
                _settle()
                target = WORK / "small-downloaded"
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir()
                draft = repository.new_draft("small files")
                job = {
                    "url": repository.url,
                    "token": repository.token,
                    "op": "small",
                    "flavour": client,
                    "limit": limit,
                    "record": draft,
                    "source": str(directory),
                    "target": str(target),
                }
                try:
                    result = run_job(job, reference=client == "nrp-cmd")
                except RuntimeError as error:
                    m.errors[(client, "small", str(limit))] = str(error)
                    continue
                finally:
                    shutil.rmtree(target, ignore_errors=True)
                rates = (count / result["upload_seconds"], count / result["download_seconds"])
                previous = m.small.get((client, "", limit))
                if previous:
                    rates = (max(rates[0], previous[0]), max(rates[1], previous[1]))
                m.small[(client, "", limit)] = rates
                repository.http.delete(draft)
    print("  small files done", file=sys.stderr)


# -- the report ------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{suffix}"


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if not a or not b else f"{a / b:.2f}x"


def report(m: Measurements, notes: dict[str, str], small_count: int) -> str:
    lines: list[str] = []
    out = lines.append
    size_gib = m.size / GIB
    out(f"### Big files: {size_gib:g} GiB, best of {m.rounds} run(s)\n")
    out("| direction | client | mode | checksum | GB/s | vs curl | vs nrp-cmd (same mode) |")
    out("|---|---|---|---|---|---|---|")
    for direction in ("download", "upload"):
        curl = m.rate(("curl", direction, "single"))
        if direction == "download":
            static = m.rate(("curl", "download", "static"))
            out(
                f"| download | curl, static server ({notes['static']}) | single | - | "
                f"{_fmt(static)} | {_ratio(static, curl)} | |"
            )
        out(f"| {direction} | curl, repository | single | - | {_fmt(curl)} | 1.00x | |")
        for mode in ("single", "parallel"):
            reference = m.rate(("nrp-cmd", direction, mode))
            for flavour in ("sync", "async"):
                for verify in ("verified", "unverified"):
                    rate = m.rate((flavour, direction, mode, verify))
                    out(
                        f"| {direction} | nrpfiles {flavour} | {mode} | {verify} | {_fmt(rate)} | "
                        f"{_ratio(rate, curl)} | {_ratio(rate, reference)} |"
                    )
            if ("nrp-cmd", direction, mode) in m.seconds:
                out(
                    f"| {direction} | nrp-cmd async | {mode} | not checked | {_fmt(reference)} | "
                    f"{_ratio(reference, curl)} | 1.00x |"
                )
    out("")
    out(
        "What checksum verification costs (MD5 of every byte, on its own thread), "
        "best verified vs best unverified:\n"
    )
    out("| direction | flavour | mode | verified s | unverified s | cost |")
    out("|---|---|---|---|---|---|")
    for direction in ("download", "upload"):
        for flavour in ("sync", "async"):
            for mode in ("single", "parallel"):
                on = m.best((flavour, direction, mode, "verified"))
                off = m.best((flavour, direction, mode, "unverified"))
                cost = "n/a" if on is None or off is None else f"{(on - off) / off:+.0%}"
                out(f"| {direction} | {flavour} | {mode} | {_fmt(on)} | {_fmt(off)} | {cost} |")
    if m.memory:
        out("\n### Memory: peak resident set above the process's own baseline\n")
        out("| direction | flavour | size | baseline MiB | peak above baseline MiB | target |")
        out("|---|---|---|---|---|---|")
        for flavour, direction, size, baseline, above in m.memory:
            verdict = "pass" if above < MEMORY_TARGET_MIB else "FAIL"
            out(
                f"| {direction} | {flavour} | {size // GIB} GiB | {baseline:.0f} | {above:.0f} | "
                f"< {MEMORY_TARGET_MIB}: {verdict} |"
            )
    if m.small:
        out(
            f"\n### Many small files: {small_count} files of 1-64 KiB to one draft and back, "
            "files per second, one run\n"
        )
        out(
            "| client | limit_connections | upload files/s | download files/s | "
            "upload vs nrp-cmd | download vs nrp-cmd |"
        )
        out("|---|---|---|---|---|---|")
        for client in ("sync", "async", "nrp-cmd"):
            for limit in (1, 4, 16):
                rates = m.small.get((client, "", limit))
                if rates is None:
                    continue
                reference = m.small.get(("nrp-cmd", "", limit))
                name = "nrp-cmd async" if client == "nrp-cmd" else f"nrpfiles {client}"
                out(
                    f"| {name} | {limit} | {rates[0]:.0f} | {rates[1]:.0f} | "
                    f"{_ratio(rates[0], reference and reference[0])} | "
                    f"{_ratio(rates[1], reference and reference[1])} |"
                )
    out("\n### Targets (checksums verified; best of single stream and parallel)\n")
    out("| target | measured | verdict |")
    out("|---|---|---|")
    for (flavour, direction), wanted in TARGETS.items():
        curl = m.rate(("curl", direction, "single"))
        rates = [m.rate((flavour, direction, mode, "verified")) for mode in ("single", "parallel")]
        best = max((r for r in rates if r), default=None)
        ratio = best / curl if best and curl else None
        verdict = "n/a" if ratio is None else ("pass" if ratio >= wanted else "FAIL")
        out(f"| {flavour} {direction} >= {wanted}x curl | {_fmt(ratio, 2, 'x')} | {verdict} |")
    if m.memory:
        worst = max(above for *_, above in m.memory)
        verdict = "pass" if worst < MEMORY_TARGET_MIB else "FAIL"
        out(f"| memory < {MEMORY_TARGET_MIB} MiB above baseline | {worst:.0f} MiB | {verdict} |")
    if notes.get("reference"):
        out(f"\nnrp-cmd: {notes['reference']}")
    for case, error in sorted(m.errors.items()):
        out(f"\nfailed: {' '.join(case)}: {error}")
    return "\n".join(lines)


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
    import httpcore

    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    return (
        f"CPU {model}, {os.cpu_count()} cores, RAM {memory}; "
        f"{platform.system()} {platform.release()} ({platform.freedesktop_os_release().get('PRETTY_NAME', '')}); "
        f"Python {platform.python_version()}; httpx {httpx.__version__}, "
        f"httpcore {httpcore.__version__}; {curl.split(chr(10))[0].split(' (')[0]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-gib", type=float, default=1.0, help="big-file size (default 1)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run, no 4 GiB")
    parser.add_argument("--rounds", type=int, help="runs per row; the best counts (default 3)")
    parser.add_argument("--small-files", type=int, help="how many small files (default 1000)")
    parser.add_argument("--no-reference", action="store_true", help="skip nrp-cmd")
    args = parser.parse_args()
    size = int((0.25 if args.quick else args.size_gib) * GIB)
    rounds = args.rounds or (1 if args.quick else 3)
    small_count = args.small_files or (100 if args.quick else 1000)
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    notes: dict[str, str] = {}
    reference = False
    if not args.no_reference:
        problem = prepare_reference(args.quick)
        reference = problem is None
        if problem:
            notes["reference"] = problem
    static_dir = WORK / "static"
    static_dir.mkdir(exist_ok=True)
    source = static_dir / "big.bin"
    md5 = make_big_file(source, size)
    small_dir = WORK / f"small-{small_count}"
    make_small_files(small_dir, small_count)
    data_dir = WORK / "repository"
    shutil.rmtree(data_dir, ignore_errors=True)
    m = Measurements(rounds=rounds, size=size)
    print(f"machine: {machine()}", file=sys.stderr)
    try:
        with (
            _serving([_python(), str(HERE / "_repository.py"), str(data_dir)]) as ready,
            _static_server(static_dir) as (static_url, static_name),
        ):
            notes["static"] = static_name
            info = json.loads(ready)
            repository = Repository(info["url"], info["api_url"], info["token"])
            measure_big_files(m, repository, static_url, source, md5, reference)
            if not args.quick:
                measure_memory(m, repository, [GIB, 4 * GIB], {})
            measure_small_files(m, repository, small_dir, 1, reference)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        source.unlink(missing_ok=True)
        source.with_suffix(".md5").unlink(missing_ok=True)
    print(report(m, notes, small_count))
    print(
        f"\n{machine()}\n\nCommand: `python benchmarks/run.py {' '.join(sys.argv[1:])}`"
        f"; took {time.perf_counter() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
