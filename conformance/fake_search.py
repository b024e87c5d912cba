"""A stand-in for OpenSearch 2, enough for InvenioRDM's REST API on loopback.

No OpenSearch server can be installed where the conformance stage runs.
InvenioRDM needs one mostly as a document store with listings: it indexes
records, drafts, users and vocabularies, reads some back, and searches them
for listings. This endpoint stores documents (``_doc``, ``_create``,
``_update``, ``_bulk``), returns and deletes them, answers ``_search``,
``_count``, ``_msearch`` and ``_mget`` over every index whose name starts
with the name given (InvenioRDM searches aliases, which are prefixes of the
real index names), and acknowledges everything else (index creation,
aliases, templates, refreshes). How queries and aggregations are read is in
``fake_search_queries``.

``GET /_fake/dump`` returns every stored document; ``--load FILE`` starts
from such a dump, so a prepared site can be started again without
re-indexing. Standard library only.

    python3 conformance/fake_search.py [--port 0] [--load dump.json] [--trace FILE]

prints ``listening on 127.0.0.1:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_search_queries import aggregations, matches, sort_hits

VERSION_DOCUMENT = {
    "name": "fake-search",
    "cluster_name": "nrpfiles-conformance",
    "cluster_uuid": "nrpfiles-conformance",
    "version": {
        "distribution": "opensearch",
        "number": "2.19.0",
        "build_type": "tar",
        "lucene_version": "9.12.1",
        "minimum_wire_compatibility_version": "7.10.0",
        "minimum_index_compatibility_version": "7.0.0",
    },
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}
SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


class VersionConflict(Exception):
    pass


class Store:
    """Documents by index name and id, each with its version; safe across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.indexes: dict[str, dict[str, dict[str, Any]]] = {}
        self.seq = itertools.count(1)

    def put(
        self,
        index: str,
        doc_id: str,
        source: Any,
        version: int | None = None,
        create_only: bool = False,
    ) -> dict[str, Any]:
        with self.lock:
            docs = self.indexes.setdefault(index, {})
            old = docs.get(doc_id)
            if old is not None and create_only:
                raise VersionConflict(f"[{doc_id}]: version conflict, document already exists")
            if version is not None and old is not None and old["version"] > version:
                # InvenioRDM indexes with its revision as an external version:
                # a late, older write must not replace a newer document.
                raise VersionConflict(
                    f"[{doc_id}]: version conflict, current version [{old['version']}] "
                    f"is higher than the one provided [{version}]"
                )
            new_version = version if version is not None else (old["version"] + 1 if old else 1)
            docs[doc_id] = {"source": source, "version": new_version, "seq_no": next(self.seq)}
            return self._answer(index, doc_id, docs[doc_id], "updated" if old else "created")

    def update(self, index: str, doc_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            old = self.indexes.get(index, {}).get(doc_id)
        if old is None:
            if "upsert" in body or body.get("doc_as_upsert"):
                return self.put(index, doc_id, body.get("upsert", body.get("doc", {})))
            return {
                "_index": index,
                "_id": doc_id,
                "status": 404,
                "error": {"type": "document_missing_exception"},
            }
        merged = {**old["source"], **body.get("doc", {})}
        return self.put(index, doc_id, merged)

    def get(self, index: str, doc_id: str) -> tuple[str, dict[str, Any]] | None:
        with self.lock:
            if doc_id in self.indexes.get(index, {}):
                return index, self.indexes[index][doc_id]
            for name, docs in self.indexes.items():  # an alias: a prefix of the index
                if name.startswith(index) and doc_id in docs:
                    return name, docs[doc_id]
        return None

    def delete(self, index: str, doc_id: str) -> dict[str, Any]:
        with self.lock:
            found = self.get_unlocked_name(index, doc_id)
            if found is None:
                return {
                    "_index": index,
                    "_id": doc_id,
                    "_version": 1,
                    "result": "not_found",
                    "_shards": SHARDS,
                    "status": 404,
                }
            doc = self.indexes[found].pop(doc_id)
            return self._answer(found, doc_id, doc, "deleted")

    def get_unlocked_name(self, index: str, doc_id: str) -> str | None:
        if doc_id in self.indexes.get(index, {}):
            return index
        return next(
            (n for n, d in self.indexes.items() if n.startswith(index) and doc_id in d), None
        )

    def under(self, names: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(index, id, doc) for every document in an index starting with one of names."""
        prefixes = [n.rstrip("*") for n in names if not n.startswith("-")]
        if not prefixes or "_all" in prefixes:
            prefixes = [""]
        with self.lock:
            return [
                (name, doc_id, doc)
                for name, docs in self.indexes.items()
                if any(name.startswith(p) for p in prefixes)
                for doc_id, doc in docs.items()
            ]

    def dump(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.indexes))

    def load(self, indexes: dict[str, Any]) -> None:
        with self.lock:
            self.indexes = indexes
            top = max((d["seq_no"] for docs in indexes.values() for d in docs.values()), default=0)
            self.seq = itertools.count(top + 1)

    @staticmethod
    def _answer(index: str, doc_id: str, doc: dict[str, Any], result: str) -> dict[str, Any]:
        return {
            "_index": index,
            "_id": doc_id,
            "_version": doc["version"],
            "result": result,
            "_shards": SHARDS,
            "_seq_no": doc["seq_no"],
            "_primary_term": 1,
            "status": 201 if result == "created" else 200,
        }


def search(
    store: Store, names: list[str], body: dict[str, Any], params: dict[str, str]
) -> dict[str, Any]:
    query = body.get("query", {})
    if params.get("q"):
        query = {"bool": {"must": [query, {"query_string": {"query": params["q"]}}]}}
    found = [hit for hit in store.under(names) if matches(query, hit[1], hit[2]["source"])]
    found = sort_hits(found, body.get("sort") or params.get("sort", "").split(",")[0] or None)
    start = int(body.get("from", params.get("from", 0)) or 0)
    size = int(body.get("size", params.get("size", 10)))
    hits = [
        {
            "_index": index,
            "_id": doc_id,
            "_score": 1.0,
            "_source": doc["source"],
            "_version": doc["version"],
            "_seq_no": doc["seq_no"],
            "_primary_term": 1,
        }
        for index, doc_id, doc in found[start : start + size]
    ]
    answer: dict[str, Any] = {
        "took": 1,
        "timed_out": False,
        "_shards": SHARDS,
        "hits": {
            "total": {"value": len(found), "relation": "eq"},
            "max_score": 1.0 if hits else None,
            "hits": hits,
        },
    }
    spec = body.get("aggs") or body.get("aggregations")
    if spec:
        answer["aggregations"] = aggregations(spec, len(found))
    return answer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as OpenSearch clients expect
    # Headers and body go out in two writes: without this, each answer on a
    # kept-alive connection waits some 40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    store: Store
    trace: Any = None

    def do_HEAD(self) -> None:
        self.handle_any("HEAD")

    def do_GET(self) -> None:
        self.handle_any("GET")

    def do_PUT(self) -> None:
        self.handle_any("PUT")

    def do_POST(self) -> None:
        self.handle_any("POST")

    def do_DELETE(self) -> None:
        self.handle_any("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: --trace records requests when wanted

    def read_body(self) -> bytes:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        return raw

    def handle_any(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.read_body()
        if self.trace:
            self.trace.write(f"{method} {self.path} {raw[:2000]!r}\n")
            self.trace.flush()
        try:
            status, answer = route(self.store, method, parts, params, raw)
        except Exception as error:  # report it like OpenSearch would, and keep serving
            status, answer = (
                500,
                {"error": {"type": "fake_search_exception", "reason": repr(error)}, "status": 500},
            )
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw.strip() else {}


def _ndjson(raw: bytes) -> list[Any]:
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def _version(meta: dict[str, Any]) -> int | None:
    """The external version a write carries (query string or bulk metadata), if any."""
    kind = meta.get("version_type") or meta.get("_version_type") or "internal"
    version = meta.get("version", meta.get("_version"))
    if kind in ("external", "external_gte") and version is not None:
        return int(version)
    return None


def _write(
    store: Store, index: str, doc_id: str, source: Any, meta: dict[str, Any], create_only: bool
) -> tuple[int, dict[str, Any]]:
    try:
        answer = store.put(index, doc_id, source, _version(meta), create_only)
    except VersionConflict as conflict:
        return 409, {
            "_index": index,
            "_id": doc_id,
            "status": 409,
            "error": {"type": "version_conflict_engine_exception", "reason": str(conflict)},
        }
    return answer["status"], answer


def route(
    store: Store, method: str, parts: list[str], params: dict[str, str], raw: bytes
) -> tuple[int, Any]:
    api = next((p for p in parts if p.startswith("_")), None)
    index = parts[0] if parts and not parts[0].startswith("_") else ""
    rest = parts[parts.index(api) + 1 :] if api else []
    names = index.split(",") if index else []
    if not parts:
        return 200, VERSION_DOCUMENT
    if parts[:2] == ["_fake", "dump"]:
        return 200, store.dump()
    if api in ("_doc", "_create", "_source") and rest:
        doc_id = "/".join(rest)
        if method in ("PUT", "POST"):
            create = api == "_create" or params.get("op_type") == "create"
            return _write(store, index, doc_id, _json(raw), params, create)
        if method == "DELETE":
            answer = store.delete(index, doc_id)
            return answer["status"], answer
        found = store.get(index, doc_id)
        if found is None:
            return 404, {"_index": index, "_id": doc_id, "found": False}
        name, doc = found
        if api == "_source":
            return 200, doc["source"]
        return 200, {
            "_index": name,
            "_id": doc_id,
            "_version": doc["version"],
            "_seq_no": doc["seq_no"],
            "_primary_term": 1,
            "found": True,
            "_source": doc["source"],
        }
    if api == "_doc" and method == "POST":
        return _write(store, index, uuid.uuid4().hex, _json(raw), params, False)
    if api == "_update" and rest:
        answer = store.update(index, "/".join(rest), _json(raw))
        return answer["status"], answer
    if api == "_bulk":
        return 200, bulk(store, index, _ndjson(raw))
    if api == "_search" and not rest:
        return 200, search(store, names, _json(raw), params)
    if api == "_count":
        body = _json(raw)
        counted = search(store, names, {"query": body.get("query", {}), "size": 0}, params)
        return 200, {"count": counted["hits"]["total"]["value"], "_shards": SHARDS}
    if api == "_msearch":
        return 200, msearch(store, names, _ndjson(raw), params)
    if api == "_mget":
        return 200, mget(store, index, _json(raw))
    if api in ("_delete_by_query", "_update_by_query"):
        return 200, {
            "took": 0,
            "timed_out": False,
            "total": 0,
            "deleted": 0,
            "updated": 0,
            "batches": 0,
            "version_conflicts": 0,
            "noops": 0,
            "failures": [],
        }
    if api in ("_refresh", "_flush", "_forcemerge"):
        return 200, {"_shards": SHARDS}
    if parts[:2] == ["_cluster", "health"]:
        return 200, {
            "cluster_name": "nrpfiles-conformance",
            "status": "green",
            "timed_out": False,
            "number_of_nodes": 1,
        }
    if not api and method == "PUT":
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}
    if not api and method == "DELETE":
        with store.lock:
            for name in [n for n in store.indexes if any(n.startswith(p) for p in names)]:
                del store.indexes[name]
    return 200, {"acknowledged": True}


def bulk(store: Store, default_index: str, lines: list[Any]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    position = 0
    while position < len(lines):
        action, meta = next(iter(lines[position].items()))
        position += 1
        index, doc_id = meta.get("_index", default_index), str(meta.get("_id") or uuid.uuid4().hex)
        if action == "delete":
            answer = store.delete(index, doc_id)
        else:
            source = lines[position]
            position += 1
            if action == "update":
                answer = store.update(index, doc_id, source)
            else:
                answer = _write(store, index, doc_id, source, meta, action == "create")[1]
        items.append({action: answer})
    errors = any(
        item_answer.get("status", 200) >= 300 and "error" in item_answer
        for item in items
        for item_answer in item.values()
    )
    return {"took": 1, "errors": errors, "items": items}


def msearch(
    store: Store, names: list[str], lines: list[Any], params: dict[str, str]
) -> dict[str, Any]:
    responses = []
    for header, body in zip(lines[::2], lines[1::2], strict=False):
        wanted = header.get("index", names)
        wanted = wanted.split(",") if isinstance(wanted, str) else wanted
        responses.append(search(store, wanted, body, params) | {"status": 200})
    return {"took": 1, "responses": responses}


def mget(store: Store, index: str, body: dict[str, Any]) -> dict[str, Any]:
    wanted = body.get("docs") or [{"_id": doc_id} for doc_id in body.get("ids", [])]
    docs = []
    for item in wanted:
        name, doc_id = item.get("_index", index), str(item["_id"])
        found = store.get(name, doc_id)
        if found is None:
            docs.append({"_index": name, "_id": doc_id, "found": False})
        else:
            docs.append(
                {
                    "_index": found[0],
                    "_id": doc_id,
                    "_version": found[1]["version"],
                    "found": True,
                    "_source": found[1]["source"],
                }
            )
    return {"docs": docs}


def serve(port: int, load: Path | None = None, trace: Path | None = None) -> None:
    store = Store()
    if load is not None:
        store.load(json.loads(load.read_text()))
    Handler.store = store
    if trace is not None:
        Handler.trace = open(trace, "a", encoding="utf-8")  # noqa: SIM115 (open for the server's life)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A stand-in for OpenSearch on loopback.")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--load", type=Path, help="start from a /_fake/dump answer")
    parser.add_argument("--trace", type=Path, help="append every request to this file")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, args.load, args.trace)


if __name__ == "__main__":
    main()
