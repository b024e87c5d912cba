from __future__ import annotations

import json
import pickle

import pytest

from nrpfiles.errors import (
    HTTP_EXCEPTIONS,
    ChecksumMismatchError,
    ConfigurationError,
    ConflictError,
    DoesNotExistError,
    FieldError,
    PermissionDeniedError,
    RateLimitedError,
    RepositoryClientError,
    RepositoryCommunicationError,
    RepositoryError,
    RepositoryServerError,
    TransferError,
    UnexpectedResponseError,
    ValidationError,
    error_from_response,
    field_errors_from_json,
)

URL = "https://repo.example.org/api/records/abc-123"


def invenio_body(status: int, message: str, errors: object = None) -> bytes:
    document: dict[str, object] = {"status": status, "message": message}
    if errors is not None:
        document["errors"] = errors
    return json.dumps(document).encode()


def from_response(
    status: int,
    body: bytes = b"",
    content_type: str | None = "application/json",
    *,
    method: str = "GET",
    url: str = URL,
    retry_after: float | None = None,
) -> RepositoryError:
    return error_from_response(
        status=status,
        method=method,
        url=url,
        body=body,
        content_type=content_type,
        retry_after=retry_after,
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, RepositoryClientError),
        (401, PermissionDeniedError),
        (403, PermissionDeniedError),
        (404, DoesNotExistError),
        (405, RepositoryClientError),
        (409, ConflictError),
        (410, DoesNotExistError),
        (412, ConflictError),
        (415, RepositoryClientError),
        (416, RepositoryClientError),
        (429, RateLimitedError),
        (499, RepositoryClientError),
        (500, RepositoryServerError),
        (502, RepositoryServerError),
        (503, RepositoryServerError),
        (504, RepositoryServerError),
        (599, RepositoryServerError),
        (302, RepositoryError),
    ],
)
def test_every_status_class_maps_to_its_exception(
    status: int, expected: type[RepositoryError]
) -> None:
    error = from_response(status, invenio_body(status, "Something."))
    assert type(error) is expected
    assert error.status == status
    assert error.method == "GET"
    assert error.url == URL
    assert error.server_message == "Something."


def test_hierarchy_has_one_root() -> None:
    for error_class in (
        RepositoryCommunicationError,
        RepositoryClientError,
        DoesNotExistError,
        PermissionDeniedError,
        ConflictError,
        RateLimitedError,
        ValidationError,
        RepositoryServerError,
        UnexpectedResponseError,
        TransferError,
        ChecksumMismatchError,
        ConfigurationError,
    ):
        assert issubclass(error_class, RepositoryError)
    for client_error in (DoesNotExistError, PermissionDeniedError, ConflictError):
        assert issubclass(client_error, RepositoryClientError)
    assert issubclass(RateLimitedError, RepositoryClientError)
    assert issubclass(ValidationError, RepositoryClientError)
    assert issubclass(ChecksumMismatchError, TransferError)
    assert issubclass(ConfigurationError, ValueError)
    assert set(HTTP_EXCEPTIONS.values()) <= {
        RepositoryClientError,
        DoesNotExistError,
        PermissionDeniedError,
        ConflictError,
        RateLimitedError,
    }


def test_not_found_reads_as_one_line() -> None:
    error = from_response(404, invenio_body(404, "The persistent identifier does not exist."))
    assert str(error) == (
        "404 Not Found on GET https://repo.example.org/api/records/abc-123: "
        "The persistent identifier does not exist."
    )
    assert "\n" not in str(error)


def test_validation_error_carries_field_errors_and_lists_them_compactly() -> None:
    errors = [
        {"field": "metadata.title", "messages": ["Missing data for required field."]},
        {
            "field": "metadata.creators.0.person_or_org.family_name",
            "messages": ["Family name must be filled.", "Too short."],
        },
    ]
    error = from_response(
        400, invenio_body(400, "A validation error occurred.", errors), method="post"
    )
    assert isinstance(error, ValidationError)
    assert error.method == "POST"
    assert error.errors == (
        FieldError("metadata.title", ("Missing data for required field.",)),
        FieldError(
            "metadata.creators.0.person_or_org.family_name",
            ("Family name must be filled.", "Too short."),
        ),
    )
    assert str(error) == (
        f"400 Bad Request on POST {URL}: A validation error occurred. "
        "(metadata.title: Missing data for required field.; "
        "metadata.creators.0.person_or_org.family_name: Family name must be filled. Too short.)"
    )


