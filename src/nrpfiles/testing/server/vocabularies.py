"""The vocabulary entries a record may refer to, with the titles stored next to their ids.

InvenioRDM keeps its vocabularies in the database and stores a reference's title
with its id (``{"id": "dataset", "title": {"en": "Dataset", ...}}``); an id it does
not know fails the whole request. This is a small built-in table of the common
resource types and creator roles, with the labels InvenioRDM's own vocabulary
fixtures give them.
"""

from __future__ import annotations

from typing import Any


def _title(en: str, cs: str, de: str, es: str, sv: str, ar: str) -> dict[str, str]:
    # stored with the languages in alphabetical order, as InvenioRDM stores them
    return {"ar": ar, "cs": cs, "de": de, "en": en, "es": es, "sv": sv}


RESOURCE_TYPES: dict[str, dict[str, str]] = {
    "dataset": _title(
        "Dataset", "Datová sada", "Datensatz", "Conjunto de datos", "Dataset", "مجموعة بيانات"
    ),
    "image": _title("Image", "Obrázek", "Bild", "Imagen", "Bild", "صورة"),
    "image-figure": _title("Figure", "Schéma", "Abbildung", "Figura", "Figur", "رسم"),
    "image-photo": _title("Photo", "Fotografie", "Foto", "Foto", "Foto", "صورة فوتوغرافيّة"),
    "publication": _title(
        "Publication", "Publikace", "Publikation", "Publicación", "Publikation", "منشور"
    ),
    "publication-article": _title(
        "Journal article",
        "Článek v časopise",
        "Zeitschriftenartikel",
        "Artículo de revista",
        "Tidskriftsartikel",
        "مقال بدوريّة",
    ),
    "publication-report": _title("Report", "Zpráva", "Bericht", "Informe", "Rapport", "تقرير"),
    "presentation": _title(
        "Presentation", "Prezentace", "Präsentation", "Presentación", "Presentation", "عرض تقديمي"
    ),
    "poster": _title("Poster", "Poster", "Poster", "Póster", "Poster", "معلّقة"),
    "software": _title("Software", "Software", "Software", "Software", "Mjukvara", "برنامج حاسوب"),
    "video": _title("Video", "Video", "Video", "Video", "Video", "فيديو"),
    "audio": _title("Audio", "Audio", "Audio", "Audio", "Audio", "صوت"),
    "other": _title("Other", "Jiné", "Sonstige", "Otro", "Övrig", "آخر"),
}

CREATOR_ROLES: dict[str, dict[str, str]] = {
    "contactperson": _title(
        "Contact person",
        "Kontaktní osoba",
        "Kontaktperson",
        "Persona de contacto",
        "Kontaktperson",
        "مسؤول الاتصال",
    ),
    "datacollector": _title(
        "Data collector",
        "Sběratel dat",
        "DatensammlerIn",
        "Recolector de datos",
        "Datainsamlare",
        "مجمّع البيانات",
    ),
    "datacurator": _title(
        "Data curator",
        "Kurátor dat",
        "DatenkuratorIn",
        "Curador de datos",
        "Datakurator",
        "معالج البيانات",
    ),
    "datamanager": _title(
        "Data manager",
        "Správce dat",
        "DatenmanagerIn",
        "Gestor de datos",
        "Dataansvarig",
        "مدير البيانات",
    ),
    "editor": _title("Editor", "Editor", "EditorIn", "Editor", "Redaktör", "النّاشر"),
    "projectleader": _title(
        "Project leader",
        "Vedoucí projektu",
        "ProjektleiterIn",
        "Líder de proyecto",
        "Projektledare",
        "قائد المشروع",
    ),
    "researcher": _title(
        "Researcher", "Výzkumník", "WissenschaftlerIn", "Investigador", "Forskare", "باحث"
    ),
    "supervisor": _title(
        "Supervisor", "Supervizor", "SupervisorIn", "Supervisor", "Handledare", "مشرف"
    ),
    "other": _title("Other", "Jiné", "Andere", "Otro", "Övriga", "آخر"),
}


def unknown_reference(metadata: dict[str, Any]) -> str | None:
    """The first referenced id no table holds: InvenioRDM refuses the request over it."""
    resource_type = metadata.get("resource_type")
    if isinstance(resource_type, dict) and resource_type.get("id") not in RESOURCE_TYPES:
        return str(resource_type.get("id"))
    for creator in metadata.get("creators") or ():
        role = creator.get("role") if isinstance(creator, dict) else None
        if isinstance(role, dict) and role.get("id") not in CREATOR_ROLES:
            return str(role.get("id"))
    return None


def has_references(metadata: dict[str, Any]) -> bool:
    """Whether the metadata refers to any vocabulary entry (which costs a revision)."""
    if "resource_type" in metadata:
        return True
    return any(
        isinstance(creator, dict) and "role" in creator
        for creator in metadata.get("creators") or ()
    )
