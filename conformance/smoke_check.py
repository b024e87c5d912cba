"""Check that a conformance site does what the client needs, over plain HTTP.

Starts a site (or uses one already running: --url and --token), then, twice
over: creates a draft, uploads a file the L way and one the M way (two
parts; on S3 straight to the presigned part URLs, without the token),
commits both, reads their entries, downloads both (S3 answers 302 to a
presigned URL), checks that a second user can neither read nor change the
draft, and publishes. Needs httpx (the project's test environment has it).

    .venv/bin/python conformance/smoke_check.py --storage s3 [--lazy|--eager]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_invenio import STORAGES, RealInvenio

PART_SIZE = 5 * 1024 * 1024  # S3's smallest part but the last
METADATA = {
    "resource_type": {"id": "dataset"},
    "title": "A conformance check",
    "publication_date": "2024-01-15",
    "publisher": "nrpfiles",
    "creators": [
        {"person_or_org": {"type": "personal", "family_name": "Tester", "given_name": "Ada"}}
    ],
}


class Failed(AssertionError):
    pass


def expect(answer: httpx.Response, *statuses: int) -> Any:
    if answer.status_code not in statuses:
        raise Failed(
            f"{answer.request.method} {answer.request.url} -> {answer.status_code} "
            f"(wanted {statuses}): {answer.text[:600]}"
        )
    return answer.json() if "json" in answer.headers.get("content-type", "") else None


def one_pass(api: httpx.Client, other: httpx.Client, storage: str, eager: bool) -> str:
    draft = expect(
        api.post(
            "/records",
            json={
                "metadata": METADATA,
                "files": {"enabled": True},
                "access": {"record": "public", "files": "public"},
            },
        ),
        201,
    )
    files_url = draft["links"]["files"]
    record_id = draft["id"]

    small = os.urandom(1000)
    expect(api.post(files_url, json=[{"key": "small.bin"}]), 201)
    expect(
        api.put(
            f"{files_url}/small.bin/content",
            content=small,
            headers={"Content-Type": "application/octet-stream"},
        ),
        200,
    )
    entry = expect(api.post(f"{files_url}/small.bin/commit"), 200)
    assert entry["status"] == "completed", entry
    assert entry["checksum"] == "md5:" + hashlib.md5(small).hexdigest(), entry  # noqa: S324

    big = os.urandom(PART_SIZE + 1024 * 1024)
    parts = [big[:PART_SIZE], big[PART_SIZE:]]
    listing = expect(
        api.post(
            files_url,
            json=[
                {
                    "key": "big.bin",
                    "size": len(big),
                    "transfer": {"type": "M", "parts": 2, "part_size": PART_SIZE},
                }
            ],
        ),
        201,
    )
    pending = next(e for e in listing["entries"] if e["key"] == "big.bin")
    assert pending["status"] == "pending" and pending["checksum"] is None, pending
    for link in pending["links"]["parts"]:
        body = parts[link["part"] - 1]
        headers = {"Content-Type": "application/octet-stream"}
        if storage == "s3":  # a presigned URL: the token must not go to the storage
            answer = httpx.put(link["url"], content=body, headers=headers, timeout=60)
        else:
            answer = api.put(link["url"], content=body, headers=headers)
        expect(answer, 200)
    committed = expect(api.post(f"{files_url}/big.bin/commit"), 200)
    entry = expect(api.get(f"{files_url}/big.bin"), 200)
    assert entry["status"] == "completed" and entry["transfer"]["type"] == "L", entry
    # The checksum of a multipart file is computed by a background task:
    # until it runs (never, when not eager) a file store has none and S3
    # the composite of the parts' MD5s.
    if eager:
        wanted = "md5:" + hashlib.md5(big).hexdigest()  # noqa: S324
    elif storage == "s3":
        composite = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()  # noqa: S324
        wanted = f"multipart:{composite}-2-{PART_SIZE}"
    else:
        wanted = None
    assert entry["checksum"] == wanted, (wanted, entry, committed)

    for key, content in (("small.bin", small), ("big.bin", big)):
        answer = api.get(f"{files_url}/{key}/content")
        if storage == "s3":
            expect(answer, 302)
            answer = httpx.get(answer.headers["Location"], timeout=60)  # no token
        expect(answer, 200)
        assert answer.content == content, f"{key}: downloaded bytes differ"

    expect(other.get(f"/records/{record_id}/draft"), 403, 404)
    expect(other.post(files_url, json=[{"key": "intruder.bin"}]), 403, 404)
    mine = expect(api.get("/user/records", params={"q": f"id:{record_id}"}), 200)
    assert any(hit["id"] == record_id for hit in mine["hits"]["hits"]), mine["hits"]
    theirs = expect(other.get("/user/records"), 200)
    assert not any(hit["id"] == record_id for hit in theirs["hits"]["hits"]), theirs["hits"]

    published = expect(api.post(f"/records/{record_id}/draft/actions/publish"), 202)
    assert published["is_published"] and published["files"]["count"] == 2, published
    found = expect(api.get("/records"), 200)
    assert any(hit["id"] == record_id for hit in found["hits"]["hits"]), found["hits"]
    return record_id


def check(url: str, token: str, other_token: str, storage: str, eager: bool) -> None:
    api_url = url.rstrip("/") + "/api"
    home = httpx.get(url, timeout=30)
    assert home.status_code == 200 and 'content="InvenioRDM 14.0"' in home.text, home.status_code
    with (
        httpx.Client(
            base_url=api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        ) as api,
        httpx.Client(
            base_url=api_url, timeout=60, headers={"Authorization": f"Bearer {other_token}"}
        ) as other,
    ):
        for number in (1, 2):
            started = time.monotonic()
            record_id = one_pass(api, other, storage, eager)
            print(
                f"pass {number}: published {record_id} in {time.monotonic() - started:.1f} s",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", choices=STORAGES, default="file")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--eager", dest="eager", action="store_true", default=None)
    mode.add_argument("--lazy", dest="eager", action="store_false")
    parser.add_argument("--url", help="a site already running (with --token, --other-token)")
    parser.add_argument("--token")
    parser.add_argument("--other-token")
    args = parser.parse_args()
    eager = args.storage == "file" if args.eager is None else args.eager
    if args.url:
        check(args.url, args.token, args.other_token, args.storage, eager)
        return 0
    with RealInvenio(args.storage, eager) as site:
        check(site.url, site.token, site.other_token, site.storage, site.eager)
    return 0


if __name__ == "__main__":
    sys.exit(main())