def test_messages_may_be_a_single_string() -> None:
    body = invenio_body(
        400, "A validation error occurred.", [{"field": "files", "messages": "Bad."}]
    )
    error = from_response(400, body)
    assert isinstance(error, ValidationError)
    assert error.errors == (FieldError("files", ("Bad.",)),)


def test_many_field_errors_are_summarised() -> None:
    errors = [{"field": f"metadata.f{i}", "messages": ["Bad."]} for i in range(9)]
    error = from_response(400, invenio_body(400, "A validation error occurred.", errors))
    assert len(error.errors) == 9
    assert str(error).endswith("metadata.f4: Bad.; and 4 more)")


def test_bad_request_without_field_errors_is_a_plain_client_error() -> None:
    error = from_response(400, invenio_body(400, "No files to upload."))
    assert type(error) is RepositoryClientError
    assert str(error).endswith(": No files to upload.")


def test_string_errors_become_part_of_the_message() -> None:
    error = from_response(400, json.dumps({"errors": "File upload transfer failed."}).encode())
    assert type(error) is RepositoryClientError
    assert error.errors == ()
    assert str(error) == f"400 Bad Request on GET {URL}: File upload transfer failed."

    both = from_response(500, invenio_body(500, "Upload failed.", "File upload transfer failed."))
    assert both.message == "Upload failed. File upload transfer failed."


def test_s3_xml_error_gives_its_code_and_message() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired</Message><Resource>/bucket/key</Resource>"
        b"<RequestId>1</RequestId></Error>"
    )
    error = from_response(403, body, "application/xml")
    assert isinstance(error, PermissionDeniedError)
    assert error.server_message == "AccessDenied: Request has expired"
    assert str(error).endswith(": AccessDenied: Request has expired")


def test_html_body_gives_its_visible_text() -> None:
    page = (
        b"<html><head><title>502 Bad Gateway</title><style>h1 {color: red}</style></head>\n"
        b"<body>\n  <h1>502   Bad\n Gateway</h1><hr><center>nginx &amp; friends</center>"
        b"<script>var x = 1;</script></body></html>"
    )
    error = from_response(502, page, "text/html; charset=utf-8")
    assert isinstance(error, RepositoryServerError)
    assert str(error) == f"502 Bad Gateway on GET {URL}: 502 Bad Gateway nginx & friends"


def test_html_with_only_a_title_gives_the_title() -> None:
    page = b"<html><head><title>Maintenance</title></head><body></body></html>"
    assert from_response(503, page, "text/html").message == "Maintenance"


def test_long_text_body_is_cut_to_one_short_line() -> None:
    body = ("word " * 200 + "\n" * 5 + "tail").encode()
    error = from_response(500, body, "text/plain")
    assert error.message.endswith("...")
    assert len(error.message) <= 210
    assert "\n" not in str(error)
    assert "  " not in error.message


def test_empty_body_still_reads_well() -> None:
    error = from_response(404, b"", None)
    assert isinstance(error, DoesNotExistError)
    assert str(error) == f"404 Not Found on GET {URL}: empty response body"


def test_broken_json_falls_back_to_text() -> None:
    error = from_response(500, b'{"status": 500, "mess', "application/json")
    assert str(error) == f'500 Internal Server Error on GET {URL}: {{"status": 500, "mess'


def test_json_that_is_not_invenio_shaped() -> None:
    assert from_response(401, b'{"error": "invalid_token"}').message == "invalid_token"
    assert from_response(403, b'["a", "b"]').message == '["a","b"]'
    assert from_response(500, b'{"code": 7}').message == '{"code":7}'


def test_undecodable_bytes_do_not_break_the_message() -> None:
    error = from_response(500, b"\xff\xfe broken \x80", "text/plain")
    assert "broken" in str(error)


def test_unknown_status_has_a_reason() -> None:
    assert str(from_response(599, b"")).startswith("599 HTTP error on GET")


