"""Presigned storage URLs, as an S3-backed InvenioRDM hands out for downloads."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import quote, urlencode

EXPIRES_IN = 60


class UrlSigner:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def sign(self, base: str, file_id: str, filename: str, md5_hex: str, modified: str) -> str:
        expires = str(int(time.time()) + EXPIRES_IN)
        fields = {"expires": expires, "md5": md5_hex, "modified": modified}
        signature = self._signature(file_id, filename, fields)
        query = urlencode({**fields, "signature": signature})
        return f"{base}/objects/{file_id}/{quote(filename)}?{query}"

    def verify(self, file_id: str, filename: str, fields: dict[str, str], signature: str) -> bool:
        return self.signature_ok(file_id, filename, fields, signature) and not self.expired(fields)

    def signature_ok(
        self, file_id: str, filename: str, fields: dict[str, str], signature: str
    ) -> bool:
        return hmac.compare_digest(self._signature(file_id, filename, fields), signature)

    def expired(self, fields: dict[str, str]) -> bool:
        try:
            return int(fields["expires"]) < time.time()
        except (KeyError, ValueError):
            return True

    def _signature(self, file_id: str, filename: str, fields: dict[str, str]) -> str:
        message = "\n".join(
            [
                file_id,
                filename,
                fields.get("expires", ""),
                fields.get("md5", ""),
                fields.get("modified", ""),
            ]
        )
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()
