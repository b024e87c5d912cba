"""Content in an S3 bucket, as invenio-s3 keeps it: presigned parts, 302 downloads.

URLs are presigned with botocore (SigV4), as invenio-s3 does through s3fs: part
links are ``upload_part`` URLs valid a week, signed anew on every read of the entry;
downloads answer 302 to a ``get_object`` URL valid a minute. Clients then talk to S3
itself, so its errors reach them as S3's own XML. Bytes sent to the API (whole
content, a part PUT to the API) go on to S3 as they arrive, nothing is kept on disk.

Commit completes the multipart upload as S3 checks it: a part missing or under
5 MiB (but the last) is a bare 500 and the entry stays pending, as in invenio-s3.
The checksum then reads ``multipart:<S3 ETag>-<part_size>`` until the background
task replaces it with the md5.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import get_session

from ..seaweed import REGION, Credentials
from .downloads import content_disposition, sanitize_mimetype, with_charset
from .http import INTERNAL_ERROR, ApiError, ClientWentAway, Request, Response
from .objects import MULTIPART_UPLOAD, Committed, part_expiration
from .serialize import guess_mimetype

if TYPE_CHECKING:
    from .context import Context

CHUNK = 4 << 20
OCTET_STREAM = "application/octet-stream"
# S3's limits of a multipart upload
MAX_PARTS = 10_000


class S3Objects:
    """Objects keyed by file id in one bucket of an S3 endpoint."""

    needs_part_size = False

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        credentials: Credentials,
        *,
        part_url_expiry: int,
        download_url_expiry: int,
    ) -> None:
        self._bucket = bucket
        self._part_url_expiry = part_url_expiry
        self._download_url_expiry = download_url_expiry
        # botocore makes the operations from S3's service model at run time: untyped
        self._s3: Any = get_session().create_client(
            "s3",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=16,
            ),
        )
        # streams bodies to presigned URLs; never sees the repository's token
        self._http = httpx.Client(trust_env=False, timeout=httpx.Timeout(60.0, connect=5.0))

    # whole content --------------------------------------------------------------------
    def receive_whole(self, request: Request) -> str:
        file_id = str(uuid.uuid4())
        url = self._presign(
            "put_object", {"Key": file_id, "ContentType": OCTET_STREAM}, self._part_url_expiry
        )
        self._stream_to(url, request, {"Content-Type": OCTET_STREAM})
        return file_id

    def digest(self, file_id: str) -> str:
        # an object stored whole has its md5 as ETag
        head = self._s3.head_object(Bucket=self._bucket, Key=file_id)
        return str(head["ETag"]).strip('"')

    # multipart ------------------------------------------------------------------------
    def start_multipart(self, file_id: str, size: int) -> dict[str, Any]:
        started = self._s3.create_multipart_upload(
            Bucket=self._bucket, Key=file_id, ContentType=OCTET_STREAM
        )
        return {MULTIPART_UPLOAD: started["UploadId"]}

    def part_links(self, self_url: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        expiration = part_expiration(timedelta(seconds=self._part_url_expiry), zulu=True)
        return [
            {
                "part": number,
                "url": self._part_url(data, number),
                "expiration": expiration,
            }
            for number in range(1, int(data["transfer"].get("parts", 0)) + 1)
        ]

    def _part_url(self, data: dict[str, Any], number: int) -> str:
        params = {"Key": data["file_id"], "UploadId": data[MULTIPART_UPLOAD], "PartNumber": number}
        return self._presign("upload_part", params, self._part_url_expiry)

    def receive_part(self, request: Request, data: dict[str, Any], number: int) -> bool:
        if number < 1 or number > min(int(data["transfer"]["parts"]), MAX_PARTS):
            return False
        self._stream_to(self._part_url(data, number), request, {})
        return True

    def complete_multipart(self, data: dict[str, Any]) -> Committed:
        parts = self._uploaded_parts(data)
        wanted = int(data["transfer"]["parts"])
        if sorted(parts) != list(range(1, wanted + 1)):
            # "Not all parts were uploaded": invenio-s3 lets it out as a bare 500
            raise ApiError(500, INTERNAL_ERROR)
        try:
            completed = self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=data["file_id"],
                UploadId=data[MULTIPART_UPLOAD],
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]
                },
            )
        except ClientError:
            # EntityTooSmall (a part under 5 MiB) and the like: a bare 500, parts kept
            raise ApiError(500, INTERNAL_ERROR) from None
        etag = str(completed["ETag"]).strip('"')
        part_size = data["transfer"].get("part_size")
        # no size check on this path: the declared size is what the entry reports
        return Committed(int(data["declared_size"]), f"multipart:{etag}-{part_size}")

    def _uploaded_parts(self, data: dict[str, Any]) -> dict[int, str]:
        parts: dict[int, str] = {}
        marker = 0
        while True:
            page = self._s3.list_parts(
                Bucket=self._bucket,
                Key=data["file_id"],
                UploadId=data[MULTIPART_UPLOAD],
                PartNumberMarker=marker,
            )
            for part in page.get("Parts", []):
                parts[int(part["PartNumber"])] = str(part["ETag"])
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    def abort(self, data: dict[str, Any]) -> None:
        upload = data.get(MULTIPART_UPLOAD)
        if not upload:
            return
        with contextlib.suppress(ClientError):  # completed or aborted already
            self._s3.abort_multipart_upload(
                Bucket=self._bucket, Key=data["file_id"], UploadId=upload
            )

    # objects --------------------------------------------------------------------------
    def remove(self, file_id: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=file_id)

    def md5(self, file_id: str) -> str:
        digest = hashlib.md5()  # noqa: S324  (InvenioRDM's checksum algorithm)
        body = self._s3.get_object(Bucket=self._bucket, Key=file_id)["Body"]
        with body:
            for chunk in body.iter_chunks(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def adopt(self, temporary: Path) -> str:
        file_id = str(uuid.uuid4())
        try:
            with open(temporary, "rb") as stream:
                self._s3.put_object(
                    Bucket=self._bucket, Key=file_id, Body=stream, ContentType=OCTET_STREAM
                )
        finally:
            temporary.unlink(missing_ok=True)
        return file_id

    def download(
        self, ctx: Context, request: Request, row_data: dict[str, Any], key: str
    ) -> Response:
        """302 to a presigned GET; the sanitized type is said on the redirect itself."""
        url = self._presign("get_object", {"Key": row_data["file_id"]}, self._download_url_expiry)
        filename = key.rsplit("/", 1)[-1]
        mimetype = sanitize_mimetype(row_data.get("mimetype") or guess_mimetype(key), filename)
        headers = [
            ("Location", url),
            ("Content-Type", with_charset(mimetype)),
            ("Content-Disposition", content_disposition(mimetype, filename)),
        ]
        return Response(302, headers, url.encode())

    def clear(self) -> None:
        uploads = self._s3.list_multipart_uploads(Bucket=self._bucket).get("Uploads", [])
        for upload in uploads:
            self.abort({"file_id": upload["Key"], MULTIPART_UPLOAD: upload["UploadId"]})
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": keys})

    def close(self) -> None:
        self._http.close()
        self._s3.close()

    # helpers --------------------------------------------------------------------------
    def _presign(self, operation: str, params: dict[str, Any], expires: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                operation, Params={"Bucket": self._bucket, **params}, ExpiresIn=expires
            )
        )

    def _stream_to(self, url: str, request: Request, headers: dict[str, str]) -> None:
        """PUT the request's body to S3 as it arrives, with its Content-Length."""
        length = request.content_length or 0
        answer = self._http.put(
            url,
            content=_body_of(request, length),
            headers={**headers, "Content-Length": str(length)},
        )
        if answer.status_code != 200:
            raise S3Refused(answer.status_code, answer.text)


class S3Refused(Exception):
    """S3 did not take bytes the API passed on."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"S3 answered {status}: {body[:300]}")
        self.status = status


def _body_of(request: Request, length: int) -> Iterator[bytes]:
    buffer = bytearray(min(CHUNK, max(length, 1)))
    view = memoryview(buffer)
    sent = 0
    while sent < length:
        got = request.read_into(view[: min(len(view), length - sent)])
        if not got:
            raise ClientWentAway("the request body ended before its Content-Length")
        sent += got
        yield bytes(view[:got])
