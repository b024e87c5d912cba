"""The rows: what is measured for one group of rows (one server), each transfer in a process
of its own (``_worker.py``, nrp-cmd's ``_reference.py``), curl beside it on the same URLs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _servers import HERE, WORK, Repository, python

GIB = 1 << 30
MIB = 1 << 20
REFERENCE_VENV = WORK / "nrp-cmd-venv"
# curl's parts where a file must go in parts: within InvenioRDM's 100 MiB a request
CURL_PART_SIZE = 64 * MIB
LIMITS = (1, 4, 16)
# one transfer (or one batch of small files) that takes longer is stopped and reported
JOB_TIMEOUT = 600.0
Case = tuple[str, ...]


@dataclass
class Group:
    """The rows measured against one server, and what is known to limit them."""

    name: str
    title: str
    limited_by: str
    size: int
    rounds: int
    small_count: int
    modes: tuple[str, ...] = ("single", "parallel", "auto")
    upload_modes: tuple[str, ...] | None = None  # where they differ from the downloads'
    curl_static: bool = False
    static_name: str = ""
    storage_redirect: bool = False  # downloads 302 to storage, uploads go to presigned parts
    in_parts: bool = False  # curl (and the file to download) upload in parts, not one request
    skipped: str | None = None
    seconds: dict[Case, list[float]] = field(default_factory=dict)
    errors: dict[Case, str] = field(default_factory=dict)
    memory: list[tuple[str, str, int, float, float]] = field(default_factory=list)
    small: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)

    def modes_for(self, direction: str) -> tuple[str, ...]:
        if direction == "upload" and self.upload_modes is not None:
            return self.upload_modes
        return self.modes

    def add(self, case: Case, seconds: float) -> None:
        self.seconds.setdefault(case, []).append(seconds)

    def best(self, case: Case) -> float | None:
        values = self.seconds.get(case)
        return min(values) if values else None

    def rate(self, case: Case) -> float | None:
        """GB/s of the best run of ``case``."""
        best = self.best(case)
        return self.size / best / 1e9 if best else None


def settle() -> None:
    """Flush dirty pages so one run's disk writeback does not slow the next."""
    os.sync()


# -- curl ------------------------------------------------------------------------------


def _curl(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "-f", *arguments], capture_output=True, text=True, check=True
    )


def curl_upload(repository: Repository, draft: str, key: str, source: Path) -> float:
    """A local (L) upload: create the entry, PUT the content, commit."""
    auth = f"Authorization: Bearer {repository.token}"
    files = f"{draft}/files"
    begin = time.perf_counter()
    _curl("-H", auth, "-H", "Content-Type: application/json", "-X", "POST",
          "-d", json.dumps([{"key": key}]), files)  # fmt: skip
    _curl("-H", auth, "-H", "Expect:", "-H", "Content-Type: application/octet-stream",
          "-T", str(source), f"{files}/{key}/content")  # fmt: skip
    _curl("-H", auth, "-X", "POST", f"{files}/{key}/commit")
    return time.perf_counter() - begin


