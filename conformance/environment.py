"""The environment the real InvenioRDM 14 runs in: installed once, cached, reused.

A virtual environment on Python 3.12 holds the locked requirements
(``requirements.txt``, compiled from ``requirements.in``): InvenioRDM with
its OpenSearch and S3 extras, and SeaweedFS's ``weed`` binary. It lives
outside the checkout, in ``${XDG_CACHE_HOME:-~/.cache}/nrpfiles/conformance/<key>``,
so every clone on the machine shares it; the key changes whenever the lock,
the interpreter or this recipe changes. It is built in a temporary folder and
renamed into place only when complete, so an interrupted install never
passes for a finished one. Debian's PostgreSQL server is installed too when
it is missing.

Standard library only: this runs before any of it exists.

    python3 conformance/environment.py          # install (or find) it, print its folder
    python3 conformance/environment.py --lock   # recompile requirements.txt
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS_IN = HERE / "requirements.in"
LOCK = HERE / "requirements.txt"

# uv installs the ~290 packages in well under a minute where pip takes three.
UV_VERSION = "0.13.9"
# Bump when the way the environment is built changes, so old caches are not reused.
RECIPE = "1"
PREFERRED_PYTHONS = ("3.12", "3.13")  # InvenioRDM 14 was seen working on both
STALE_AFTER_DAYS = 14  # cached environments and set-ups unused this long are removed


def log(message: str) -> None:
    print(f"[conformance] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Environment:
    """Where the installed pieces are."""

    key: str
    root: Path  # the virtual environment
    postgres_bin: Path  # folder with initdb, postgres, psql

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def weed(self) -> Path:
        return self.root / "bin" / "weed"


def cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nrpfiles" / "conformance"


def find_base_python() -> tuple[Path, str]:
    """The interpreter to build on and its full version: pyenv's 3.12 first."""
    candidates: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    for series in PREFERRED_PYTHONS:
        found = glob.glob(os.path.join(pyenv_root, "versions", f"{series}.*", "bin", "python"))
        candidates += sorted(found, key=_version_sort_key, reverse=True)
        on_path = shutil.which(f"python{series}")
        if on_path:
            candidates.append(on_path)
    for candidate in candidates:
        version = _python_version(candidate)
        if version and version.startswith(PREFERRED_PYTHONS):
            return Path(candidate), version
    raise SystemExit(
        "No Python 3.12 (or 3.13) found: install one with pyenv or as python3.12 on PATH"
    )


def _version_sort_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.parent.name
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def _python_version(python: str) -> str | None:
    try:
        done = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # a pyenv shim for a version that is not installed, say
    return done.stdout.strip()


def environment_key(python_version: str) -> str:
    digest = hashlib.sha256()
    for part in (RECIPE, UV_VERSION, python_version):
        digest.update(part.encode() + b"\0")
    digest.update(LOCK.read_bytes())
    return digest.hexdigest()[:16]


