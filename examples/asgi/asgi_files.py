"""A Starlette app (any ASGI server) with nrpfiles' AsyncClient: uploads in, streams out.

Run it: ``NRPFILES_URL=... NRPFILES_TOKEN=... uvicorn asgi_files:app``
"""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from nrpfiles import AsyncClient, AsyncFileReader
from nrpfiles.errors import DoesNotExistError, PermissionDeniedError

FORM = """<!doctype html><title>Upload</title>
<form method="post" action="{action}" enctype="multipart/form-data">
  <label>Draft id (empty: a new draft) <input name="record"></label>
  <input type="file" name="file" required> <button>Upload</button>
</form>"""


def repository(request: Request) -> AsyncClient:
    client: AsyncClient = request.app.state.nrpfiles
    return client


async def upload_form(request: Request) -> Response:
    return HTMLResponse(FORM.format(action=html.escape(str(request.url_for("upload")))))


async def upload(request: Request) -> Response:
    async with request.form() as form:  # its temporary files go when the block ends
        uploaded = form.get("file")
        if not isinstance(uploaded, UploadFile) or not uploaded.filename:
            return JSONResponse({"error": "no file in the form"}, status_code=400)
        client = repository(request)
        record_id = str(form.get("record") or "") or None
        draft = record_id or await client.records.create({"metadata": {"title": uploaded.filename}})
        try:
            # Starlette's UploadFile goes in as it is: nrpfiles reads its .file off the event loop.
            await client.files.upload(draft, uploaded.filename, {}, uploaded, overwrite=True)
        except (DoesNotExistError, PermissionDeniedError) as error:
            return JSONResponse({"error": str(error)}, status_code=404)
    record_id = record_id or draft.id
    return RedirectResponse(request.url_for("list_files", record_id=record_id), status_code=303)


async def list_files(request: Request) -> Response:
    record_id = request.path_params["record_id"]
    try:
        files = await repository(request).files.list(record_id)
    except (DoesNotExistError, PermissionDeniedError) as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    entries = [{"key": f.key, "size": f.size, "checksum": f.checksum} for f in files]
    return JSONResponse({"record": record_id, "files": entries})


async def serve_file(request: Request) -> Response:
    record_id, key = request.path_params["record_id"], request.path_params["key"]
    stream = repository(request).files.open(record_id, key)
    try:
        await stream.start()  # a missing file is a 404 here, before any header goes out
    except (DoesNotExistError, PermissionDeniedError) as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    # filename*= survives any key: quotes, slashes, non-ASCII
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(key.rsplit('/', 1)[-1])}"}
    if stream.size is not None:
        headers["Content-Length"] = str(stream.size)
    return StreamingResponse(_body(stream), media_type="application/octet-stream", headers=headers)


async def _body(stream: AsyncFileReader) -> AsyncIterator[bytes]:
    async with stream:  # the connection goes back to the pool however the response ends
        async for chunk in stream.aiter_bytes():
            yield chunk


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """One client for the app's life: made at startup, closed at shutdown, shared by all tasks."""
    url = app.state.config.get("NRPFILES_URL") or os.environ.get("NRPFILES_URL", "http://127.0.0.1:8900")
    token = app.state.config.get("NRPFILES_TOKEN") or os.environ.get("NRPFILES_TOKEN")
    async with AsyncClient(url, token=token) as client:
        app.state.nrpfiles = client
        yield


def create_app(config: dict[str, Any] | None = None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", upload_form),
            Route("/upload", upload, methods=["POST"]),
            Route("/records/{record_id}/files", list_files, name="list_files"),
            Route("/records/{record_id}/files/{key:path}", serve_file),
        ],
        lifespan=lifespan,
    )
    app.state.config = dict(config or {})
    return app


app = create_app()
