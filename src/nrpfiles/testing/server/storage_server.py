"""The storage origin behind ``/content`` redirects, like S3 behind an InvenioRDM site.

It serves presigned object URLs on its own port (another origin) and refuses, and
counts, any request that carries a bearer token: a client must never send one here.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from urllib.parse import unquote

from .context import Context
from .downloads import StoredContent, content_response
from .http import ApiError, Dispatch, Request, Response
from .serialize import guess_mimetype

_OBJECT = re.compile(r"^/objects/(?P<file_id>[0-9a-f-]{36})/(?P<name>[^/]+)$")


def make_storage_dispatch(ctx: Context) -> Dispatch:
    def dispatch(request: Request) -> Response:
        return serve_object(ctx, request)

    return dispatch


def serve_object(ctx: Context, request: Request) -> Response:
    if request.header("Authorization") is not None or request.arg("access_token") is not None:
        ctx.count_violation()
        raise ApiError(
            400, "Only one auth mechanism allowed; a presigned URL takes no Authorization."
        )
    match = _OBJECT.match(request.path)
    if match is None:
        raise ApiError(404, "The specified key does not exist.")
    if request.method not in ("GET", "HEAD"):
        raise ApiError(405, "The specified method is not allowed against this resource.")
    file_id, name = match["file_id"], unquote(match["name"])
    fields = {name_: request.arg(name_) or "" for name_ in ("expires", "md5", "modified")}
    if not ctx.signer.verify(file_id, name, fields, request.arg("signature") or ""):
        raise ApiError(403, "Request has expired or its signature does not match.")
    path = ctx.store.content_path(file_id)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise ApiError(404, "The specified key does not exist.") from None
    content = StoredContent(
        path=path,
        size=size,
        md5_hex=fields["md5"],
        modified=datetime.fromisoformat(fields["modified"]),
        filename=name,
        mimetype=guess_mimetype(name),
    )
    return content_response(request, content, ranges=ctx.config.ranges)
