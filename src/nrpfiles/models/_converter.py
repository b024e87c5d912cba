"""JSON <-> model conversion: renames, kept unknown fields, strict types, readable errors.

The models say nothing about JSON; everything about it lives here. Every
model has an ``extra`` dict: keys a server sends that the model does not
name go there when structuring and come back out when unstructuring, so an
update sends back what was read.

Structuring is strict about types (``"size": "big"`` or ``"key": 5`` is an
error, not a silent conversion) and every problem is reported with the JSON
path of the field, as :class:`nrpfiles.errors.UnexpectedResponseError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar, get_args, get_origin

import attrs
from cattrs import Converter
from cattrs.errors import (
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from nrpfiles.errors import FieldError, UnexpectedResponseError, field_errors_from_json
from nrpfiles.models.info import ModelInfo, RepositoryInfo
from nrpfiles.models.records import Record, RecordFiles, SearchPage

__all__ = ["json_name", "make_converter", "structure", "unstructure"]

T = TypeVar("T")

_EXTRA = "extra"
# Python keywords and builtins shadowed by JSON names get a trailing underscore.
_RENAMED = {"self_": "self"}
_RENAMED_IN: dict[type, dict[str, str]] = {SearchPage: {"sort_by": "sortBy"}}
# Attributes that are not part of the JSON at all.
_LOCAL: dict[type, frozenset[str]] = {
    Record: frozenset({"etag", "read_as"}),
    RepositoryInfo: frozenset({"models"}),
}
# Where an attribute's value sits in the JSON when it is not a top-level key.
_ERROR_PATHS: dict[type, dict[str, str]] = {
    SearchPage: {"hits": "hits.hits", "total": "hits.total"},
}
_MAX_VALUE_CHARS = 60
_FRACTION = re.compile(r"\.(\d+)")


class _Mismatch(TypeError):
    """A JSON value of the wrong kind; the message says what was expected and what came."""


def json_name(cls: type, attribute: str) -> str:
    return _RENAMED_IN.get(cls, {}).get(attribute) or _RENAMED.get(attribute, attribute)


def make_converter() -> Converter:
    """The converter behind :func:`structure` and :func:`unstructure`."""
    converter = Converter(detailed_validation=True)
    _register_scalars(converter)
    _register_containers(converter)
    _register_models(converter)
    converter.register_structure_hook_func(
        lambda t: t == list[FieldError], lambda value, _: list(field_errors_from_json(value))
    )
    converter.register_unstructure_hook(
        FieldError, lambda error: {"field": error.field, "messages": list(error.messages)}
    )
    return converter


def structure(data: Any, cls: type[T]) -> T:
    """``data`` (parsed JSON) as ``cls``; raises UnexpectedResponseError naming the bad fields."""
    try:
        return _CONVERTER.structure(data, cls)
    except Exception as error:
        problems = list(_problems(error, ""))
        raise UnexpectedResponseError(
            f"the repository's answer does not fit {_type_name(cls)}",
            errors=[FieldError(field=path, messages=(text,)) for path, text in problems],
        ) from None


def unstructure(obj: Any) -> dict[str, Any]:
    """A model as JSON-ready data: original names, unknown fields back, ISO 8601 datetimes."""
    result: dict[str, Any] = _CONVERTER.unstructure(obj)
    return result


# --- scalars ---------------------------------------------------------------------


def _register_scalars(converter: Converter) -> None:
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(datetime, lambda value: value.isoformat())


def _structure_str(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise _Mismatch(f"expected a string, got {_describe(value)}")
    return value


def _structure_bool(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise _Mismatch(f"expected true or false, got {_describe(value)}")
    return value


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Mismatch(f"expected an integer, got {_describe(value)}")


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _Mismatch(f"expected a number, got {_describe(value)}")


def _structure_datetime(value: Any, _: Any) -> datetime:
    """ISO 8601 as an aware datetime; a value without an offset is taken as UTC."""
    if not isinstance(value, str):
        raise _Mismatch(f"expected an ISO 8601 date-time string, got {_describe(value)}")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    # Python 3.10 accepts only 3 or 6 digits of fractional seconds.
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Mismatch(f"expected an ISO 8601 date-time, got {_describe(value)}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# --- containers --------------------------------------------------------------------
# cattrs would turn a string into a list of characters and accept any iterable;
# these check the JSON kind first and record the index or key of a failing item.


def _register_containers(converter: Converter) -> None:
    converter.register_structure_hook_factory(_is_list, lambda t: _list_hook(converter, t))
    converter.register_structure_hook_factory(_is_str_mapping, lambda t: _dict_hook(converter, t))
    converter.register_structure_hook_func(lambda t: t == dict[str, Any], _structure_json_object)


def _is_list(type_: Any) -> bool:
    origin = get_origin(type_)
    if origin is list:
        return True
    return origin is tuple and len(get_args(type_)) == 2 and get_args(type_)[1] is Ellipsis


def _is_str_mapping(type_: Any) -> bool:
    return get_origin(type_) is dict and get_args(type_)[:1] == (str,)


def _list_hook(converter: Converter, type_: Any) -> Callable[[Any, Any], Any]:
    item_type = get_args(type_)[0]
    item_hook = converter.get_structure_hook(item_type)
    as_tuple = get_origin(type_) is tuple

    def structure_list(value: Any, _: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch(f"expected a list, got {_describe(value)}")
        items, failures = [], []
        for index, item in enumerate(value):
            try:
                items.append(item_hook(item, item_type))
            except Exception as error:
                _add_note(error, IterableValidationNote(f"item {index}", index, item_type))
                failures.append(error)
        if failures:
            raise IterableValidationError("invalid list items", failures, type_)
        return tuple(items) if as_tuple else items

    return structure_list


def _dict_hook(converter: Converter, type_: Any) -> Callable[[Any, Any], Any]:
    value_type = get_args(type_)[1]
    value_hook = converter.get_structure_hook(value_type)

    def structure_dict(value: Any, _: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _Mismatch(f"expected an object, got {_describe(value)}")
        result, failures = {}, []
        for key, item in value.items():
            try:
                result[key] = value_hook(item, value_type)
            except Exception as error:
                _add_note(error, IterableValidationNote(f"key {key!r}", str(key), value_type))
                failures.append(error)
        if failures:
            raise IterableValidationError("invalid object values", failures, type_)
        return result

    return structure_dict


def _structure_json_object(value: Any, _: Any) -> dict[str, Any]:
    """Free-form JSON objects (metadata, access, parent...); ``null`` reads as empty."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Mismatch(f"expected an object, got {_describe(value)}")
    return dict(value)


