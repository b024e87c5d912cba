"""A proxy.py plugin that writes one JSON line per request it forwards (test use only).

Loaded into the proxy started by ``tests/http_proxy.py``; the file it writes to
is named by ``PROXY_REQUEST_LOG`` in the proxy's environment.
"""

from __future__ import annotations

import json
import os

from proxy.http.parser import HttpParser
from proxy.http.proxy import HttpProxyBasePlugin


class RequestLog(HttpProxyBasePlugin):
    def handle_client_request(self, request: HttpParser) -> HttpParser:
        authorization = (
            request.header(b"authorization").decode() if request.has_header(b"authorization") else None
        )
        line = {
            "method": (request.method or b"").decode(),
            "host": (request.host or b"").decode(),
            "port": request.port,
            "path": (request.path or b"").decode(),
            "authorization": authorization,
            "proxy_authorization": request.has_header(b"proxy-authorization"),
        }
        with open(os.environ["PROXY_REQUEST_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
        return request
