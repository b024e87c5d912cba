"""How the fake search endpoint reads a search body: queries, sorting, aggregations.

OpenSearch's query language is large; InvenioRDM's searches use a small
part of it: boolean combinations of term, terms, exists, ids, range and
nested clauses (permissions, "latest version only", "not a draft of a
published record"), plus a free-text query string. Those are evaluated
against the stored documents, so that a user's listing shows that user's
drafts and not another's. Any clause not understood here matches
everything: a listing with too much in it is a smaller lie than an empty one.

Aggregations are not computed; they come back in the shape asked for, which
is all InvenioRDM's result serializers need.

Standard library only.
"""

from __future__ import annotations

import json
import re
from typing import Any

Doc = dict[str, Any]


def values_at(source: Any, path: str) -> list[Any]:
    """Every leaf value at a dotted path, lists flattened on the way (as OpenSearch does)."""
    current = [source]
    for part in path.split("."):
        found: list[Any] = []
        for item in current:
            items = item if isinstance(item, list) else [item]
            for element in items:
                if isinstance(element, dict) and part in element:
                    found.append(element[part])
        current = found
    leaves: list[Any] = []
    for item in current:
        leaves.extend(item if isinstance(item, list) else [item])
    return [leaf for leaf in leaves if leaf is not None]


def _norm(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _field_and_spec(clause: Any) -> tuple[str, Any]:
    """{"field": spec, "boost": 1} -> ("field", spec), skipping option keys."""
    options = {"boost", "_name", "case_insensitive", "minimum_should_match"}
    for key, value in clause.items():
        if key not in options:
            return key, value
    return "", None


def matches(query: Any, doc_id: str, source: Doc) -> bool:
    """Whether a document satisfies a query; unknown clauses match."""
    if not isinstance(query, dict) or not query:
        return True
    kind, clause = next(iter(query.items()))
    handler = _CLAUSES.get(kind)
    if handler is None or not isinstance(clause, dict | list | str):
        return True
    return handler(clause, doc_id, source)


def _bool(clause: Doc, doc_id: str, source: Doc) -> bool:
    def listed(name: str) -> list[Any]:
        value = clause.get(name, [])
        return value if isinstance(value, list) else [value]

    for name in ("must", "filter"):
        if not all(matches(q, doc_id, source) for q in listed(name)):
            return False
    if any(matches(q, doc_id, source) for q in listed("must_not")):
        return False
    should = listed("should")
    if not should:
        return True
    default = 0 if (listed("must") or listed("filter")) else 1
    wanted = clause.get("minimum_should_match", default)
    if isinstance(wanted, str):
        wanted = int(wanted) if wanted.lstrip("-").isdigit() else 1
    return sum(matches(q, doc_id, source) for q in should) >= wanted


def _term(clause: Doc, doc_id: str, source: Doc) -> bool:
    field, spec = _field_and_spec(clause)
    wanted = spec.get("value") if isinstance(spec, dict) else spec
    return _norm(wanted) in {_norm(v) for v in values_at(source, field)}


def _terms(clause: Doc, doc_id: str, source: Doc) -> bool:
    field, wanted = _field_and_spec(clause)
    if not isinstance(wanted, list):
        return True  # a terms lookup in another index: not evaluated
    have = {_norm(v) for v in values_at(source, field)}
    return any(_norm(w) in have for w in wanted)


def _exists(clause: Doc, doc_id: str, source: Doc) -> bool:
    return bool(values_at(source, str(clause.get("field", ""))))


def _ids(clause: Doc, doc_id: str, source: Doc) -> bool:
    return doc_id in {str(v) for v in clause.get("values", [])}


def _range(clause: Doc, doc_id: str, source: Doc) -> bool:
    field, spec = _field_and_spec(clause)
    if not isinstance(spec, dict):
        return True
    bounds = {op: spec[op] for op in ("gt", "gte", "lt", "lte") if op in spec}
    if any(isinstance(b, str) and "now" in b for b in bounds.values()):
        return True  # date math is not evaluated
    tests = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }

    def within(value: Any) -> bool:
        try:
            return all(tests[op](value, type(value)(bound)) for op, bound in bounds.items())
        except (TypeError, ValueError):
            return True

    return any(within(v) for v in values_at(source, field))


def _nested(clause: Doc, doc_id: str, source: Doc) -> bool:
    # Field names inside a nested query are full paths, so the whole document will do.
    return matches(clause.get("query", {}), doc_id, source)


def _match_all(clause: Any, doc_id: str, source: Doc) -> bool:
    return True


def _match_none(clause: Any, doc_id: str, source: Doc) -> bool:
    return False


_TOKEN = re.compile(r'"[^"]*"|\S+')
_OPERATORS = {"AND", "OR", "NOT", "&&", "||", "+", "-"}


