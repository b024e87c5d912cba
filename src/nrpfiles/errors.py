"""Exceptions raised by nrpfiles, and the mapping from a repository's error answers to them.

Every exception reads as one line: status, method, URL (secrets masked), the
server's message and its field errors. Request headers and tokens never
appear in any of them.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

import attrs

from nrpfiles._urls import redact_url

__all__ = [
    "HTTP_EXCEPTIONS",
    "ChecksumMismatchError",
    "ConfigurationError",
    "ConflictError",
    "DoesNotExistError",
    "FieldError",
    "LimitExceededError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RepositoryClientError",
    "RepositoryCommunicationError",
    "RepositoryError",
    "RepositoryServerError",
    "RequestNotApplicable",
    "TransferError",
    "UnexpectedResponseError",
    "ValidationError",
    "error_from_response",
    "field_errors_from_json",
]

# Enough of an HTML page or a stray body to recognise it, short enough for one line.
_SNIPPET_CHARS = 200
_MAX_FIELD_ERRORS_SHOWN = 5
# Error pages can be large; their gist is near the top.
_HTML_SCAN_CHARS = 64 * 1024
_WHITESPACE = re.compile(r"\s+")
_SECRET_IN_TEXT = re.compile(r"(?i)\b(access_token|token)=[^&\s\"'<>]+")
_HIDDEN_HTML = re.compile(r"(?is)<(head|script|style)\b.*?</\1\s*>")
_TITLE = re.compile(r"(?is)<title\b[^>]*>(.*?)</title\s*>")
_TAG = re.compile(r"(?s)<[^>]*>")
# S3 answers errors as <Error><Code>AccessDenied</Code><Message>...</Message>...</Error>.
_S3_ERROR = re.compile(r"(?s)<Error>.*?<Code>(.*?)</Code>")
_S3_MESSAGE = re.compile(r"(?s)<Message>(.*?)</Message>")


def _as_tuple(messages: Iterable[str]) -> tuple[str, ...]:
    return (messages,) if isinstance(messages, str) else tuple(messages)


@attrs.frozen
class FieldError:
    """One entry of InvenioRDM's ``errors`` list: a dotted field path and its messages.

    ``field`` is empty when the server gave a message that belongs to no field.
    """

    field: str
    messages: tuple[str, ...] = attrs.field(converter=_as_tuple)

    def __str__(self) -> str:
        text = " ".join(self.messages) if self.messages else "invalid"
        return f"{self.field}: {text}" if self.field else text


class RepositoryError(Exception):
    """The root of every error nrpfiles raises about a repository.

    ``url`` is stored with secret query parameters masked, also when it is set
    after construction (a caller adding context to an error raised deeper down).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
        errors: Sequence[FieldError] = (),
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.url = url
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.server_message = server_message

    @property
    def url(self) -> str | None:
        return self._url

    @url.setter
    def url(self, value: str | None) -> None:
        self._url = None if value is None else redact_url(value)

    def __str__(self) -> str:
        text = _one_line(self.message)
        if self.status is None and self.method is None and self.url:
            line = f"{text} ({self.url})" if text else self.url
        else:
            head = _describe_request(self.status, self.method, self.url)
            line = f"{head}: {text}" if head and text else head or text
        if self.errors:
            line = f"{line} ({_summarise(self.errors)})"
        return line

    def __repr__(self) -> str:
        parts = [f"{self.message!r}"]
        for name in ("status", "method", "url"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        if self.errors:
            parts.append(f"errors={list(self.errors)!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take required keyword arguments, so the default
        # Exception pickling (calling the class with ``args``) would fail.
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(cls: type[RepositoryError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigurationError(RepositoryError, ValueError):
    """The repository to use cannot be determined from the arguments, environment and files."""


class RequestNotApplicable(RepositoryError, ValueError):
    """A record offers the caller none of the request types asked for now, and has none open.

    Raised before anything is created: NRP repositories offer ``edit_published_record``
    only while a record has no draft, ``new_version`` only while no new version is open.
    """


class RepositoryCommunicationError(RepositoryError):
    """The repository could not be reached (network failure, timeout) after the retries."""


class RepositoryClientError(RepositoryError):
    """The repository refused the request (4xx)."""


class DoesNotExistError(RepositoryClientError):
    """404 or 410: the record, draft or file is not there (or no longer)."""


class PermissionDeniedError(RepositoryClientError):
    """401 or 403: missing, wrong or insufficient credentials, or a locked bucket."""


class ConflictError(RepositoryClientError):
    """409 or 412: the resource changed meanwhile (revision mismatch on ``If-Match``)."""


class RateLimitedError(RepositoryClientError):
    """429 still answered after the retries.

    ``retry_after`` is the server's last hint, in seconds, when it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after

    def __str__(self) -> str:
        line = super().__str__()
        if self.retry_after is not None:
            line = f"{line} (retry after {self.retry_after:g} s)"
        return line


class ValidationError(RepositoryClientError):
    """400 with field errors; see ``errors``."""


class LimitExceededError(RepositoryClientError):
    """A file the repository will not take: too many files, too large, over the quota.

    ``limit`` names which (``"files per record"``, ``"file size"``,
    ``"record quota"``) and ``key`` the file; nothing of it is left on the draft.
    """

    def __init__(self, message: str, *, limit: str, key: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.limit = limit
        self.key = key


class RepositoryServerError(RepositoryError):
    """The repository failed (5xx)."""


class UnexpectedResponseError(RepositoryError):
    """The repository answered with JSON that does not fit the expected shape.

    ``errors`` lists each problem with its field path (``entries[0].size``).
    """

    @property
    def path(self) -> str | None:
        """The path of the first field that did not fit."""
        return self.errors[0].field if self.errors else None


class TransferError(RepositoryError):
    """Moving a file's content failed; ``key`` names the file when known."""

    def __init__(self, message: str, *, key: str | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.key = key


class ChecksumMismatchError(TransferError):
    """The content read or written does not match the checksum the repository reports."""

    def __init__(
        self,
        message: str | None = None,
        *,
        key: str,
        expected: str,
        actual: str,
        **context: Any,
    ) -> None:
        if message is None:
            message = f"checksum mismatch for {key!r}: expected {expected}, got {actual}"
        super().__init__(message, key=key, **context)
        self.expected = expected
        self.actual = actual


HTTP_EXCEPTIONS: dict[int, type[RepositoryError]] = {
    400: RepositoryClientError,
    401: PermissionDeniedError,
    403: PermissionDeniedError,
    404: DoesNotExistError,
    409: ConflictError,
    410: DoesNotExistError,
    412: ConflictError,
    429: RateLimitedError,
}


def error_from_response(
    *,
    status: int,
    method: str,
    url: str,
    body: bytes,
    content_type: str | None,
    retry_after: float | None = None,
) -> RepositoryError:
    """The exception for an error answer, with the server's message and field errors."""
    server_message, field_errors, text = _read_error_body(body, content_type)
    error_class = _class_for(status, has_field_errors=bool(field_errors))
    message = server_message or text or "empty response body"
    context: dict[str, Any] = {
        "status": status,
        "method": method.upper(),
        "url": url,
        "errors": field_errors,
        "server_message": server_message,
    }
    if error_class is RateLimitedError:
        return RateLimitedError(message, retry_after=retry_after, **context)
    return error_class(message, **context)


def field_errors_from_json(value: Any) -> tuple[FieldError, ...]:
    """InvenioRDM ``errors`` in any of the shapes servers send, as field errors.

    A list of ``{"field", "messages"}`` (messages a list or a single string),
    or a bare string, which becomes one error without a field.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        return (FieldError(field="", messages=(value,)),) if value.strip() else ()
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return (FieldError(field="", messages=(_compact_json(value),)),)
    return tuple(_field_error(item) for item in value)


def _field_error(item: Any) -> FieldError:
    if not isinstance(item, dict):
        return FieldError(field="", messages=(str(item),))
    field = item.get("field")
    return FieldError(
        field="" if field is None else str(field),
        messages=tuple(_messages(item.get("messages", item.get("message")))),
    )


def _messages(value: Any) -> Iterable[str]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return (m if isinstance(m, str) else _compact_json(m) for m in value)
    # Nested schemas can report a mapping of sub-fields to messages.
    return (_compact_json(value),)


def _read_error_body(
    body: bytes, content_type: str | None
) -> tuple[str | None, tuple[FieldError, ...], str]:
    """The server's ``message``, its field errors, and a readable fallback text."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None, (), ""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json") or text[:1] in "{[":
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        else:
            return _read_error_document(document)
    s3_error = _S3_ERROR.search(text[:_HTML_SCAN_CHARS])
    if s3_error:
        detail = _S3_MESSAGE.search(text[:_HTML_SCAN_CHARS])
        code = html.unescape(s3_error.group(1)).strip()
        message = f"{code}: {html.unescape(detail.group(1)).strip()}" if detail else code
        return _one_line(message), (), ""
    if "html" in kind or text[:1] == "<":
        text = _html_text(text[:_HTML_SCAN_CHARS])
    return None, (), _snippet(text)


def _read_error_document(document: Any) -> tuple[str | None, tuple[FieldError, ...], str]:
    if not isinstance(document, dict):
        return None, (), _snippet(_compact_json(document))
    message = next(
        (
            document[name]
            for name in ("message", "error_description", "error", "detail")
            if isinstance(document.get(name), str) and document[name].strip()
        ),
        None,
    )
    raw_errors = document.get("errors")
    if isinstance(raw_errors, str):
        # A bare string is a message of its own, not a field problem
        # (InvenioRDM's "File upload transfer failed.").
        message = f"{message} {raw_errors}" if message else raw_errors
        field_errors: tuple[FieldError, ...] = ()
    else:
        field_errors = field_errors_from_json(raw_errors)
    fallback = "" if message else _snippet(_compact_json(document))
    return (_one_line(message) if message else None), field_errors, fallback


def _html_text(page: str) -> str:
    """The visible text of an error page; its title when the body says nothing."""
    text = html.unescape(_TAG.sub(" ", _HIDDEN_HTML.sub(" ", page))).strip()
    if text:
        return text
    title = _TITLE.search(page)
    return html.unescape(_TAG.sub(" ", title.group(1))) if title else ""


def _class_for(status: int, *, has_field_errors: bool) -> type[RepositoryError]:
    if status == 400 and has_field_errors:
        return ValidationError
    if status in HTTP_EXCEPTIONS:
        return HTTP_EXCEPTIONS[status]
    if 400 <= status < 500:
        return RepositoryClientError
    if 500 <= status < 600:
        return RepositoryServerError
    return RepositoryError


def _describe_request(status: int | None, method: str | None, url: str | None) -> str:
    request = " ".join(part for part in (method, url) if part)
    if status is None:
        return request
    head = f"{status} {_reason(status)}"
    return f"{head} on {request}" if request else head


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error" if status >= 400 else "HTTP status"


def _summarise(errors: Sequence[FieldError]) -> str:
    shown = "; ".join(_one_line(str(error)) for error in errors[:_MAX_FIELD_ERRORS_SHOWN])
    hidden = len(errors) - _MAX_FIELD_ERRORS_SHOWN
    return f"{shown}; and {hidden} more" if hidden > 0 else shown


def _one_line(text: str) -> str:
    return _SECRET_IN_TEXT.sub(r"\1=***", _WHITESPACE.sub(" ", text).strip())


def _snippet(text: str) -> str:
    text = _one_line(text)
    if len(text) > _SNIPPET_CHARS:
        return text[:_SNIPPET_CHARS].rstrip() + "..."
    return text


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except ValueError:
        return repr(value)
