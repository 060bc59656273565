"""A small S3 GET/PUT client on the standard library (AWS Signature Version 4), so serving needs no boto3.

The serving path only reads known keys: the alias with ``If-None-Match``, then a version's
``manifest.json`` and ``model.json``; and it writes one kind: a feedback report, with a PUT to a key
it names itself (``If-None-Match: *`` to learn whether it is new). Importing boto3 and building a client
costs about 340 ms of a Lambda cold start; signing a request by hand costs well under a millisecond.
`reader_from_environ` returns a reader only when the environment has everything it needs (static keys
and a region, as Lambda provides), else None, and the S3 store falls back to boto3.

Exceptions:

    S3RequestError          a GET or PUT failed; ``str()`` is one line naming the URL
     ├── S3ErrorResponse    S3 answered an error status: ``.status``, ``.code`` (from the XML body), ``.message``
     └── S3TransportError   no usable answer: refused, timed out, closed early, body over the size limit
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import random
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

__all__ = [
    "EMPTY_SHA256",
    "MAX_BODY_BYTES",
    "Credentials",
    "S3ErrorResponse",
    "S3Reader",
    "S3RequestError",
    "S3TransportError",
    "canonical_query",
    "canonical_uri",
    "reader_from_environ",
    "sign",
]

#: The sha256 of an empty body: the signed payload hash of every GET.
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: The largest object body `S3Reader.get_object` accepts (model files are well under 1 MB).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: The same limits and attempts as the boto3 client of the S3 store.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
_ATTEMPTS = 3
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ERROR_BODY_BYTES = 64 * 1024
#: Reuse a connection only this long after its last answer; S3 closes idle ones after about 20 s.
_KEEP_ALIVE_SECONDS = 15.0
#: Settings boto3 honours that this reader does not implement: when one is set, `reader_from_environ` declines.
_UNSUPPORTED = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_UNSUPPORTED_FLAGS = ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_S3_USE_ACCELERATE_ENDPOINT")


@dataclass(frozen=True)
class Credentials:
    """Static AWS credentials; `session_token` is set for temporary ones (as on Lambda)."""

    access_key: str
    secret_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r}, secret_key='***', session_token=...)"


class S3RequestError(Exception):
    """Raised when a GET or PUT fails; the message is one line naming the URL."""


class S3ErrorResponse(S3RequestError):
    """Raised when S3 answers an error status; `code` is the S3 error code, or the status when there is none."""

    def __init__(self, url: str, status: int, code: str, message: str, *, method: str = "GET") -> None:
        super().__init__(f"{method} {url} answered {status} {code} ({message})")
        self.url, self.status, self.code, self.message = url, status, code, message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class S3TransportError(S3RequestError):
    """Raised when no usable answer came back: refused, timed out, closed early, or a body over the limit."""


def canonical_uri(path: str) -> str:
    """`path` as SigV4 signs it for S3: every ``/``-separated segment percent-encoded once, ``/`` kept.

    >>> canonical_uri("/bucket/models/a b/ü+~.json")
    '/bucket/models/a%20b/%C3%BC%2B~.json'
    """
    return "/".join(quote(segment, safe="-_.~") for segment in path.split("/"))


def canonical_query(params: Mapping[str, str]) -> str:
    """The SigV4 canonical query string: names and values percent-encoded, sorted by encoded name.

    >>> canonical_query({"versionId": "a/b", "acl": ""})
    'acl=&versionId=a%2Fb'
    """
    pairs = sorted((quote(name, safe="-_.~"), quote(value, safe="-_.~")) for name, value in params.items())
    return "&".join(f"{name}={value}" for name, value in pairs)


def sign(
    method: str,
    path: str,
    headers: Mapping[str, str],
    *,
    credentials: Credentials,
    region: str,
    now: datetime,
    query: Mapping[str, str] | None = None,
    payload_hash: str = EMPTY_SHA256,
) -> dict[str, str]:
    """`headers` plus the SigV4 headers for an S3 request: x-amz-date, x-amz-content-sha256, Authorization.

    `path` is the encoded request path (see `canonical_uri`); `headers` must include ``Host``. Every
    header given is signed, and so is ``x-amz-security-token`` when the credentials have a session token.
    """
    amz_date = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    signed = {**headers, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    canonical = {name.lower(): " ".join(str(value).split()) for name, value in signed.items()}
    names = sorted(canonical)
    canonical_request = "\n".join(
        [
            method,
            path,
            canonical_query(query or {}),
            *(f"{name}:{canonical[name]}" for name in names),
            "",
            ";".join(names),
            payload_hash,
        ]
    )
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    signed["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope},"
        f"SignedHeaders={';'.join(names)},Signature={signature}"
    )
    return signed


def reader_from_environ(environ: Mapping[str, str]) -> S3Reader | None:
    """An `S3Reader` configured from AWS's standard variables, or None if boto3 is needed instead.

    Needs ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_REGION`` or ``AWS_DEFAULT_REGION``;
    uses ``AWS_SESSION_TOKEN``, ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) and ``AWS_CA_BUNDLE``.
    Declines (None) without them, or when a proxy, FIPS, dual-stack or accelerate endpoint is configured.
    Raises ValueError for an endpoint URL that is not http(s).
    """
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
    if not (access_key and secret_key and region):
        return None
    if any(environ.get(name) for name in _UNSUPPORTED) or any(
        environ.get(name, "").lower() == "true" for name in _UNSUPPORTED_FLAGS
    ):
        return None
    endpoint = None
    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true":
        endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None
    return S3Reader(
        Credentials(access_key, secret_key, environ.get("AWS_SESSION_TOKEN") or None),
        region=region,
        endpoint_url=endpoint,
        ca_bundle=environ.get("AWS_CA_BUNDLE") or None,
    )


class S3Reader:
    """Signed GETs (and PUTs) of S3 objects over one kept-alive connection (per host), safe to share between threads.

    With `endpoint_url` (a local S3 server, say) URLs are path-style, ``<endpoint>/<bucket>/<key>``;
    without it they are AWS's regional virtual-hosted ``https://<bucket>.s3.<region>.amazonaws.com/<key>``
    (path-style on ``s3.<region>.amazonaws.com`` for bucket names with dots, which TLS cannot match).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        region: str,
        endpoint_url: str | None = None,
        ca_bundle: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._connection_for: tuple[str, str] | None = None
        self._last_used = 0.0
        self._ssl_context: ssl.SSLContext | None = None
        self.credentials = credentials
        self.region = region
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self.ca_bundle = ca_bundle
        self.max_body_bytes = max_body_bytes
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise ValueError(f"{endpoint_url!r} is not an http:// or https:// endpoint URL")

    def __del__(self) -> None:
        self._drop()  # no lock needed: nothing else holds the reader any more

    def __repr__(self) -> str:
        return f"<S3Reader {self.endpoint} region={self.region!r}>"

    @property
    def endpoint(self) -> str:
        """The endpoint, for messages: the configured URL, or AWS's regional S3 endpoint."""
        return self.endpoint_url or f"https://s3.{self.region}.amazonaws.com"

    def url(self, bucket: str, key: str) -> tuple[str, str, str]:
        """``(scheme, host[:port], encoded path)`` of `key` in `bucket`."""
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            return parts.scheme, parts.netloc, canonical_uri(f"{parts.path}/{bucket}/{key}")
        if "." in bucket:
            return "https", f"s3.{self.region}.amazonaws.com", canonical_uri(f"/{bucket}/{key}")
        return "https", f"{bucket}.s3.{self.region}.amazonaws.com", canonical_uri(f"/{key}")

    def get_object(self, bucket: str, key: str, *, if_none_match: str | None = None) -> tuple[int, bytes, str]:
        """``(200, body, etag)``, or ``(304, b"", etag)`` when `if_none_match` still matches.

        Retries refused connections, timeouts and 429/5xx answers (3 attempts in all, short jittered
        backoff); raises S3ErrorResponse for any other status and S3TransportError when nothing usable came back.
        """
        headers = {} if if_none_match is None else {"If-None-Match": if_none_match}
        status, body, etag = self._request("GET", bucket, key, headers, b"")
        if status == 304:
            return 304, b"", etag or if_none_match or ""
        return status, body, etag

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        if_none_match: str | None = None,
        if_match: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """Write `body` to `key` and return its etag; ``if_none_match="*"`` writes only if `key` is absent.

        A failed condition raises S3ErrorResponse with status 412 (``PreconditionFailed``). Retries as
        `get_object` does; a PUT is safe to repeat, except that a retried conditional PUT whose first
        attempt landed answers 412.
        """
        headers = {"Content-Length": str(len(body))}
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
        if if_match is not None:
            headers["If-Match"] = if_match
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self._request("PUT", bucket, key, headers, body)[2]

    def _request(
        self, method: str, bucket: str, key: str, extra_headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, str]:
        scheme, host, path = self.url(bucket, key)
        target = f"{scheme}://{host}{path}"
        payload_hash = EMPTY_SHA256 if not body else hashlib.sha256(body).hexdigest()
        error: S3RequestError | None = None
        for attempt in range(_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0.5, 1.0) * 0.05 * 2**attempt)
            headers = sign(
                method,
                path,
                {"Host": host, **extra_headers},
                credentials=self.credentials,
                region=self.region,
                now=_now(),
                payload_hash=payload_hash,
            )
            try:
                status, reason, etag, answer = self._exchange(method, scheme, host, path, headers, body, target)
            except S3TransportError as exc:
                error = exc
                if isinstance(exc.__cause__, ssl.SSLError):
                    break
                continue
            if status in (200, 304):
                return status, answer, etag
            code, message = _parse_error(answer, status, reason)
            error = S3ErrorResponse(target, status, code, message, method=method)
            if status not in _RETRY_STATUSES:
                break
        assert error is not None
        raise error

    def close(self) -> None:
        """Close the kept-alive connection, if any."""
        with self._lock:
            self._drop()

    # -- one request and its answer ------------------------------------------------------------------------------

    def _exchange(
        self, method: str, scheme: str, host: str, path: str, headers: dict[str, str], body: bytes, target: str
    ) -> tuple[int, str, str, bytes]:
        with self._lock:
            reused = self._kept_alive(scheme, host)
            try:
                return self._send(method, scheme, host, path, headers, body, target)
            except S3TransportError as exc:
                self._drop()
                if not reused or isinstance(exc.__cause__, TimeoutError):
                    raise
            # the kept-alive connection had gone stale
            return self._send(method, scheme, host, path, headers, body, target)

    def _send(
        self, method: str, scheme: str, host: str, path: str, headers: dict[str, str], body: bytes, target: str
    ) -> tuple[int, str, str, bytes]:
        connection = self._connect(scheme, host, target)
        try:
            connection.putrequest(method, path, skip_host=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
            limit = self.max_body_bytes if response.status == 200 else _ERROR_BODY_BYTES
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > limit and response.status == 200:
                raise _TooLarge
            body = response.read(limit + 1)
            if len(body) > limit:
                if response.status == 200:
                    raise _TooLarge
                body = body[:limit]
            if not response.isclosed():
                self._drop()  # an error body longer than we read: the connection cannot be reused
        except _TooLarge:
            self._drop()
            raise S3TransportError(
                f"{target} is larger than {self.max_body_bytes} bytes; refusing to read it"
            ) from None
        except TimeoutError as exc:
            raise S3TransportError(f'Read timeout on endpoint URL: "{target}"') from exc
        except (OSError, http.client.HTTPException) as exc:
            raise S3TransportError(
                f'Connection was closed before we received a valid response from endpoint URL: "{target}"'
            ) from exc
        self._last_used = time.monotonic()
        return response.status, response.reason, response.getheader("ETag") or "", body

    def _connect(self, scheme: str, host: str, target: str) -> http.client.HTTPConnection:
        if self._kept_alive(scheme, host):
            assert self._connection is not None
            return self._connection
        self._drop()
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context(cafile=self.ca_bundle)
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, timeout=CONNECT_TIMEOUT, context=self._ssl_context
            )
        else:
            connection = http.client.HTTPConnection(host, timeout=CONNECT_TIMEOUT)
        try:
            connection.connect()
        except ssl.SSLError as exc:
            raise S3TransportError(f"SSL validation failed for {target} {exc}") from exc
        except TimeoutError as exc:
            raise S3TransportError(f'Connect timeout on endpoint URL: "{target}"') from exc
        except OSError as exc:
            raise S3TransportError(f'Could not connect to the endpoint URL: "{target}"') from exc
        assert connection.sock is not None
        connection.sock.settimeout(READ_TIMEOUT)
        self._connection, self._connection_for = connection, (scheme, host)
        return connection

    def _kept_alive(self, scheme: str, host: str) -> bool:
        """Whether an open connection to `host` is kept (http.client drops the socket after ``Connection: close``)."""
        return (
            self._connection is not None
            and self._connection.sock is not None
            and self._connection_for == (scheme, host)
            and time.monotonic() - self._last_used < _KEEP_ALIVE_SECONDS
        )

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._connection_for = None


class _TooLarge(Exception):
    """The body is over the size limit (an internal signal that never leaves this module)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_error(body: bytes, status: int, reason: str) -> tuple[str, str]:
    """``(code, message)`` from an S3 XML error body; the status and reason when there is none (e.g. HEAD, 304)."""
    from xml.etree import ElementTree  # only error answers need it

    try:
        root = ElementTree.fromstring(body) if body.strip() else None
    except ElementTree.ParseError:
        root = None
    fields: dict[str, str] = {}
    if root is not None:
        for child in root:
            fields[child.tag.rpartition("}")[2]] = (child.text or "").strip()
    return fields.get("Code") or str(status), fields.get("Message") or reason or "no message"
