"""A Flask app that puts browser uploads into repository drafts and serves repository files.

Run it: ``NRPFILES_URL=... NRPFILES_TOKEN=... flask --app flask_files run``
"""

from __future__ import annotations

import atexit
import os
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, abort, current_app, jsonify, redirect, request, url_for
from markupsafe import escape

from nrpfiles import Client
from nrpfiles.errors import DoesNotExistError, PermissionDeniedError

FORM = """<!doctype html><title>Upload</title>
<form method="post" action="{action}" enctype="multipart/form-data">
  <label>Draft id (empty: a new draft) <input name="record"></label>
  <input type="file" name="file" required> <button>Upload</button>
</form>"""


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The application factory: one nrpfiles client per app, shared by all its threads."""
    app = Flask(__name__)
    app.config.update(
        NRPFILES_URL=os.environ.get("NRPFILES_URL", "http://127.0.0.1:8900"),
        NRPFILES_TOKEN=os.environ.get("NRPFILES_TOKEN"),
    )
    app.config.update(config or {})
    # Client() asks the repository nothing until the first request: the app starts even
    # while the repository is down.
    client = Client(app.config["NRPFILES_URL"], token=app.config["NRPFILES_TOKEN"])
    # Extensions keep their per-app state here; Flask has no hook for the end of a
    # process, so the client's connections are closed at exit.
    app.extensions["nrpfiles"] = client
    atexit.register(client.close)
    app.register_blueprint(_routes(), url_prefix="")
    return app


def attachment(key: str) -> str:
    """A Content-Disposition that survives any key: quotes, slashes, non-ASCII."""
    return f"attachment; filename*=UTF-8''{quote(key.rsplit('/', 1)[-1])}"


def repository() -> Client:
    client: Client = current_app.extensions["nrpfiles"]
    return client


def _routes() -> Any:
    from flask import Blueprint

    routes = Blueprint("files", __name__)

    @routes.get("/")
    def upload_form() -> str:
        return FORM.format(action=escape(url_for("files.upload")))

    @routes.post("/upload")
    def upload() -> Any:
        uploaded = request.files.get("file")
        if uploaded is None or not uploaded.filename:
            abort(400, "no file in the form")
        client = repository()
        record_id = request.form.get("record") or None
        draft = record_id or client.records.create({"metadata": {"title": uploaded.filename}})
        try:
            # werkzeug's FileStorage goes in as it is (in memory or spooled to disk by werkzeug).
            client.files.upload(draft, uploaded.filename, {}, uploaded, overwrite=True)
        except (DoesNotExistError, PermissionDeniedError) as error:
            return jsonify(error=str(error)), 404
        return redirect(url_for("files.list_files", record_id=record_id or draft.id))

    @routes.get("/records/<record_id>/files")
    def list_files(record_id: str) -> Any:
        try:
            files = repository().files.list(record_id)
        except (DoesNotExistError, PermissionDeniedError) as error:
            return jsonify(error=str(error)), 404
        entries = [{"key": f.key, "size": f.size, "checksum": f.checksum} for f in files]
        return jsonify(record=record_id, files=entries)

    @routes.get("/records/<record_id>/files/<path:key>")
    def serve_file(record_id: str, key: str) -> Any:
        stream = repository().files.open(record_id, key)
        try:
            stream.start()  # a missing file is a 404 here, before any header goes out
        except (DoesNotExistError, PermissionDeniedError) as error:
            return jsonify(error=str(error)), 404
        response = Response(stream.iter_bytes(), mimetype="application/octet-stream")
        response.headers["Content-Disposition"] = attachment(key)
        if stream.size is not None:
            response.headers["Content-Length"] = str(stream.size)
        # The connection goes back to the pool when the response is done, read or not.
        response.call_on_close(stream.close)
        return response

    return routes
