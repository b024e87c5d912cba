"""A record's web page (what ``links.self_html`` and a browser show) names its API URL."""

from __future__ import annotations

import pytest

from nrpfiles._urls import api_url_of_web_page

API = "https://zenodo.org/api"


@pytest.mark.parametrize(
    ("page", "api"),
    [
        ("https://zenodo.org/records/123", "https://zenodo.org/api/records/123"),
        ("https://zenodo.org/records/123/", "https://zenodo.org/api/records/123"),
        ("https://zenodo.org/records/123?preview=1", "https://zenodo.org/api/records/123"),
        ("https://zenodo.org/uploads/123", "https://zenodo.org/api/records/123/draft"),
        ("https://zenodo.org/deposit/123", "https://zenodo.org/api/records/123/draft"),
        ("https://zenodo.org/records/123/latest", "https://zenodo.org/api/records/123/versions/latest"),
        (
            "https://zenodo.org/records/123/files/a%20b/c.csv?download=1",
            "https://zenodo.org/api/records/123/files/a%20b/c.csv",
        ),
    ],
)
def test_web_pages_become_api_urls(page: str, api: str) -> None:
    assert api_url_of_web_page(page, API) == api


@pytest.mark.parametrize(
    "url",
    [
        "https://zenodo.org/api/records/123",  # already the API
        "https://zenodo.org/api/records/123/draft",
        "https://other.org/records/123",  # another repository
        "http://zenodo.org/records/123",  # another origin
        "https://zenodo.org/communities/abc",  # not a record
        "https://zenodo.org/records/123/export/json",
    ],
)
def test_other_urls_are_not_web_pages(url: str) -> None:
    assert api_url_of_web_page(url, API) is None


def test_a_site_under_a_path() -> None:
    api = "https://x.org/repo/api"
    assert api_url_of_web_page("https://x.org/repo/records/1", api) == api + "/records/1"
    assert api_url_of_web_page("https://x.org/records/1", api) is None