def _pieces(source: Path, part_size: int) -> list[Path]:
    """The source cut into files of ``part_size`` (made once, outside any measurement)."""
    folder = WORK / f"pieces-{source.stat().st_size}-{part_size}"
    count = max(1, -(-source.stat().st_size // part_size))
    pieces = [folder / f"part-{number:05d}" for number in range(1, count + 1)]
    if not all(piece.exists() for piece in pieces):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with open(source, "rb") as stream:
            for piece in pieces:
                piece.write_bytes(stream.read(part_size))
    return pieces


def curl_upload_in_parts(
    repository: Repository, draft: str, key: str, source: Path, part_size: int = CURL_PART_SIZE
) -> float:
    """A multipart (M) upload, one curl per part in turn, each to the URL the repository gave:
    presigned storage URLs as they are, the repository's own with the token."""
    size = source.stat().st_size
    pieces = _pieces(source, part_size)
    begin = time.perf_counter()
    transfer = {"type": "M", "parts": len(pieces), "part_size": part_size}
    created = repository.http.post(
        f"{draft}/files", json=[{"key": key, "size": size, "transfer": transfer}]
    )
    mine = next(e for e in created.raise_for_status().json()["entries"] if e["key"] == key)
    urls = {part["part"]: part["url"] for part in mine["links"]["parts"]}
    for number, piece in enumerate(pieces, start=1):
        url = urls[number]
        auth = ["-H", f"Authorization: Bearer {repository.token}"]
        _curl(*(auth if url.startswith(repository.url) else []), "-H", "Expect:",
              "-H", "Content-Type: application/octet-stream", "-T", str(piece), url)  # fmt: skip
    repository.http.post(f"{draft}/files/{key}/commit").raise_for_status()
    return time.perf_counter() - begin


def curl_download(url: str, target: Path, token: str | None = None) -> float:
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    begin = time.perf_counter()
    _curl(*headers, "-o", str(target), url)
    seconds = time.perf_counter() - begin
    target.unlink()
    return seconds


def curl_download_checked(url: str, target: Path, md5: str, token: str | None = None) -> float:
    """What a careful shell user runs: ``curl | tee <target> | openssl md5``, checked.

    Three processes share the work a verified nrpfiles download does in one, the
    hash in a process of its own: the usual way to verify a download without
    nrpfiles, at the cost of two pipes.
    """
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    begin = time.perf_counter()
    curl = subprocess.Popen(["curl", "-sS", "-f", *headers, url], stdout=subprocess.PIPE)
    assert curl.stdout is not None
    tee = subprocess.Popen(["tee", str(target)], stdin=curl.stdout, stdout=subprocess.PIPE)
    curl.stdout.close()  # tee holds it now: curl sees a closed pipe if tee dies
    assert tee.stdout is not None
    hashed = subprocess.run(["openssl", "md5"], stdin=tee.stdout, capture_output=True, text=True)
    tee.stdout.close()
    codes = (curl.wait(), tee.wait(), hashed.returncode)
    seconds = time.perf_counter() - begin
    target.unlink(missing_ok=True)
    if any(codes):
        raise RuntimeError(f"curl | tee | openssl md5 failed with exit codes {codes}")
    words = hashed.stdout.split()  # "MD5(stdin)= <hex>"
    digest = words[-1] if words else ""
    if digest != md5:
        raise RuntimeError(f"curl's download hashed to {digest!r}, not {md5!r}")
    return seconds


# -- child processes -------------------------------------------------------------------


def run_job(job: dict[str, Any], reference: bool = False) -> dict[str, Any]:
    interpreter = str(REFERENCE_VENV / "bin/python") if reference else python()
    script = HERE / ("_reference.py" if reference else "_worker.py")
    try:
        done = subprocess.run(
            [interpreter, str(script), json.dumps(job)],
            capture_output=True, text=True, cwd=HERE.parent, timeout=JOB_TIMEOUT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"stopped after {JOB_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line and not line[0].isspace()]
        errors = [line for line in lines if "Error" in line.split(":")[0]] or lines or ["failed"]
        raise RuntimeError(errors[-1])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def prepare_reference(quick: bool) -> str | None:
    """Install nrp-cmd into its own venv on first use; None when ready, else why not."""
    interpreter = REFERENCE_VENV / "bin/python"
    if interpreter.exists():
        return None
    if quick:
        return "skipped in --quick (run the full benchmark once to install nrp-cmd)"
    candidates = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python"))
    with contextlib.suppress(FileNotFoundError):
        prefix = subprocess.run(["pyenv", "prefix", "3.12.1"], capture_output=True, text=True)
        if prefix.returncode == 0:
            candidates.insert(0, Path(prefix.stdout.strip()) / "bin/python")
    python312 = next((c for c in candidates if c.exists()), None)
    if python312 is None:
        return "no Python 3.12 found through pyenv; nrp-cmd needs it"
    subprocess.run([str(python312), "-m", "venv", str(REFERENCE_VENV)], check=True)
    install = subprocess.run(
        [str(interpreter), "-m", "pip", "install", "-q", "nrp-cmd"], capture_output=True, text=True
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


# -- the rows --------------------------------------------------------------------------


def big_file_cases(group: Group, reference: bool) -> list[Case]:
    cases: list[Case] = [("md5", "alone")]
    if group.curl_static:
        cases.append(("curl", "download", "static"))
    cases += [("curl", "download", "single"), ("curl", "download", "checked")]
    cases.append(("curl", "upload", "single"))
    for direction in ("download", "upload"):
        for flavour in ("sync", "async"):
            for mode in group.modes_for(direction):
                for verify in ("verified", "unverified"):
                    if mode == "auto" and verify == "unverified":
                        continue  # auto is what users get: verified
                    cases.append((flavour, direction, mode, verify))
        if reference:
            for mode in ("single", "parallel"):
                if mode in group.modes_for(direction):
                    cases.append(("nrp-cmd", direction, mode))
    return cases


def _curl_case(
    group: Group, repository: Repository, case: Case, source: Path, md5: str, uploads: str,
    key: str, content_url: str, static_url: str | None,
) -> float:  # fmt: skip
    target = WORK / "downloaded.bin"
    if case[1] == "upload":
        upload = curl_upload_in_parts if group.in_parts else curl_upload
        seconds = upload(repository, uploads, key, source)
        repository.delete_file(uploads, key)
        return seconds
    if case[2] == "static":
        return curl_download(f"{static_url}/{source.name}", target)
    # where the repository sends a download (a presigned URL), as nrpfiles gets it
    url = repository.storage_url(content_url)
    token = repository.token if url == content_url else None
    if case[2] == "checked":
        return curl_download_checked(url, target, md5, token)
    return curl_download(url, target, token)


def measure_big_files(
    group: Group, repository: Repository, source: Path, md5: str, reference: bool,
    static_url: str | None = None,
) -> None:  # fmt: skip
    downloads = repository.new_draft("downloads")
    upload = curl_upload_in_parts if group.in_parts else curl_upload
    upload(repository, downloads, "big.bin", source)
    content_url = f"{downloads}/files/big.bin/content"
    uploads = repository.new_draft("uploads")
    target = WORK / "downloaded.bin"
    common = {"url": repository.url, "token": repository.token, "md5": md5}
    for round_number in range(group.rounds):
        for case in big_file_cases(group, reference):
            settle()
            client, direction = case[0], case[1]
            key = f"{client}-{round_number}.bin"
            try:
                if client == "md5":
                    result = run_job({"op": "md5", "flavour": "sync", "source": str(source)})
                    group.add(case, result["seconds"])
                elif client == "curl":
                    seconds = _curl_case(
                        group, repository, case, source, md5, uploads, key, content_url, static_url
                    )  # fmt: skip
                    group.add(case, seconds)
                else:
                    job = {
                        **common,
                        "op": direction,
                        "flavour": client,
                        "mode": case[2],
                        "verify": client == "nrp-cmd" or case[3] == "verified",
                        "record": uploads if direction == "upload" else downloads,
                        "key": key if direction == "upload" else "big.bin",
                        "source": str(source),
                        "target": str(target),
                    }
                    result = run_job(job, reference=client == "nrp-cmd")
                    group.add(case, result["seconds"])
                    if direction == "upload":
                        repository.delete_file(uploads, key)
            except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
                detail = getattr(error, "stderr", None) or str(error)
                group.errors[case] = str(detail).strip()
            finally:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
        repository.reclaim_storage()  # a round uploads and deletes a dozen copies
        print(f"  {group.name}: big files round {round_number + 1} done", file=sys.stderr)


def measure_memory(group: Group, repository: Repository, sizes: list[int]) -> None:
    """Peak resident set of parallel transfers of ``sizes``, each in a fresh process."""
    for size in sizes:
        source = WORK / f"memory-{size // GIB}g.bin"
        md5 = make_big_file(source, size)
        draft = repository.new_draft(f"memory {size}")
        target = WORK / "downloaded.bin"
        common = {
            "url": repository.url,
            "token": repository.token,
            "md5": md5,
            "record": draft,
            "source": str(source),
            "target": str(target),
            "mode": "parallel",
            "verify": True,
        }
        try:
            for flavour in ("sync", "async"):
                for direction in ("upload", "download"):
                    settle()
                    key = (
                        "memory.bin"
                        if flavour == "sync" or direction == "download"
                        else ("memory-async.bin")
                    )
                    try:
                        result = run_job(
                            {**common, "op": direction, "flavour": flavour, "key": key}
                        )
                    except RuntimeError as error:
                        group.errors[("memory", flavour, direction, str(size))] = str(error)
                        continue
                    finally:
                        with contextlib.suppress(FileNotFoundError):
                            target.unlink()
                    above = result["peak_mib"] - result["baseline_mib"]
                    group.memory.append((flavour, direction, size, result["baseline_mib"], above))
        finally:
            source.unlink()
            source.with_suffix(".md5").unlink()
            repository.delete_draft(draft)
            repository.reclaim_storage()
        print(f"  {group.name}: memory {size // GIB} GiB done", file=sys.stderr)


def measure_small_files(
    group: Group, repository: Repository, directory: Path, reference: bool
) -> None:
    clients = ["sync", "async"] + (["nrp-cmd"] if reference else [])
    # Clients take turns, first in a different order at each limit: a server that
    # slows down or warms up over the group (a database growing with every draft,
    # storage reclaiming the big files' space) then weighs on each of them alike.
    runs = [
        (client, limit)
        for turn, limit in enumerate(LIMITS)
        for client in clients[turn % len(clients) :] + clients[: turn % len(clients)]
    ]
    for client, limit in runs:
        settle()
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
            group.errors[(client, "small", str(limit))] = str(error)
            continue
        finally:
            shutil.rmtree(target, ignore_errors=True)
            repository.delete_draft(draft)
        count = group.small_count
        group.small[(client, limit)] = (
            count / result["upload_seconds"],
            count / result["download_seconds"],
        )
    print(f"  {group.name}: small files done", file=sys.stderr)