def ensure_environment() -> Environment:
    """Return the cached environment, building it first when there is none."""
    postgres_bin = ensure_postgresql()
    base_python, version = find_base_python()
    key = environment_key(version)
    final = cache_home() / key
    if not _usable(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        with exclusive(final.parent / f".{key}.lock"):
            if not _usable(final):  # another process may have built it meanwhile
                _build(final, base_python, version)
                prune_unused(final.parent, keep=final)
    mark_used(final)
    return Environment(key=key, root=final, postgres_bin=postgres_bin)


def mark_used(entry: Path) -> None:
    (entry / ".last-used").touch()


def prune_unused(parent: Path, keep: Path, days: float = STALE_AFTER_DAYS) -> None:
    """Remove other cache entries (older locks, older set-ups) unused for `days` days.

    Each environment is some 700 MB; without this every change of the lock
    would leave one behind for good.
    """
    cutoff = time.time() - days * 86400
    for entry in parent.iterdir():
        if entry.name.startswith((".build-", ".prune-")) and entry.is_dir():
            # Left by a build or a removal that was killed; one in progress is minutes old.
            if entry.stat().st_mtime < time.time() - 86400:
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if entry == keep or len(entry.name) != 16 or not entry.is_dir():
            continue  # not a key: the lock files, "prepared"
        stamp = entry / ".last-used"
        used = (stamp if stamp.exists() else entry).stat().st_mtime
        if used < cutoff:
            doomed = entry.with_name(f".prune-{entry.name}-{os.getpid()}")
            with contextlib.suppress(OSError):
                os.rename(entry, doomed)  # gone at once for anyone looking it up
                shutil.rmtree(doomed, ignore_errors=True)
                log(f"removed {entry}, unused for {days:.0f} days")


def _usable(venv: Path) -> bool:
    # The python link dangles when the base interpreter went away: rebuild then.
    return (venv / "bin" / "python").exists() and (venv / "bin" / "weed").exists()


@contextlib.contextmanager
def exclusive(lock_path: Path):
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(final: Path, base_python: Path, version: str) -> None:
    if final.exists():
        log(f"removing a broken environment at {final}")
        shutil.rmtree(final)
    # Leftovers of interrupted builds: we hold the lock, so none is in progress.
    for stale in final.parent.glob(f".build-{final.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    building = Path(tempfile.mkdtemp(prefix=f".build-{final.name}-", dir=final.parent))
    started = time.monotonic()
    log(f"installing InvenioRDM on Python {version} into {final} (once per lock)")
    try:
        _run([str(base_python), "-m", "venv", str(building)])
        python = building / "bin" / "python"
        _run([str(python), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"])
        _run(
            [
                str(building / "bin" / "uv"),
                "pip",
                "install",
                "--python",
                str(python),
                "--requirement",
                str(LOCK),
            ],
            env=_uv_environment(),
        )
        _point_scripts_at(building, final)
        os.rename(building, final)  # atomic: the environment appears complete or not at all
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    log(f"environment installed in {time.monotonic() - started:.1f} s")


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}")
    return done


def _uv_environment() -> dict[str, str]:
    """uv's settings: PyPI only, trusting the machine's certificate store.

    pip's configured extra indexes and find-links are left out on purpose:
    here they are offline copies holding wheels for the system's Python 3.11
    only, and uv, which takes a package from the first index that has it,
    would then find no wheel for 3.12 (pillow, for one) and fail; a fresh
    machine reaches PyPI alone anyway. Native TLS makes uv trust the system
    store (where a machine's own CA is added) instead of its built-in roots;
    SSL_CERT_FILE, when set, is honoured either way.
    """
    env = dict(os.environ)
    env.setdefault("UV_NATIVE_TLS", "1")
    return env


def _point_scripts_at(building: Path, final: Path) -> None:
    """Make the scripts' shebangs and activate files name the folder they will live in."""
    old, new = str(building).encode(), str(final).encode()
    for path in [*sorted((building / "bin").iterdir()), building / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1_000_000:
            continue  # links and binaries (uv, weed) carry no path
        content = path.read_bytes()
        if old in content and b"\0" not in content[:1024]:
            path.write_bytes(content.replace(old, new))


def ensure_postgresql() -> Path:
    """The folder of Debian's PostgreSQL server binaries, installing them if missing."""
    found = _postgres_bin()
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("PostgreSQL's server is missing: apt-get install postgresql")
    log("installing Debian's postgresql (its initdb is missing)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update"], env=env)
    _run(["apt-get", "install", "-y", "--no-install-recommends", "postgresql"], env=env)
    found = _postgres_bin()
    if not found:
        raise SystemExit("postgresql installed, yet no initdb under /usr/lib/postgresql")
    return found


def _postgres_bin() -> Path | None:
    initdbs = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if initdbs:
        newest = max(initdbs, key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
        return Path(newest).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def compile_lock() -> None:
    """Re-resolve requirements.in into the pinned requirements.txt."""
    base_python, version = find_base_python()
    with tempfile.TemporaryDirectory(prefix="nrpfiles-lock-") as scratch:
        _run([str(base_python), "-m", "venv", scratch])
        python = Path(scratch) / "bin" / "python"
        _run([str(python), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"])
        _run(
            [
                str(Path(scratch) / "bin" / "uv"),
                "pip",
                "compile",
                "--quiet",
                "--universal",
                "--python-version",
                version.rsplit(".", 1)[0],
                "--no-annotate",
                "--custom-compile-command",
                "python3 conformance/environment.py --lock",
                REQUIREMENTS_IN.name,
                "--output-file",
                LOCK.name,
            ],
            cwd=HERE,
            env=_uv_environment(),
        )
    log(f"wrote {LOCK}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", action="store_true", help="recompile requirements.txt")
    args = parser.parse_args(argv)
    if args.lock:
        compile_lock()
        return 0
    started = time.monotonic()
    environment = ensure_environment()
    log(f"environment {environment.key} ready in {time.monotonic() - started:.1f} s")
    print(environment.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
