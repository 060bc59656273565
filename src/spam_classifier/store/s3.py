"""The S3 store: ``s3://bucket/prefix``; reads and writes through a stdlib SigV4 client when it can, else boto3.

boto3 finds the endpoint, region and credentials the standard way (``AWS_ENDPOINT_URL_S3``,
``AWS_REGION``, the credential chain), so tests against a local S3 server use the production code path.
Versions are created with a conditional PUT (``If-None-Match: *``) and aliases moved with
``If-Match: <etag>``, so the server, not a read-then-write in the client, rejects a lost race.

Serving reads (`_read`: the alias with ``If-None-Match``, a version's manifest and model) and writes
feedback reports (`_create`, `_replace`), and importing boto3 costs about 340 ms of a Lambda cold start.
So when the environment has static keys and a region (what Lambda provides), reads and PUTs go through
`_sigv4.S3Reader` and boto3 is imported only for listings, deletes and the bucket check of `publish`;
otherwise (profiles, SSO, instance roles, ...) every operation uses boto3.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ConfigurationError, StoreError
from .base import BaseStore

if TYPE_CHECKING:
    from ._sigv4 import S3Reader

__all__ = ["S3Store", "make_s3_client"]

_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING_KEY = frozenset({"NoSuchKey", "404", "NotFound"})
_PRECONDITION_FAILED = frozenset({"PreconditionFailed", "412"})
_CONFLICT = frozenset({"ConditionalRequestConflict", "409"})
_DENIED = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"})


class S3Store(BaseStore):
    """A model store under ``s3://bucket/prefix``."""

    schemes = ("s3",)
    #: Read (and PUT) through the stdlib client when the environment allows it; tests set False to run all on boto3.
    _stdlib_reads: ClassVar[bool] = True

    def __init__(self, uri: str) -> None:
        super().__init__(uri.rstrip("/"))
        bucket, _, prefix = self.uri.removeprefix("s3://").partition("/")
        if not _BUCKET_PATTERN.match(bucket):
            raise ConfigurationError(
                f"{uri!r} does not name a valid S3 bucket; use s3://bucket/prefix (bucket: 3-63 lowercase letters, "
                "digits, '.' or '-')"
            )
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._reader = _make_reader() if self._stdlib_reads else None
        self._boto3_client = None if self._reader is not None else make_s3_client()
        self._bucket_checked = False

    @property
    def _client(self) -> Any:
        """The boto3 client, made on first use when reads go through the stdlib reader."""
        if self._boto3_client is None:
            self._boto3_client = make_s3_client()
        return self._boto3_client

    def _read(self, key: str, *, etag: str | None = None) -> tuple[bytes | None, str] | None:
        if self._reader is None:
            return self._read_with_boto3(key, etag=etag)
        from ._sigv4 import S3ErrorResponse, S3TransportError

        try:
            status, data, new_etag = self._reader.get_object(self.bucket, self.prefix + key, if_none_match=etag)
        except S3ErrorResponse as exc:
            if exc.status == 404 and exc.code in _MISSING_KEY:
                return None
            raise self._refusal("read", key, exc.code, exc.message) from None
        except S3TransportError as exc:
            raise self._unreachable("read", key, str(exc)) from None
        return (None, new_etag) if status == 304 else (data, new_etag)

    def _read_with_boto3(self, key: str, *, etag: str | None = None) -> tuple[bytes | None, str] | None:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self.prefix + key}
        if etag is not None:
            request["IfNoneMatch"] = etag
        with self._errors("read", key):
            try:
                response = self._client.get_object(**request)
                return response["Body"].read(), response["ETag"]
            except self._client.exceptions.ClientError as exc:
                code = _code(exc)
                if code in ("304", "NotModified") and etag is not None:
                    return None, etag
                if code in _MISSING_KEY:
                    return None
                raise
        return None  # pragma: no cover - _errors always raises

    def _create(self, key: str, data: bytes) -> bool:
        for attempt in range(3):
            try:
                self._put(key, data, IfNoneMatch="*")
                return True
            except _Refused as refused:
                if refused.code in _PRECONDITION_FAILED:
                    return False
                time.sleep(0.05 * (attempt + 1))  # 409: a concurrent conditional write to the same key is in flight
        return False

    def _swap(self, key: str, data: bytes, *, etag: str | None) -> bool:
        try:
            if etag is None:
                self._put(key, data, IfNoneMatch="*")
            else:
                self._put(key, data, IfMatch=etag)
        except _Refused:
            return False
        return True

    def _replace(self, key: str, data: bytes) -> None:
        self._put(key, data)

    def _delete(self, key: str) -> None:
        """Delete every version and delete marker of `key`, so a purged report leaves no copy in a versioned bucket."""
        full_key = self.prefix + key
        with self._errors("delete", key):
            doomed: list[dict[str, str]] = []
            for page in self._client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=full_key
            ):
                for item in [*page.get("Versions", ()), *page.get("DeleteMarkers", ())]:
                    if item["Key"] == full_key:
                        doomed.append({"Key": full_key, "VersionId": item["VersionId"]})
            for entry in doomed or [{"Key": full_key}]:
                self._client.delete_object(Bucket=self.bucket, **entry)

    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        with self._errors("list", prefix):
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            ):
                keys.extend(item["Key"].removeprefix(self.prefix) for item in page.get("Contents", ()))
        return sorted(keys)

    def _check_writable(self) -> None:
        """Some S3 servers create a missing bucket on the first PUT; refuse instead of publishing into a typo."""
        if self._bucket_checked:
            return
        with self._errors("open bucket", self.bucket):
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except self._client.exceptions.ClientError as exc:
                if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
                    raise StoreError(self._missing_bucket()) from None
                raise
        self._bucket_checked = True

    def _put(self, key: str, data: bytes, **condition: str) -> None:
        """One PUT, optionally conditional (``IfNoneMatch="*"`` or ``IfMatch=etag``); a failed condition is _Refused."""
        if self._reader is not None:
            self._put_with_stdlib(key, data, **condition)
            return
        with self._errors("write", key):
            try:
                self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, **condition)
            except self._client.exceptions.ClientError as exc:
                code = _code(exc)
                if code in _PRECONDITION_FAILED | _CONFLICT:
                    raise _Refused(code) from None
                if code in ("NotImplemented", "501"):
                    raise StoreError(self._no_conditional_writes()) from None
                raise

    def _put_with_stdlib(self, key: str, data: bytes, **condition: str) -> None:
        from ._sigv4 import S3ErrorResponse, S3TransportError

        assert self._reader is not None
        try:
            self._reader.put_object(
                self.bucket,
                self.prefix + key,
                data,
                if_none_match=condition.get("IfNoneMatch"),
                if_match=condition.get("IfMatch"),
                content_type="application/json" if key.endswith(".json") else None,
            )
        except S3ErrorResponse as exc:
            if exc.code in _PRECONDITION_FAILED | _CONFLICT:
                raise _Refused(exc.code) from None
            if exc.code in ("NotImplemented", "501"):
                raise StoreError(self._no_conditional_writes()) from None
            raise self._refusal("write", key, exc.code, exc.message) from None
        except S3TransportError as exc:
            raise self._unreachable("write", key, str(exc)) from None

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Turn every boto error into one StoreError line naming the URI and what to check."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message") or "no message"
            raise self._refusal(action, key, _code(exc), message) from None
        except BotoCoreError as exc:
            raise self._unreachable(action, key, str(exc)) from None

    def _refusal(self, action: str, key: str, code: str, message: str) -> StoreError:
        """The StoreError for an error answer from S3, the same whichever client got it."""
        if code == "NoSuchBucket":
            return StoreError(self._missing_bucket())
        if code in _DENIED:
            return StoreError(
                f"{self.uri}: S3 refused to {action} {key} ({code}); check the AWS credentials and their "
                "permissions on the bucket"
            )
        return StoreError(
            f"{self.uri}: cannot {action} {key}: S3 answered {code} ({message}); check the bucket and "
            "AWS_ENDPOINT_URL_S3"
        )

    def _unreachable(self, action: str, key: str, problem: str) -> StoreError:
        """The StoreError when no answer came back (connection refused, timeout, ...)."""
        return StoreError(
            f"{self.uri}: cannot {action} {key}: {problem}; check AWS_ENDPOINT_URL_S3, the credentials and the network"
        )

    def _no_conditional_writes(self) -> str:
        return (
            f"{self.uri}: the S3 server at {self._endpoint()} does not support conditional writes "
            "(If-None-Match / If-Match); use AWS S3 or a server that does (e.g. SeaweedFS >= 4)"
        )

    def _missing_bucket(self) -> str:
        return (
            f"{self.uri}: bucket {self.bucket!r} does not exist at {self._endpoint()}; create it or fix the store URI"
        )

    def _endpoint(self) -> str:
        if self._reader is not None:
            return self._reader.endpoint
        return str(self._client.meta.endpoint_url)


class _Refused(Exception):
    """A conditional PUT's precondition did not hold (an internal signal that never leaves this module)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _make_reader() -> S3Reader | None:
    from ._sigv4 import reader_from_environ  # about 10 ms (http.client, ssl): only S3 stores pay it

    try:
        return reader_from_environ(os.environ)
    except ValueError as exc:
        raise ConfigurationError(
            f"{exc}; fix AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL), e.g. http://127.0.0.1:9000"
        ) from None


def make_s3_client() -> Any:
    """A boto3 S3 client configured the standard way (endpoint, region, credentials), with short timeouts."""
    try:
        import boto3
        from botocore.config import Config
    except ModuleNotFoundError as exc:
        if exc.name in ("boto3", "botocore"):
            raise ModuleNotFoundError("S3 stores need boto3: pip install 'spam-classifier[s3]'", name="boto3") from None
        raise
    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.session.Session().client("s3", config=config)


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
