"""Switches for a running repository, for tests that drive it from another process.

``/_local/...`` is never subject to injected faults or rate limits, is not counted in
the stats, and takes the first user's token.
"""

from __future__ import annotations

import inspect
import secrets
from typing import Any

from ..faults import Faults
from .context import Context
from .http import PERMISSION_DENIED, ApiError, Request, Response, empty_response, json_response

_FAULT_OPTIONS = tuple(inspect.signature(Faults.configure).parameters)[1:]


def _require_admin(ctx: Context, request: Request) -> None:
    user = ctx.authenticate(request)
    assert user is not None
    if user.id != ctx.store.users()[0].id:
        raise ApiError(403, PERMISSION_DENIED)


def _state(ctx: Context) -> dict[str, Any]:
    return {
        "config": ctx.faults.config.to_json(),
        "injected": ctx.faults.injected,
        "token_violations": ctx.token_violations,
    }


def get_faults(ctx: Context, request: Request) -> Response:
    _require_admin(ctx, request)
    return json_response(200, _state(ctx))


def set_faults(ctx: Context, request: Request) -> Response:
    _require_admin(ctx, request)
    body = request.json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "Expected a JSON object of fault options.")
    unknown = sorted(set(body) - set(_FAULT_OPTIONS))
    if unknown:
        raise ApiError(400, f"Unknown fault options: {', '.join(unknown)}.")
    try:
        ctx.faults.configure(**body)
    except (TypeError, ValueError) as error:
        raise ApiError(400, str(error)) from None
    return json_response(200, _state(ctx))


def clear_faults(ctx: Context, request: Request) -> Response:
    _require_admin(ctx, request)
    ctx.faults.clear()
    return empty_response(204)


def reset(ctx: Context, request: Request) -> Response:
    _require_admin(ctx, request)
    ctx.reset()
    return empty_response(204)


def add_user(ctx: Context, request: Request) -> Response:
    _require_admin(ctx, request)
    body = request.json_body(optional=True) or {}
    name = str(body.get("name") or "user") if isinstance(body, dict) else "user"
    user = ctx.store.add_user(name, secrets.token_urlsafe(32))
    return json_response(201, {"id": user.id, "name": user.name, "token": user.token})


def get_stats(ctx: Context, request: Request) -> Response:
    """What the API answered since the start or the last reset: ``rate_limited`` and more."""
    _require_admin(ctx, request)
    return json_response(200, ctx.stats.snapshot())
