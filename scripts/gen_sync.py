"""Generate the sync flavour from the async source.

    python scripts/gen_sync.py            # write src/nrpfiles/_sync/ and tests/_sync/
    python scripts/gen_sync.py --check    # fail with a diff if anything is stale, edited or orphaned
    python scripts/gen_sync.py --force    # overwrite generated files even if edited by hand

Names follow two rules, so hand-written pairs in nrpfiles._concurrency,
nrpfiles._shared_lock and nrpfiles.limits map onto each other without a table entry:
``AsyncThing`` becomes ``Thing`` and ``async_thing`` becomes ``thing``.
REPLACEMENTS holds only the exceptions; an entry that no source uses fails
the check, so the table cannot rot.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import tokenize_rt
import unasync

ROOT = Path(__file__).resolve().parent.parent
TREES = [
    (ROOT / "src/nrpfiles/_async", ROOT / "src/nrpfiles/_sync"),
    (ROOT / "tests/_async", ROOT / "tests/_sync"),
]

REPLACEMENTS = {
    # the package's own flavour names
    "_async": "_sync",
    "get_async_client": "get_sync_client",
    "_AsyncLargeReadStream": "_LargeReadStream",  # nrpfiles._transport, seen by tests
    # httpx
    "aiter_bytes": "iter_bytes",
    "aiter_raw": "iter_raw",
    "aread": "read",
    "aclose": "close",
    "AsyncByteStream": "SyncByteStream",
    # contextlib
    "enter_async_context": "enter_context",
    # pytest-asyncio fixtures become plain fixtures
    "pytest_asyncio": "pytest",
}

HEADER = "# Generated from {source} by scripts/gen_sync.py: do not edit.\n# body-sha256: {digest}\n"


class PrefixRule(unasync.Rule):  # type: ignore[misc]
    """unasync's rule with the project's naming rules and a record of used replacements."""

    def __init__(self) -> None:
        super().__init__("_async", "_sync", additional_replacements=REPLACEMENTS)
        self.used: set[str] = set()

    def _unasync_name(self, name: str) -> str:
        if name in REPLACEMENTS:
            self.used.add(name)
            return REPLACEMENTS[name]
        if name in self.token_replacements:
            return str(self.token_replacements[name])
        if name.startswith("Async") and len(name) > 5 and name[5].isupper():
            return name[5:]
        if name.startswith("async_") and len(name) > 6:
            return name[6:]
        return name

    def convert(self, source: Path) -> str:
        with source.open("rb") as f:
            encoding, _ = tokenize.detect_encoding(f.readline)
        tokens = tokenize_rt.src_to_tokens(source.read_text(encoding=encoding))
        return str(tokenize_rt.tokens_to_src(self._unasync_tokens(tokens)))


def body_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def render(rule: PrefixRule, source: Path) -> str:
    body = rule.convert(source)
    return (
        HEADER.format(source=source.relative_to(ROOT).as_posix(), digest=body_digest(body)) + body
    )


def edited_by_hand(text: str) -> bool:
    """True when a generated file's body no longer matches the digest in its own header."""
    lines = text.split("\n", 2)
    if len(lines) < 3 or not lines[1].startswith("# body-sha256: "):
        return True
    return lines[1].removeprefix("# body-sha256: ").strip() != body_digest(lines[2])


def sources(async_dir: Path) -> Iterator[Path]:
    yield from sorted(p for p in async_dir.rglob("*.py") if "__pycache__" not in p.parts)


def plan(rule: PrefixRule) -> tuple[dict[Path, str], list[Path]]:
    """What each generated file should contain, and generated files without a source."""
    wanted: dict[Path, str] = {}
    orphans: list[Path] = []
    for async_dir, sync_dir in TREES:
        for source in sources(async_dir):
            wanted[sync_dir / source.relative_to(async_dir)] = render(rule, source)
        if sync_dir.exists():
            orphans += [p for p in sorted(sync_dir.rglob("*.py")) if p not in wanted]
    return wanted, orphans


def check(wanted: dict[Path, str], orphans: list[Path], unused: list[str]) -> int:
    problems = 0
    for target, text in wanted.items():
        rel = target.relative_to(ROOT).as_posix()
        if not target.exists():
            print(f"missing: {rel} (run python scripts/gen_sync.py)")
            problems += 1
            continue
        current = target.read_text()
        if current == text:
            continue
        problems += 1
        why = "edited by hand" if edited_by_hand(current) else "stale"
        print(f"{why}: {rel}")
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{rel} (on disk)",
                tofile=f"{rel} (generated)",
            )
        )
    for orphan in orphans:
        print(f"orphaned: {orphan.relative_to(ROOT).as_posix()} has no source in _async/")
        problems += 1
    for name in unused:
        print(
            f"unused replacement: {name!r} appears in no async source; remove it from REPLACEMENTS"
        )
        problems += 1
    if problems:
        print(f"{problems} problem(s); regenerate with: python scripts/gen_sync.py")
        return 1
    print(f"{len(wanted)} generated files up to date")
    return 0


def write(wanted: dict[Path, str], orphans: list[Path], force: bool) -> int:
    refused = [
        t
        for t, text in wanted.items()
        if t.exists() and t.read_text() != text and edited_by_hand(t.read_text())
    ]
    if refused and not force:
        for target in refused:
            print(f"refusing to overwrite {target.relative_to(ROOT)}: edited by hand (use --force)")
        return 1
    for target, text in wanted.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT).as_posix()}")
    for orphan in orphans:
        orphan.unlink()
        print(f"removed orphan {orphan.relative_to(ROOT).as_posix()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    parser.add_argument("--force", action="store_true", help="overwrite hand-edited files")
    args = parser.parse_args(argv)
    rule = PrefixRule()
    wanted, orphans = plan(rule)
    unused = sorted(set(REPLACEMENTS) - rule.used)
    if args.check:
        return check(wanted, orphans, unused)
    status = write(wanted, orphans, args.force)
    for name in unused:
        print(f"warning: unused replacement {name!r}")
    return status


if __name__ == "__main__":
    sys.exit(main())
