"""The RDM metadata checks a draft must pass to be published.

Create and update report these problems in ``errors`` and save anyway; publish
refuses with 400. Field paths are dotted with list indices, as InvenioRDM writes them.
"""

from __future__ import annotations

import re
from typing import Any

from .http import field_error

REQUIRED = "Missing data for required field."
_EDTF_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_ACCESS_VALUES = ("public", "restricted")


def metadata_errors(metadata: Any) -> list[dict[str, Any]]:
    if not isinstance(metadata, dict):
        return [field_error("metadata", "Invalid input type.")]
    errors: list[dict[str, Any]] = []
    resource_type = metadata.get("resource_type")
    if resource_type is None:
        errors.append(field_error("metadata.resource_type", REQUIRED))
    elif not isinstance(resource_type, dict) or not isinstance(resource_type.get("id"), str):
        errors.append(field_error("metadata.resource_type", "Invalid value."))
    title = metadata.get("title")
    if title is None:
        errors.append(field_error("metadata.title", REQUIRED))
    elif not isinstance(title, str):
        errors.append(field_error("metadata.title", "Not a valid string."))
    elif len(title.strip()) < 3:
        errors.append(field_error("metadata.title", "Shorter than minimum length 3."))
    publication_date = metadata.get("publication_date")
    if publication_date is None:
        errors.append(field_error("metadata.publication_date", REQUIRED))
    elif not _is_edtf(publication_date):
        errors.append(
            field_error("metadata.publication_date", "Please provide a valid date or interval.")
        )
    errors.extend(_creator_errors(metadata.get("creators")))
    return errors


def access_errors(access: Any) -> list[dict[str, Any]]:
    if not isinstance(access, dict):
        return [field_error("access", "Invalid input type.")]
    errors = []
    for name in ("record", "files"):
        value = access.get(name, "public")
        if value not in _ACCESS_VALUES:
            errors.append(field_error(f"access.{name}", "Must be one of: public, restricted."))
    return errors


def _is_edtf(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) > 2:
        return False
    return all(_EDTF_DATE.match(part) for part in parts)


def _creator_errors(creators: Any) -> list[dict[str, Any]]:
    if creators is None or creators == []:
        return [field_error("metadata.creators", REQUIRED)]
    if not isinstance(creators, list):
        return [field_error("metadata.creators", "Not a valid list.")]
    errors = []
    for index, creator in enumerate(creators):
        prefix = f"metadata.creators.{index}.person_or_org"
        person = creator.get("person_or_org") if isinstance(creator, dict) else None
        if not isinstance(person, dict):
            errors.append(field_error(prefix, REQUIRED))
            continue
        kind = person.get("type")
        if kind is None:
            errors.append(field_error(f"{prefix}.type", REQUIRED))
        elif kind == "personal":
            if not person.get("family_name"):
                errors.append(field_error(f"{prefix}.family_name", "Family name must be filled."))
        elif kind == "organizational":
            if not person.get("name"):
                errors.append(field_error(f"{prefix}.name", "Name cannot be blank."))
        else:
            errors.append(
                field_error(f"{prefix}.type", "Must be one of: personal, organizational.")
            )
    return errors
