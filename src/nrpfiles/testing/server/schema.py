"""Reading a draft's JSON as InvenioRDM's record schema reads it: keep what is valid.

Create and update are lenient: every problem becomes an entry of ``errors`` and the
value it concerns is left out of what is stored; the rest is kept. A required field
left out is reported as missing; a list loses the items that were invalid and is
dropped when none remain. Publish loads what was stored once more and refuses on any
problem. Stored values are expanded as InvenioRDM expands them: a vocabulary
reference gets its title, a person their display name ``"Family, Given"``.

A few answers are not lenient, and these are kept too: an id no vocabulary holds
is a 400 "Invalid value <id>."; an ``access`` with only one of ``record`` and
``files`` left is a 400 naming the missing one (``'files'``); a body that is not a
JSON object, or ``files`` that is not one, is a 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .http import INTERNAL_ERROR, ApiError, field_error
from .vocabularies import CREATOR_ROLES, RESOURCE_TYPES, unknown_reference

REQUIRED = "Missing data for required field."
NULL = "Field may not be null."
UNKNOWN = "Unknown field."
INVALID_TYPE = "Invalid input type."
NOT_A_STRING = "Not a valid string."
NOT_A_LIST = "Not a valid list."
PERSON_TYPES = ("organizational", "personal")
_EDTF_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_ACCESS_VALUES = ("public", "restricted")
_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
Errors = list[dict[str, Any]]
Loader = Callable[[Any, str, Errors], Any]


@dataclass
class DraftInput:
    """What a create or update carries, each part MISSING where it was not sent."""

    metadata: Any = MISSING
    access: Any = MISSING
    files_enabled: Any = MISSING
    default_preview: Any = MISSING
    errors: Errors = field(default_factory=list)


# simple values ---------------------------------------------------------------------------
def _string(value: Any, path: str, errors: Errors, min_length: int = 0) -> Any:
    if not isinstance(value, str):
        errors.append(field_error(path, NOT_A_STRING))
        return MISSING
    value = value.strip()
    if len(value) < min_length:
        errors.append(field_error(path, f"Shorter than minimum length {min_length}."))
        return MISSING
    return value


def _text(value: Any, path: str, errors: Errors) -> Any:
    return _string(value, path, errors, 3)


def _edtf(value: Any, path: str, errors: Errors) -> Any:
    value = _string(value, path, errors)
    if value is MISSING:
        return MISSING
    parts = value.split("/")
    if len(parts) > 2 or not all(_EDTF_DATE.match(part) for part in parts):
        errors.append(field_error(path, "Please provide a valid date or interval."))
        return MISSING
    return value


def _any_list(value: Any, path: str, errors: Errors) -> Any:
    if not isinstance(value, list):
        errors.append(field_error(path, NOT_A_LIST))
        return MISSING
    return value


def _any_dict(value: Any, path: str, errors: Errors) -> Any:
    if not isinstance(value, dict):
        errors.append(field_error(f"{path}._schema", INVALID_TYPE))
        return MISSING
    return value


def _object(
    value: Any, path: str, errors: Errors, fields: dict[str, Loader], required: tuple[str, ...]
) -> tuple[dict[str, Any], bool]:
    """Load the known fields in order, then report unknown ones; True when all were valid."""
    if not isinstance(value, dict):
        errors.append(field_error(f"{path}._schema", INVALID_TYPE))
        return {}, False
    before = len(errors)
    loaded: dict[str, Any] = {}
    for name, loader in fields.items():
        if name not in value:
            if name in required:
                errors.append(field_error(f"{path}.{name}", REQUIRED))
            continue
        if value[name] is None:
            errors.append(field_error(f"{path}.{name}", NULL))
            continue
        result = loader(value[name], f"{path}.{name}", errors)
        if result is not MISSING:
            loaded[name] = result
    for name in value:
        if name not in fields:
            errors.append(field_error(f"{path}.{name}", UNKNOWN))
    return loaded, len(errors) == before


def _list_of(loader: Loader, *, required: bool = False) -> Loader:
    """A list keeping its valid items; an empty list is missing where one is required."""

    def load(value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, list):
            errors.append(field_error(path, NOT_A_LIST))
            return MISSING
        if required and not value:
            errors.append(field_error(path, REQUIRED))
            return MISSING
        items = [loader(item, f"{path}.{index}", errors) for index, item in enumerate(value)]
        kept = [item for item in items if item is not MISSING and item]
        return kept or MISSING

    return load


# vocabularies, people -------------------------------------------------------------------
def _reference(table: dict[str, dict[str, str]]) -> Loader:
    """``{"id": ...}``; its title is the vocabulary's, whatever was sent."""

    def load(value: Any, path: str, errors: Errors) -> Any:
        fields: dict[str, Loader] = {"id": _string, "title": lambda v, p, e: MISSING}
        loaded, valid = _object(value, path, errors, fields, ("id",))
        if not valid:
            return MISSING
        entry = table.get(loaded["id"])
        title = dict(entry) if entry is not None else {}
        return {"id": loaded["id"], "title": title}

    return load