def test_rate_limited_keeps_retry_after() -> None:
    error = from_response(429, invenio_body(429, "Too many requests."), retry_after=12.5)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 12.5
    assert str(error) == (
        f"429 Too Many Requests on GET {URL}: Too many requests. (retry after 12.5 s)"
    )
    assert from_response(429, b"").retry_after is None  # type: ignore[attr-defined]


def test_secret_query_parameters_are_masked_everywhere() -> None:
    secret = "s3cr3t-T0KEN"
    url = f"https://repo.example.org/api/records?access_token={secret}&q=x"
    error = from_response(403, invenio_body(403, "Permission denied."), url=url)
    assert secret not in str(error)
    assert secret not in repr(error)
    assert secret not in (error.url or "")
    assert "q=x" in str(error)

    error.url = f"https://repo.example.org/other?token={secret}"
    assert secret not in str(error)
    assert secret not in repr(RepositoryError("x", url=f"https://h/?access_token={secret}"))


def test_secrets_echoed_in_a_body_are_masked() -> None:
    body = b"<html><body>Bad request to /api/records?access_token=abcdef123</body></html>"
    error = from_response(400, body, "text/html")
    assert "abcdef123" not in str(error)
    assert "access_token=***" in str(error)


def test_repr_is_informative() -> None:
    error = from_response(404, invenio_body(404, "Gone."))
    assert repr(error) == f"DoesNotExistError('Gone.', status=404, method='GET', url='{URL}')"


def test_errors_without_status_read_well() -> None:
    error = RepositoryCommunicationError(
        "connection refused after 5 attempts", method="GET", url=URL
    )
    assert str(error) == f"GET {URL}: connection refused after 5 attempts"
    assert str(RepositoryError("plain")) == "plain"


def test_context_can_be_added_later() -> None:
    error = UnexpectedResponseError("does not fit", errors=[FieldError("entries[0].size", ("x",))])
    error.status, error.method, error.url = 200, "GET", URL
    assert str(error) == f"200 OK on GET {URL}: does not fit (entries[0].size: x)"
    assert error.path == "entries[0].size"


def test_checksum_mismatch() -> None:
    error = ChecksumMismatchError(key="data.csv", expected="md5:aaa", actual="md5:bbb")
    assert isinstance(error, TransferError)
    assert (error.key, error.expected, error.actual) == ("data.csv", "md5:aaa", "md5:bbb")
    assert str(error) == "checksum mismatch for 'data.csv': expected md5:aaa, got md5:bbb"
    assert TransferError("failed", key="k").key == "k"


def test_errors_survive_pickling() -> None:
    errors: list[RepositoryError] = [
        ChecksumMismatchError(key="a", expected="md5:1", actual="md5:2", url=URL),
        from_response(429, invenio_body(429, "Slow down."), retry_after=3),
        from_response(400, invenio_body(400, "Invalid.", [{"field": "a", "messages": ["b"]}])),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert copy.__dict__ == error.__dict__


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ("", ()),
        ("Oops.", (FieldError("", ("Oops.",)),)),
        ([{"field": "a", "messages": ["m1", "m2"]}], (FieldError("a", ("m1", "m2")),)),
        ([{"field": "a", "messages": "m"}], (FieldError("a", ("m",)),)),
        ([{"field": "a", "message": "m"}], (FieldError("a", ("m",)),)),
        ([{"messages": ["m"]}], (FieldError("", ("m",)),)),
        ([{"field": "a", "messages": {"b": ["m"]}}], (FieldError("a", ('{"b":["m"]}',)),)),
        (["loose"], (FieldError("", ("loose",)),)),
        ({"field": "a", "messages": ["m"]}, (FieldError("a", ("m",)),)),
    ],
)
def test_field_errors_from_any_shape(value: object, expected: tuple[FieldError, ...]) -> None:
    assert field_errors_from_json(value) == expected


def test_field_error_str() -> None:
    assert str(FieldError("metadata.title", ["Required.", "Too short."])) == (
        "metadata.title: Required. Too short."
    )
    assert str(FieldError("", ("Oops.",))) == "Oops."