# --- models ------------------------------------------------------------------------


def _register_models(converter: Converter) -> None:
    converter.register_structure_hook_factory(
        _is_model, lambda cls: _model_structure_hook(converter, cls)
    )
    converter.register_unstructure_hook_factory(
        _is_model, lambda cls: _model_unstructure_hook(converter, cls)
    )


def _is_model(type_: Any) -> bool:
    return (
        isinstance(type_, type)
        and attrs.has(type_)
        and any(field.name == _EXTRA for field in attrs.fields(type_))
    )


def _model_structure_hook(converter: Converter, cls: type) -> Callable[[Any, Any], Any]:
    local = _LOCAL.get(cls, frozenset())
    overrides = {}
    known = set()
    for field in attrs.fields(cls):
        if field.name == _EXTRA or field.name in local:
            overrides[field.name] = override(omit=True)
        else:
            overrides[field.name] = override(rename=json_name(cls, field.name))
            known.add(json_name(cls, field.name))
    build: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls,
        converter,
        **overrides,  # type: ignore[arg-type]
    )
    prepare = _PREPARE.get(cls)

    def structure_model(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Mismatch(f"expected an object, got {_describe(value)}")
        data = prepare(value) if prepare else value
        model = build(data, cls)
        model.extra = {key: item for key, item in data.items() if key not in known}
        return model

    return structure_model


def _model_unstructure_hook(converter: Converter, cls: type) -> Callable[[Any], Any]:
    local = _LOCAL.get(cls, frozenset())
    overrides = {}
    for field in attrs.fields(cls):
        if field.name == _EXTRA or field.name in local:
            overrides[field.name] = override(omit=True)
        else:
            # Absent and empty are the same to the server; leaving them out keeps
            # what is sent close to what was read.
            overrides[field.name] = override(
                rename=json_name(cls, field.name), omit_if_default=_absent_by_default(field)
            )
    build: Callable[[Any], Any] = make_dict_unstructure_fn(
        cls,
        converter,
        **overrides,  # type: ignore[arg-type]
    )
    finish = _FINISH.get(cls)

    def unstructure_model(model: Any) -> dict[str, Any]:
        data: dict[str, Any] = build(model)
        if finish:
            data = finish(data)
        for key, item in model.extra.items():
            data.setdefault(key, item)
        return data

    return unstructure_model


def _absent_by_default(field: attrs.Attribute[Any]) -> bool:
    """Fields defaulting to None or to an empty container (or empty model) are optional in JSON."""
    return field.default is None or isinstance(field.default, _FACTORY)


_FACTORY: type = type(attrs.Factory(dict))


# --- model-specific JSON shapes ---------------------------------------------------


def _prepare_search_page(value: Mapping[str, Any]) -> dict[str, Any]:
    """Lift ``hits.hits`` and ``hits.total`` (a number or ``{value, relation}``) to the top."""
    data = dict(value)
    wrapper = data.get("hits")
    if not isinstance(wrapper, Mapping):
        return data
    hits = wrapper.get("hits", [])
    total = wrapper.get("total", len(hits) if isinstance(hits, list) else 0)
    data["hits"] = hits
    if isinstance(total, Mapping):
        data["total"] = total.get("value")
        data["total_relation"] = total.get("relation")
    else:
        data["total"] = total
    data["hits_extra"] = {k: v for k, v in wrapper.items() if k not in ("hits", "total")}
    return data


def _finish_search_page(data: dict[str, Any]) -> dict[str, Any]:
    total = data.pop("total", 0)
    relation = data.pop("total_relation", None)
    wrapper = {
        "hits": data.pop("hits", []),
        "total": {"value": total, "relation": relation} if relation else total,
        **data.pop("hits_extra", {}),
    }
    return {"hits": wrapper, **data}


def _prepare_record_files(value: Mapping[str, Any]) -> dict[str, Any]:
    """Entries keyed by file key; some servers omit ``key`` inside, some send a list."""
    data = dict(value)
    entries = data.get("entries")
    if isinstance(entries, list):
        data["entries"] = {
            entry["key"]: entry
            for entry in entries
            if isinstance(entry, Mapping) and isinstance(entry.get("key"), str)
        }
    elif isinstance(entries, Mapping):
        data["entries"] = {
            key: (
                {"key": key, **entry}
                if isinstance(entry, Mapping) and "key" not in entry
                else entry
            )
            for key, entry in entries.items()
        }
    return data


def _prepare_repository_info(value: Mapping[str, Any]) -> dict[str, Any]:
    """A bare ``/.well-known/repository`` document names its API and root only in ``links``."""
    data = dict(value)
    links = data.get("links")
    if isinstance(links, Mapping):
        links = data["links"] = _without_nulls(links)
    else:
        links = {}
    if "api_url" not in data and isinstance(links.get("api"), str):
        data["api_url"] = links["api"].rstrip("/")
    if "root_url" not in data:
        root = _root_from_links(links, data.get("api_url"))
        if root is not None:
            data["root_url"] = root
    return data


def _root_from_links(links: Mapping[str, Any], api_url: Any) -> str | None:
    self_link = links.get("self")
    if isinstance(self_link, str) and "/.well-known/" in self_link:
        return self_link.split("/.well-known/", 1)[0]
    if isinstance(api_url, str) and api_url.rstrip("/").endswith("/api"):
        return api_url.rstrip("/")[: -len("/api")]
    return None


def _prepare_model_info(value: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(value)
    if isinstance(data.get("links"), Mapping):
        data["links"] = _without_nulls(data["links"])
    return data


def _without_nulls(links: Mapping[str, Any]) -> dict[str, Any]:
    # A link a deployment does not offer is sometimes sent as null.
    return {key: link for key, link in links.items() if link is not None}


_PREPARE: dict[type, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    SearchPage: _prepare_search_page,
    RecordFiles: _prepare_record_files,
    RepositoryInfo: _prepare_repository_info,
    ModelInfo: _prepare_model_info,
}
_FINISH: dict[type, Callable[[dict[str, Any]], dict[str, Any]]] = {
    SearchPage: _finish_search_page,
}


# --- error reporting ---------------------------------------------------------------


def _add_note(error: BaseException, note: str) -> None:
    # Python 3.10 has no add_note(); cattrs reads __notes__ on every version.
    setattr(error, "__notes__", [*getattr(error, "__notes__", []), note])  # noqa: B010


def _problems(error: BaseException, path: str) -> Iterator[tuple[str, str]]:
    """(JSON path, what is wrong) for every leaf failure under a cattrs validation error."""
    if isinstance(error, ClassValidationError):
        with_notes, without = error.group_exceptions()
        paths = _ERROR_PATHS.get(error.cl, {})
        for sub_error, note in with_notes:
            name = paths.get(note.name) or json_name(error.cl, note.name)
            yield from _problems(sub_error, f"{path}.{name}" if path else name)
        for sub_error in without:
            yield from _problems(sub_error, path)
    elif isinstance(error, IterableValidationError):
        items, without = error.group_exceptions()
        for sub_error, item_note in items:
            index = item_note.index
            step = f"[{index}]" if isinstance(index, int) else f"[{json.dumps(index)}]"
            yield from _problems(sub_error, path + step)
        for sub_error in without:
            yield from _problems(sub_error, path)
    else:
        yield (path, _explain(error))


def _explain(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return "missing required field"
    if isinstance(error, _Mismatch):
        return str(error)
    return f"invalid value ({type(error).__name__}: {_shorten(str(error))})"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return _shorten(repr(value))


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _type_name(cls: Any) -> str:
    return getattr(cls, "__name__", None) or str(cls)


_CONVERTER = make_converter()