def _person_type(value: Any, path: str, errors: Errors) -> Any:
    if value not in PERSON_TYPES:
        errors.append(field_error(path, f"Invalid value. Choose one of {list(PERSON_TYPES)}."))
        return MISSING
    return value


_PERSON_FIELDS: dict[str, Loader] = {
    "type": _person_type,
    "name": _string,
    "given_name": _string,
    "family_name": _string,
    "identifiers": _any_list,
}


def _person(value: Any, path: str, errors: Errors) -> Any:
    if isinstance(value, dict):
        # a type left out is reported as an invalid one
        value = {**value, "type": value.get("type") or ""}
    loaded, valid = _object(value, path, errors, _PERSON_FIELDS, ())
    if not valid:
        return loaded or MISSING  # what was valid stays, unchecked and without a name
    rest = {k: v for k, v in loaded.items() if k not in ("type", "name")}
    if loaded["type"] == "personal":
        if not loaded.get("family_name"):
            errors.append(field_error(f"{path}.family_name", "Family name cannot be blank."))
            return loaded
        names = [loaded.get("family_name"), loaded.get("given_name")]
        return {"type": "personal", "name": ", ".join(n for n in names if n), **rest}
    if not loaded.get("name"):
        errors.append(field_error(f"{path}.name", "Name cannot be blank."))
        return loaded
    kept = {k: v for k, v in rest.items() if k not in ("given_name", "family_name")}
    return {"type": "organizational", "name": loaded["name"], **kept}


def _creator(value: Any, path: str, errors: Errors) -> Any:
    fields: dict[str, Loader] = {
        "person_or_org": _person,
        "role": _reference(CREATOR_ROLES),
        "affiliations": _list_of(_any_dict),
    }
    loaded, _ = _object(value, path, errors, fields, ("person_or_org",))
    return loaded or MISSING


# the metadata, in the order InvenioRDM's schema declares its fields ----------------------
METADATA_FIELDS: dict[str, Loader] = {
    "resource_type": _reference(RESOURCE_TYPES),
    "creators": _list_of(_creator, required=True),
    "title": _text,
    "additional_titles": _any_list,
    "publisher": _string,
    "publication_date": _edtf,
    "subjects": _any_list,
    "contributors": _any_list,
    "dates": _any_list,
    "languages": _any_list,
    "identifiers": _any_list,
    "related_identifiers": _any_list,
    "sizes": _any_list,
    "formats": _any_list,
    "version": _string,
    "rights": _any_list,
    "copyright": _string,
    "description": _text,
    "additional_descriptions": _any_list,
    "locations": _any_dict,
    "funding": _any_list,
    "references": _any_list,
}
REQUIRED_METADATA = ("resource_type", "creators", "title", "publication_date")


