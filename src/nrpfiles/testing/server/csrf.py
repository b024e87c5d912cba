"""InvenioRDM's cookie protection, which a client with a cookie jar runs into.

The home page sets a ``session`` cookie, and a request that changes something (POST,
PUT, PATCH, DELETE) without a ``csrftoken`` cookie is answered with one. A changing
request that carries any cookie must either hold a valid token or echo the
``csrftoken`` cookie in an ``X-CSRFToken`` header; otherwise it gets 400 before
anything else is looked at ("CSRF cookie not set." while it has none). A request with
a valid token is never checked.
"""

from __future__ import annotations

import secrets
from http.cookies import CookieError, SimpleCookie

from .context import Context
from .http import ApiError, Request, Response

COOKIE = "csrftoken"
SESSION_COOKIE = "session"
HEADER = "X-CSRFToken"
NO_COOKIE = "CSRF cookie not set."
WRONG_CSRF = "CSRF token missing or incorrect."
_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def cookies(request: Request) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(request.header("Cookie") or "")
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def protect(ctx: Context, request: Request) -> None:
    if request.method not in _CHANGING:
        return
    sent = cookies(request)
    if not sent:
        return
    token = request.bearer_token()
    if token is not None and ctx.store.user_by_token(token) is not None:
        return
    expected = sent.get(COOKIE)
    if expected is None:
        raise ApiError(400, NO_COOKIE)
    if request.header(HEADER) != expected:
        raise ApiError(400, WRONG_CSRF)


def set_cookies(request: Request, response: Response, *, session: bool = False) -> None:
    """Hand out the cookies a browser would get (not ``Secure``: this is plain HTTP).

    The home page starts a session each time; a request that changes something and
    brings no ``csrftoken`` gets one, whatever the answer.
    """
    if request.method in _CHANGING and COOKIE not in cookies(request):
        response.headers.append(
            ("Set-Cookie", f"{COOKIE}={secrets.token_urlsafe(24)}; Path=/; SameSite=Lax")
        )
    if session:
        response.headers.append(
            (
                "Set-Cookie",
                f"{SESSION_COOKIE}={secrets.token_urlsafe(24)}; HttpOnly; Path=/; SameSite=Lax",
            )
        )
