"""What a deployment checks before any endpoint sees a request: its rate limit and the
clients it refuses. Both read ``RepositoryConfig`` only; the default asks for neither.

The rate limit counts a signed-in user (a token the repository knows) by user, and
anyone else by address, each against a limit of their own (``rate_limit``,
``guest_rate_limit``). A request refused for rate gets 429 ``{"status": 429,
"message": "100 per 1 minute"}`` (the limit, as Flask-Limiter names it) and, where
``rate_limit_retry_after`` is on, ``Retry-After``.
"""

from __future__ import annotations

from .context import Context
from .http import ApiError, Request
from .ratelimit import Verdict


def rate_limit(ctx: Context, request: Request) -> Verdict | None:
    """Count the request against its window; None where the caller has no limit."""
    user = ctx.authenticate(request, required=False)
    if user is not None:
        limit, key = ctx.config.rate_limit, f"user:{user.id}"
    else:
        limit, key = ctx.config.guest_rate_limit, f"address:{request.remote_address}"
    if limit is None:
        return None
    return ctx.limiter.hit(key, limit)


def too_many_requests(ctx: Context, verdict: Verdict) -> ApiError:
    ctx.stats.add("rate_limited")
    headers = {}
    if ctx.config.rate_limit_retry_after:
        headers["Retry-After"] = str(verdict.retry_after)
    return ApiError(429, verdict.limit.describe(), headers=headers)


def check_user_agent(ctx: Context, request: Request) -> None:
    """403 for a User-Agent the deployment refuses (Zenodo: python-requests' default)."""
    agent = request.header("User-Agent") or ""
    for prefix in ctx.config.refused_user_agents:
        if agent.lower().startswith(prefix.lower()):
            ctx.stats.add("refused_user_agent")
            raise ApiError(
                403,
                f"Requests with the User-Agent {agent!r} are refused: send a User-Agent "
                "that names your application and how to reach you.",
            )