def _text(clause: Any, doc_id: str, source: Doc) -> bool:
    """query_string and friends: every word (or field:word) appears, ignoring case."""
    if isinstance(clause, str):
        text, fields = clause, []
    else:
        field, spec = _field_and_spec(clause)
        if "query" in clause:
            text, fields = str(clause["query"]), list(clause.get("fields", []))
        elif isinstance(spec, dict):
            text, fields = str(spec.get("query", "")), [field]
        else:
            text, fields = str(spec), [field]
    haystack = json.dumps(source, ensure_ascii=False).lower()
    for token in _TOKEN.findall(text):
        if token in _OPERATORS:
            continue
        field, colon, word = token.partition(":")
        if not colon or field.startswith('"'):
            field, word = "", token
        word = word.strip('"()*+-').lower()
        if not word:
            continue
        paths = [field] if field else [f.split("^")[0] for f in fields if "*" not in f]
        if paths:
            texts = [
                json.dumps(v, ensure_ascii=False).lower()
                for p in paths
                for v in values_at(source, p)
            ]
            if not any(word in t for t in texts):
                return False
        elif word not in haystack:
            return False
    return True


_CLAUSES = {
    "bool": _bool,
    "term": _term,
    "terms": _terms,
    "exists": _exists,
    "ids": _ids,
    "range": _range,
    "nested": _nested,
    "match_all": _match_all,
    "match_none": _match_none,
    "query_string": _text,
    "simple_query_string": _text,
    "multi_match": _text,
    "match": _text,
    "match_phrase": _text,
    "match_phrase_prefix": _text,
}


def sort_key_specs(sort: Any) -> list[tuple[str, bool]]:
    """[(field, descending)] from a search body's sort; newest created first by default."""
    specs: list[tuple[str, bool]] = []
    for item in sort if isinstance(sort, list) else [sort] if sort else []:
        if isinstance(item, str):
            field, order = item.lstrip("-"), "desc" if item.startswith("-") else "asc"
        elif isinstance(item, dict) and item:
            field, options = next(iter(item.items()))
            order = options.get("order", "asc") if isinstance(options, dict) else str(options)
        else:
            continue
        if not field.startswith("_"):  # _score and _doc: no order of ours to honour
            specs.append((field, order == "desc"))
    return specs or [("created", True)]


def sort_hits(hits: list[tuple[str, str, Doc]], sort: Any) -> list[tuple[str, str, Doc]]:
    ordered = list(hits)
    for field, descending in reversed(sort_key_specs(sort)):

        def key(hit: tuple[str, str, Doc], field: str = field) -> str:
            found = values_at(hit[2]["source"], field)
            return _norm(found[0]) if found else ""

        ordered.sort(key=key, reverse=descending)
    return ordered


_BUCKETS = {
    "terms",
    "significant_terms",
    "rare_terms",
    "multi_terms",
    "histogram",
    "date_histogram",
    "auto_date_histogram",
    "range",
    "date_range",
    "ip_range",
    "geohash_grid",
    "adjacency_matrix",
    "composite",
    "variable_width_histogram",
}
_SINGLE_DOC = {
    "filter",
    "nested",
    "reverse_nested",
    "global",
    "missing",
    "sampler",
    "diversified_sampler",
    "children",
    "parent",
}
_VALUES = {
    "sum": 0.0,
    "avg": None,
    "min": None,
    "max": None,
    "value_count": 0,
    "cardinality": 0,
    "weighted_avg": None,
    "median_absolute_deviation": None,
}


def aggregations(spec: Any, doc_count: int) -> dict[str, Any]:
    """Empty results of the requested aggregations, in the shape each kind has."""
    results: dict[str, Any] = {}
    if not isinstance(spec, dict):
        return results
    for name, body in spec.items():
        if not isinstance(body, dict):
            continue
        sub = body.get("aggs") or body.get("aggregations")
        kind = next((k for k in body if k not in ("aggs", "aggregations", "meta")), "")
        result: dict[str, Any]
        if kind in _BUCKETS:
            result = {"buckets": []}
            if kind in ("terms", "significant_terms", "rare_terms", "multi_terms"):
                result |= {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0}
        elif kind == "filters":
            named = isinstance(body[kind].get("filters"), dict)
            result = {"buckets": {} if named else []}
        elif kind in _SINGLE_DOC:
            result = {"doc_count": doc_count if kind == "global" else 0}
            result |= aggregations(sub, 0)
        elif kind in _VALUES:
            result = {"value": _VALUES[kind]}
        elif kind in ("stats", "extended_stats"):
            result = {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0}
        elif kind in ("percentiles", "percentile_ranks"):
            result = {"values": {}}
        elif kind == "top_hits":
            result = {
                "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []}
            }
        else:
            result = {}
        if "meta" in body:
            result["meta"] = body["meta"]
        results[name] = result
    return results