def load_metadata(value: Any, errors: Errors) -> dict[str, Any]:
    """The valid part of ``metadata``; its problems are appended to ``errors``."""
    if value is None:
        errors.append(field_error("metadata", NULL))
        return {}
    loaded, _ = _object(value, "metadata", errors, METADATA_FIELDS, REQUIRED_METADATA)
    unknown = unknown_reference(loaded)
    if unknown is not None:
        raise ApiError(400, f"Invalid value {unknown}.")
    return loaded


def publish_errors(metadata: Any) -> Errors:
    """What publishing finds wrong with the stored metadata (strict: any is a 400)."""
    errors: Errors = []
    load_metadata(metadata if isinstance(metadata, dict) else {}, errors)
    return errors


# the rest of a draft ----------------------------------------------------------------------
def load_draft_input(data: Any) -> DraftInput:
    if data is None:
        return DraftInput()
    if not isinstance(data, dict):
        raise ApiError(500, INTERNAL_ERROR)  # InvenioRDM fails on a body that is no object
    result = DraftInput()
    errors = result.errors
    if "metadata" in data:
        result.metadata = load_metadata(data["metadata"], errors)
    if "custom_fields" in data:
        _custom_fields(data["custom_fields"], errors)
    if "access" in data:
        result.access = _access(data["access"], errors)
    files = data.get("files")
    if files is not None:
        if not isinstance(files, dict):
            raise ApiError(500, INTERNAL_ERROR)
        _files(files, result)
    return result


def _custom_fields(value: Any, errors: Errors) -> None:
    """No custom field is configured, so any sent is unknown and dropped."""
    if value is None:
        errors.append(field_error("custom_fields", NULL))
    elif not isinstance(value, dict):
        errors.append(field_error("custom_fields._schema", INVALID_TYPE))
    else:
        errors.extend(field_error(f"custom_fields.{name}", UNKNOWN) for name in value)


def _access(value: Any, errors: Errors) -> Any:
    if value is None:
        raise ApiError(500, INTERNAL_ERROR)
    if not isinstance(value, dict):
        errors.append(field_error("access._schema", INVALID_TYPE))
        return MISSING
    loaded: dict[str, Any] = {}
    for name in ("record", "files"):
        if name not in value:
            errors.append(field_error(f"access.{name}", REQUIRED))
    for name in ("files", "record"):
        if name in value and value[name] not in _ACCESS_VALUES:
            message = f"'{name}' must be either 'public' or 'restricted'"
            errors.append(field_error(f"access.{name}", message))
        elif name in value:
            loaded[name] = value[name]
    if isinstance(value.get("embargo"), dict):
        loaded["embargo"] = value["embargo"]
    errors.extend(
        field_error(f"access.{name}", UNKNOWN)
        for name in value
        if name not in ("record", "files", "embargo", "status")
    )
    if not loaded:
        return MISSING  # nothing usable: the access stays as it was
    for name in ("record", "files"):
        if name not in loaded:
            # InvenioRDM takes both or fails on the one that is missing
            raise ApiError(
                400, "A validation error occurred.", [field_error("access", f"'{name}'")]
            )
    return {
        "record": loaded["record"],
        "files": loaded["files"],
        "embargo": loaded.get("embargo", {"active": False, "reason": None}),
    }


def _files(value: dict[str, Any], result: DraftInput) -> None:
    if "enabled" in value:
        enabled = _boolean(value["enabled"], "files.enabled", result.errors)
        if enabled is not MISSING:
            result.files_enabled = enabled
    if "default_preview" in value:
        result.default_preview = value["default_preview"]
    result.errors.extend(
        field_error(f"files.{name}", UNKNOWN)
        for name in value
        if name not in ("enabled", "default_preview", "order", "count", "total_bytes", "entries")
    )


def _boolean(value: Any, path: str, errors: Errors) -> Any:
    if value is None:
        errors.append(field_error(path, NULL))
        return MISSING
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, str)) and str(value).lower() in _TRUE | _FALSE:
        return str(value).lower() in _TRUE
    errors.append(field_error(path, "Not a valid boolean."))
    return MISSING
