"""The HTTP API as one plain ASGI application: the same object runs under uvicorn and on AWS Lambda (Mangum).

    POST /predict       {"message": "..."} or {"messages": [...]}, optional "format": auto | text | email
    POST /feedback      {"message": "...", "label": "spam" | "ham"} or {"reports": [...]}: stored, answered 202
    GET  /health        is a model loaded, and which version
    GET  /model         the loaded model's manifest (version, created, metrics, ...)
    GET  /openapi.json  the OpenAPI 3.1 description of this API
    GET  /docs          a small self-contained page to try /predict from a browser

No web framework on purpose: on Lambda every import is paid at each cold start, and Starlette alone
cost about as much as the whole rest of the handler (docs/http-api.md, "Why no framework"). What a
framework would give us is here in a few small pieces: a routing table, a body reader that enforces
the size limit while reading, JSON responses, and one table mapping exceptions to HTTP statuses.

Logs are JSON lines with the request id, route, status, latency and label(s); never message text.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from .config import Settings
from .errors import ArtifactError, ModelNotFoundError, StoreError
from .feedback import LABELS, FeedbackReport, feedback_store_uri, new_report, record_feedback
from .scorer import Model
from .store import ModelStore, open_store

__all__ = ["ASGIApp", "Message", "ModelSourceProtocol", "Receive", "Scope", "Send", "configure_logging", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_logger = logging.getLogger("spam_classifier.app")

_FORMATS = ("auto", "text", "email")
_PREDICT_FIELDS = ("message", "messages", "format")
_REPORT_FIELDS = ("message", "label", "model_version", "spam_probability")
#: Routes that need the API key when one is configured; the rest hold no model data.
_PROTECTED_ROUTES = frozenset({"/predict", "/model"})
_CORS_REQUEST_HEADERS = "content-type, x-api-key, x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ModelSourceProtocol(Protocol):
    """Where the app gets its model: `spam_classifier.source.ModelSource`, or a stand-in in tests.

    ``refresh_if_due`` is called on every request, so it must be cheap when no reload is due and
    must never raise; a failed load leaves ``model`` as it was and records ``error``. With
    ``refresh_in_background`` the app calls ``due()`` on every request instead, and runs
    ``refresh_if_due`` in a worker thread only when it returns true.
    """

    @property
    def model(self) -> Model | None: ...

    @property
    def error(self) -> str | None: ...

    def refresh_if_due(self) -> None: ...

    def due(self) -> bool: ...


# --- errors: each class is one kind of failed request; _ERROR_STATUSES maps it to a status ----------------


class _RequestError(Exception):
    """Raised when a request cannot be served; extra response headers ride along (e.g. ``Allow``)."""

    def __init__(self, message: str, *, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.headers = headers


class _InvalidJSON(_RequestError):
    """Raised when the body is not valid JSON."""


class _InvalidRequest(_RequestError):
    """Raised when the JSON or a header does not have the expected fields and types."""


class _Unauthorized(_RequestError):
    """Raised when an API key is configured and the request lacks it or has a wrong one."""


class _NotFound(_RequestError):
    """Raised when no route has the request's path."""


class _MethodNotAllowed(_RequestError):
    """Raised when the route exists but not for the request's method."""


class _BodyTooLarge(_RequestError):
    """Raised when the body is longer than MAX_BODY_BYTES."""


class _MessageTooLarge(_RequestError):
    """Raised when one message is longer than MAX_MESSAGE_BYTES."""


class _BatchTooLarge(_RequestError):
    """Raised when a batch holds more than MAX_BATCH messages."""


class _UnsupportedMediaType(_RequestError):
    """Raised when the body is declared as something other than JSON."""


class _ModelUnavailable(_RequestError):
    """Raised when no model is loaded (yet, or any more)."""


class _FeedbackUnavailable(_RequestError):
    """Raised when feedback has no store to go to, or the store refused the write."""


class _Disconnected(Exception):
    """Raised when the client went away while its body was being read; nothing is sent back."""


#: The one place where exceptions become HTTP statuses: (exception class, status, error code), first match wins.
#: Anything else is a bug: 500 "internal_error", logged with its traceback.
_ERROR_STATUSES: tuple[tuple[type[Exception], int, str], ...] = (
    (_InvalidJSON, 400, "invalid_json"),
    (_InvalidRequest, 400, "invalid_request"),
    (_Unauthorized, 401, "unauthorized"),
    (_NotFound, 404, "not_found"),
    (_MethodNotAllowed, 405, "method_not_allowed"),
    (_BodyTooLarge, 413, "body_too_large"),
    (_MessageTooLarge, 413, "message_too_large"),
    (_BatchTooLarge, 413, "batch_too_large"),
    (_UnsupportedMediaType, 415, "unsupported_media_type"),
    (_ModelUnavailable, 503, "model_unavailable"),
    (_FeedbackUnavailable, 503, "feedback_unavailable"),
    (ModelNotFoundError, 503, "model_unavailable"),
    (ArtifactError, 503, "model_unavailable"),
    (StoreError, 503, "model_unavailable"),
)


# --- requests and responses ------------------------------------------------------------------------------


class _Request:
    """One HTTP request: decoded headers, plus the fields its log line will carry."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.receive = receive
        # str() because Mangum copies these from the Lambda event as they are: a malformed event's method can be
        # null or a number, which must end as a 405 like any other unknown method, not as a 500.
        self.method: str = str(scope["method"])
        self.path: str = str(scope["path"])
        self.headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            self.headers[key] = f"{self.headers[key]},{text}" if key in self.headers else text
        self.log: dict[str, Any] = {"request_id": _request_id(scope, self.headers), "method": self.method}


class _Response:
    """A complete response: status, body bytes and headers (lower-case names)."""

    def __init__(self, status: int, body: bytes = b"", *, content_type: str | None = None) -> None:
        self.status = status
        self.body = body
        self.headers: list[tuple[str, str]] = []
        if content_type:
            self.headers.append(("content-type", content_type))


def _json_response(status: int, value: Any) -> _Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return _Response(status, body, content_type="application/json")


def _request_id(scope: Scope, headers: dict[str, str]) -> str:
    given = headers.get("x-request-id", "")
    if _REQUEST_ID.match(given):
        return given
    context = scope.get("aws.context")  # set by Mangum: reuse Lambda's id so logs line up with its REPORT lines
    aws_request_id = getattr(context, "aws_request_id", None)
    if isinstance(aws_request_id, str) and _REQUEST_ID.match(aws_request_id):
        return aws_request_id
    return os.urandom(8).hex()


# --- the application -------------------------------------------------------------------------------------

_Handler = Callable[[_Request], Awaitable[_Response]]


class _App:
    """The ASGI callable returned by `create_app`."""

    def __init__(self, source: ModelSourceProtocol, settings: Settings, *, refresh_in_background: bool) -> None:
        self._source = source
        self._settings = settings
        self._refresh_in_background = refresh_in_background
        self._refreshing: asyncio.Future[None] | None = None
        self._routes: dict[str, dict[str, _Handler]] = {
            "/predict": {"POST": self._predict},
            "/feedback": {"POST": self._feedback},
            "/health": {"GET": self._health},
            "/model": {"GET": self._model},
            "/openapi.json": {"GET": self._openapi},
            "/docs": {"GET": self._docs},
        }
        self._allow = {path: _allow_header(methods) for path, methods in self._routes.items()}
        self._openapi_body = json.dumps(_openapi_document(settings), separators=(",", ":")).encode()
        self._api_key = settings.api_key.encode() if settings.api_key else None
        feedback_key = settings.feedback_api_key or settings.api_key
        self._feedback_api_key = feedback_key.encode() if feedback_key else None
        # Opened here so a bad FEEDBACK_URI fails at start-up; nothing is read or written until a report comes.
        store_uri = feedback_store_uri(settings.model_uri, settings.feedback_uri)
        self._feedback_store: ModelStore | None = None if store_uri is None else open_store(store_uri)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":  # websockets: refuse the handshake
            await receive()
            await send({"type": "websocket.close", "code": 1000})
            return
        started = time.perf_counter()
        request = _Request(scope, receive)
        try:
            response = await self._dispatch(request)
        except _Disconnected:
            self._log(request, 499, started)
            return
        except Exception as exc:  # noqa: BLE001 - the one place where errors become responses
            response = self._error_response(exc, request)
        self._add_common_headers(request, response)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers],
            }
        )
        await send({"type": "http.response.body", "body": b"" if request.method == "HEAD" else response.body})
        self._log(request, response.status, started)

    async def _dispatch(self, request: _Request) -> _Response:
        methods = self._routes.get(request.path)
        if methods is None:
            raise _NotFound(f"no route {request.method} {request.path[:200]}; see /docs for the API")
        request.log["route"] = request.path
        allow = self._allow[request.path]
        if request.method == "OPTIONS":
            return self._options(request, allow)
        handler = methods.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            raise _MethodNotAllowed(
                f"{request.path} does not accept {request.method[:20]}; allowed: {allow}", headers=(("allow", allow),)
            )
        if request.path == "/feedback":
            if self._feedback_api_key is not None:
                self._check_api_key(request, self._feedback_api_key)
        elif self._api_key is not None and request.path in _PROTECTED_ROUTES:
            self._check_api_key(request, self._api_key)
        self._refresh_model()
        return await handler(request)

    def _refresh_model(self) -> None:
        """Let the source follow its alias: inline, or in a worker thread when the app runs in a long-lived server.

        Inline suits Lambda: one request at a time per process, and the process is frozen as soon as
        the response is sent, so work left running in the background would stall until the next
        invocation. Under uvicorn a reload from S3 takes as long as the network does, and inline it
        would stall every request on the event loop; there the request that finds a refresh due
        starts it in a thread and is served by the current model, like everyone else until the swap.
        """
        if not self._refresh_in_background:
            self._source.refresh_if_due()
            return
        if (self._refreshing is not None and not self._refreshing.done()) or not self._source.due():
            return
        self._refreshing = asyncio.get_running_loop().run_in_executor(None, self._source.refresh_if_due)

    # --- routes ---

    async def _predict(self, request: _Request) -> _Response:
        _check_content_type(request)
        payload = _parse_json(await self._read_body(request))
        messages, message_format, batch = self._parse_predict(payload)
        model = self._loaded_model(request)
        predictions = [
            {
                "prediction": scored.label,
                "spam_probability": scored.spam_probability,
                "threshold": scored.threshold,
                "model_version": model.version,
            }
            for scored in model.score(messages, format=message_format)
        ]
        if not batch:
            request.log["label"] = predictions[0]["prediction"]
            return _json_response(200, predictions[0])
        labels = [prediction["prediction"] for prediction in predictions]
        request.log["labels"] = {"ham": labels.count("ham"), "spam": labels.count("spam")}
        return _json_response(200, {"predictions": predictions, "model_version": model.version})

    async def _feedback(self, request: _Request) -> _Response:
        _check_content_type(request)
        payload = _parse_json(await self._read_body(request))
        reports, batch = self._parse_feedback(payload)
        store = self._feedback_store
        if store is None:
            raise _FeedbackUnavailable(
                "feedback needs a model store: MODEL_URI names a packaged model or an artifact directory, not a "
                "store; set FEEDBACK_URI (a folder path or s3://bucket/prefix) or serve from a store"
            )
        try:
            if self._refresh_in_background:  # a long-lived server: keep the event loop free during the write
                results = await asyncio.get_running_loop().run_in_executor(None, record_feedback, store, reports)
            else:
                results = record_feedback(store, reports)
        except StoreError as exc:
            raise _FeedbackUnavailable(f"the report could not be stored: {exc}") from None
        labels = [report.label for report in reports]
        request.log["labels"] = {"ham": labels.count("ham"), "spam": labels.count("spam")}
        request.log["new"] = sum(new for _, new in results)
        receipts = [
            {"key": f"feedback/{name}", "label": report.label, "new": new}
            for (name, new), report in zip(results, reports, strict=True)
        ]
        return _json_response(202, {"reports": receipts} if batch else receipts[0])

    async def _health(self, request: _Request) -> _Response:
        model = self._loaded_model(request)
        health = {"status": "ok", "model_loaded": True, "model_version": model.version}
        return _json_response(200, {**health, "last_error": self._source.error})

    async def _model(self, request: _Request) -> _Response:
        return _json_response(200, self._loaded_model(request).manifest)

    async def _openapi(self, request: _Request) -> _Response:
        return _Response(200, self._openapi_body, content_type="application/json")

    async def _docs(self, request: _Request) -> _Response:
        response = _Response(200, _DOCS_PAGE, content_type="text/html; charset=utf-8")
        response.headers.append(("content-security-policy", _DOCS_CSP))
        return response

    def _options(self, request: _Request, allow: str) -> _Response:
        response = _Response(204)
        response.headers.append(("allow", allow))
        origin = request.headers.get("origin")
        if origin and "access-control-request-method" in request.headers and self._allowed_origin(origin):
            response.headers += [
                ("access-control-allow-methods", allow),
                ("access-control-allow-headers", _CORS_REQUEST_HEADERS),
                ("access-control-max-age", "600"),
            ]
        return response

    # --- request checks ---

    def _check_api_key(self, request: _Request, key: bytes) -> None:
        given = request.headers.get("x-api-key")
        if given is None:
            raise _Unauthorized("this API needs an X-API-Key header")
        if not hmac.compare_digest(given.encode("latin-1"), key):
            raise _Unauthorized("the X-API-Key header does not match")

    async def _read_body(self, request: _Request) -> bytes:
        """The whole body, refused with 413 as soon as it is known to exceed MAX_BODY_BYTES (before parsing)."""
        limit = self._settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                raise _InvalidRequest("the Content-Length header must be a whole number")
            if int(declared) > limit:
                raise _BodyTooLarge(f"the body is {int(declared)} bytes; the limit is {limit} bytes (MAX_BODY_BYTES)")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge(f"the body is over {limit} bytes, the limit (MAX_BODY_BYTES)")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _parse_predict(self, payload: Any) -> tuple[list[str], Any, bool]:
        """(messages, format, is_batch) from a /predict body, or the 400/413 that explains what is wrong."""
        if not isinstance(payload, dict):
            raise _InvalidRequest('the body must be a JSON object: {"message": "..."} or {"messages": ["...", ...]}')
        unknown = [repr(name[:40]) for name in payload if name not in _PREDICT_FIELDS]
        if unknown:
            raise _InvalidRequest(f"unknown field(s) {', '.join(unknown[:5])}; allowed: message, messages, format")
        if ("message" in payload) == ("messages" in payload):
            raise _InvalidRequest('send exactly one of "message" (a string) or "messages" (a list of strings)')
        message_format = payload.get("format", "auto")
        if not isinstance(message_format, str) or message_format not in _FORMATS:
            raise _InvalidRequest('"format" must be "auto", "text" or "email"')
        batch = "messages" in payload
        if batch:
            messages = payload["messages"]
            names = self._batch_names(messages, "messages", "strings")
        else:
            messages = [payload["message"]]
            names = ['"message"']
        for name, message in zip(names, messages, strict=True):
            self._check_message(name, message)
        return messages, message_format, batch

    def _parse_feedback(self, payload: Any) -> tuple[list[FeedbackReport], bool]:
        """(reports, is_batch) from a /feedback body, or the 400/413 that explains what is wrong."""
        if not isinstance(payload, dict):
            raise _InvalidRequest(
                'the body must be a JSON object: {"message": "...", "label": "spam"} or {"reports": [...]}'
            )
        batch = "reports" in payload
        if batch:
            if len(payload) > 1:
                raise _InvalidRequest('send either "reports" (a list of reports) or one report\'s fields, not both')
            items = payload["reports"]
            names = self._batch_names(items, "reports", "objects")
        else:
            items, names = [payload], ["the report"]
        return [self._parse_report(name, item) for name, item in zip(names, items, strict=True)], batch

    def _batch_names(self, items: Any, field: str, kind: str) -> list[str]:
        """How errors name each item of the batch `field`, once it is known to be a non-empty list within MAX_BATCH."""
        if not isinstance(items, list) or not items:
            raise _InvalidRequest(f'"{field}" must be a non-empty list of {kind}')
        if len(items) > self._settings.max_batch:
            raise _BatchTooLarge(
                f"{len(items)} {field} in one request; the limit is {self._settings.max_batch} (MAX_BATCH)"
            )
        return [f'"{field}"[{index}]' for index in range(len(items))]

    def _parse_report(self, name: str, item: Any) -> FeedbackReport:
        if not isinstance(item, dict):
            raise _InvalidRequest(f"{name} must be an object, not {_json_type(item)}")
        unknown = [repr(field[:40]) for field in item if field not in _REPORT_FIELDS]
        if unknown:
            raise _InvalidRequest(
                f"{name} has unknown field(s) {', '.join(unknown[:5])}; allowed: {', '.join(_REPORT_FIELDS)}"
            )
        for field in ("message", "label"):
            if field not in item:
                raise _InvalidRequest(f'{name} needs "{field}"')
        self._check_message(f'{name}: "message"', item["message"])
        if item["label"] not in LABELS:
            raise _InvalidRequest(f'{name}: "label" must be "spam" or "ham"')
        try:
            return new_report(
                item["message"],
                item["label"],
                model_version=item.get("model_version"),
                spam_probability=item.get("spam_probability"),
            )
        except ValueError as exc:
            raise _InvalidRequest(f"{name}: {exc}") from None

    def _check_message(self, name: str, message: Any) -> None:
        """400 unless `message` is a string, 413 if it is over MAX_MESSAGE_BYTES in UTF-8."""
        if not isinstance(message, str):
            raise _InvalidRequest(f"{name} must be a string, not {_json_type(message)}")
        limit = self._settings.max_message_bytes
        if len(message) * 4 <= limit:  # a str of n characters is at most 4n bytes: no need to encode
            return
        size = len(message.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise _MessageTooLarge(
                f"{name} is {size} bytes; the limit is {limit} bytes per message (MAX_MESSAGE_BYTES)"
            )

    def _loaded_model(self, request: _Request) -> Model:
        model = self._source.model
        if model is None:
            raise _ModelUnavailable(f"no model is loaded: {self._source.error or 'loading has not finished'}")
        request.log["model_version"] = model.version
        return model

    # --- responses and logs ---

    def _allowed_origin(self, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for `origin`, or None when CORS does not allow it."""
        origins = self._settings.cors_origins
        if origin in origins:
            return origin
        return "*" if "*" in origins else None

    def _add_common_headers(self, request: _Request, response: _Response) -> None:
        if response.status != 204:
            response.headers.append(("content-length", str(len(response.body))))
        response.headers.append(("x-request-id", request.log["request_id"]))
        response.headers.append(("x-content-type-options", "nosniff"))
        if not self._settings.cors_origins:
            return
        allowed = self._allowed_origin(request.headers.get("origin", ""))
        if allowed:
            response.headers.append(("access-control-allow-origin", allowed))
            response.headers.append(("access-control-expose-headers", "x-request-id"))
        if allowed != "*":
            response.headers.append(("vary", "origin"))

    def _error_response(self, exc: Exception, request: _Request) -> _Response:
        status, code = next(
            ((status, code) for error_class, status, code in _ERROR_STATUSES if isinstance(exc, error_class)),
            (500, "internal_error"),
        )
        if status == 500:
            request.log["traceback"] = _frames(exc)
        request.log["error"] = code
        message = "an unexpected error occurred; the server log has the details" if status == 500 else str(exc)
        response = _json_response(status, {"error": {"code": code, "message": message}})
        if isinstance(exc, _RequestError):
            response.headers += exc.headers
        return response

    def _log(self, request: _Request, status: int, started: float) -> None:
        fields = {
            **request.log,
            "route": request.log.get("route"),
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        _logger.log(logging.ERROR if status >= 500 else logging.INFO, "request", extra={"fields": fields})


def create_app(
    source: ModelSourceProtocol, settings: Settings | None = None, *, refresh_in_background: bool = False
) -> ASGIApp:
    """The HTTP API serving `source`'s model, as an ASGI application.

    `settings` defaults to ``Settings()`` (the built-in defaults, not the environment: callers that
    want the environment pass ``read_settings()``, so tests never depend on it).
    `refresh_in_background` runs a due model refresh in a worker thread instead of on the request
    (for a long-running server; Lambda keeps the default, see `_App._refresh_model`).
    """
    settings = settings if settings is not None else Settings()
    return _App(source, settings, refresh_in_background=refresh_in_background)


# --- logging ---------------------------------------------------------------------------------------------


class _JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["traceback"] = _frames(record.exc_info[1])
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", *, loggers: tuple[str, ...] = ("spam_classifier",)) -> None:
    """Send the named `loggers` to stdout as JSON lines at `level`; safe to call more than once."""
    for name in loggers:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        if not any(isinstance(handler.formatter, _JSONFormatter) for handler in logger.handlers):
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(_JSONFormatter())
            logger.addHandler(handler)


def _frames(exc: BaseException | None) -> list[str]:
    """Where `exc` was raised, without its message (which could quote a request)."""
    import traceback

    if exc is None:
        return []
    return [*traceback.format_tb(exc.__traceback__), type(exc).__qualname__]


# --- helpers ---------------------------------------------------------------------------------------------


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _allow_header(methods: dict[str, _Handler]) -> str:
    allowed = set(methods) | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
    return ", ".join(sorted(allowed))


def _check_content_type(request: _Request) -> None:
    """A missing Content-Type is read as JSON; a declared non-JSON one is refused (415)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if (
        media_type
        and media_type != "application/json"
        and not (media_type.startswith("application/") and media_type.endswith("+json"))
    ):
        raise _UnsupportedMediaType(
            f"send the body as JSON with Content-Type: application/json, not {media_type[:100]!r}"
        )


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        raise _InvalidJSON('the body is empty; send JSON like {"message": "..."}')
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise _InvalidJSON(f"the body is not valid JSON: {reason}") from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


# --- the OpenAPI document and the docs page ------------------------------------------------------------


def _openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 description, written by hand (there is no framework to generate it)."""

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    def error(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}

    def ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    secured = [{"ApiKey": []}] if settings.api_key else []
    feedback_secured = [{"ApiKey": []}] if settings.api_key or settings.feedback_api_key else []
    report_fields = {
        "message": {"type": "string", "minLength": 1, "description": "the message as received (SMS text or raw email)"},
        "label": {"type": "string", "enum": list(LABELS), "description": "what the message really is"},
        "model_version": {"type": "string", "maxLength": 128, "description": "the version that scored it, if any"},
        "spam_probability": {"type": "number", "minimum": 0, "maximum": 1, "description": "the score it was given"},
    }
    receipt_fields = {
        "key": {"type": "string", "description": "feedback/<sha256 of the folded message>/<label>.json"},
        "label": {"type": "string", "enum": list(LABELS)},
        "new": {"type": "boolean", "description": "false when the same report was already stored (it is refreshed)"},
    }
    prediction_fields = {
        "prediction": {"type": "string", "enum": ["ham", "spam"]},
        "spam_probability": {"type": "number", "minimum": 0, "maximum": 1},
        "threshold": {"type": "number", "description": "spam_probability >= threshold means spam"},
        "model_version": {"type": "string"},
    }
    message_format = {
        "type": "string",
        "enum": list(_FORMATS),
        "default": "auto",
        "description": "text: plain text (SMS); email: a raw RFC 822 email; auto: an email when it starts with headers",
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "spam-classifier",
            "version": "1",
            "description": "Classify SMS and email messages as spam or ham. Errors are JSON: "
            '{"error": {"code": "...", "message": "..."}}.',
        },
        "paths": {
            "/predict": {
                "post": {
                    "summary": "Classify one message or a batch",
                    "operationId": "predict",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [ref("PredictRequest"), ref("BatchPredictRequest")]},
                                "examples": {
                                    "one": {"value": {"message": "WINNER!! Claim your free prize now"}},
                                    "batch": {"value": {"messages": ["Lunch at noon?", "Free entry, text WIN"]}},
                                },
                            }
                        },
                    },
                    "responses": {
                        "200": ok("The prediction(s)", {"oneOf": [ref("Prediction"), ref("BatchPrediction")]}),
                        "400": error("Invalid JSON or fields"),
                        "401": error("Missing or wrong X-API-Key"),
                        "413": error(
                            f"Body over {settings.max_body_bytes} bytes, a message over "
                            f"{settings.max_message_bytes} bytes, or more than {settings.max_batch} messages"
                        ),
                        "415": error("Content-Type is not application/json"),
                        "503": error("No model is loaded"),
                    },
                }
            },
            "/feedback": {
                "post": {
                    "summary": "Report the true label of one message or a batch (stored for retraining)",
                    "description": "Each report is stored once per message and label in the store's feedback/ "
                    "area; the same report twice is one object, and a changed label is a later report that wins. "
                    "Needs FEEDBACK_API_KEY, else API_KEY, when one is set.",
                    "operationId": "feedback",
                    "security": feedback_secured,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [ref("FeedbackReport"), ref("BatchFeedbackRequest")]},
                                "examples": {
                                    "one": {"value": {"message": "WINNER!! Claim your prize", "label": "spam"}},
                                    "batch": {
                                        "value": {
                                            "reports": [
                                                {"message": "Lunch at noon?", "label": "ham"},
                                                {"message": "Free entry, text WIN", "label": "spam"},
                                            ]
                                        }
                                    },
                                },
                            }
                        },
                    },
                    "responses": {
                        "202": ok("Stored", {"oneOf": [ref("FeedbackReceipt"), ref("BatchFeedbackReceipt")]}),
                        "400": error("Invalid JSON or fields"),
                        "401": error("Missing or wrong X-API-Key"),
                        "413": error(
                            f"Body over {settings.max_body_bytes} bytes, a message over "
                            f"{settings.max_message_bytes} bytes, or more than {settings.max_batch} reports"
                        ),
                        "415": error("Content-Type is not application/json"),
                        "503": error("No feedback store is configured (FEEDBACK_URI), or it refused the write"),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Whether a model is loaded, and which version",
                    "operationId": "health",
                    "responses": {"200": ok("A model is loaded", ref("Health")), "503": error("No model is loaded")},
                }
            },
            "/model": {
                "get": {
                    "summary": "The loaded model's manifest: version, created, metrics, training data, file checksums",
                    "operationId": "model",
                    "security": secured,
                    "responses": {
                        "200": ok("The manifest", {"type": "object", "required": ["version"]}),
                        "401": error("Missing or wrong X-API-Key"),
                        "503": error("No model is loaded"),
                    },
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": ok("OpenAPI 3.1", {"type": "object"})}}
            },
            "/docs": {
                "get": {
                    "summary": "A page to try the API from a browser",
                    "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
                }
            },
        },
        "components": {
            "schemas": {
                "PredictRequest": {
                    "type": "object",
                    "required": ["message"],
                    "additionalProperties": False,
                    "properties": {"message": {"type": "string"}, "format": message_format},
                },
                "BatchPredictRequest": {
                    "type": "object",
                    "required": ["messages"],
                    "additionalProperties": False,
                    "properties": {
                        "messages": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 1,
                            "maxItems": settings.max_batch,
                        },
                        "format": message_format,
                    },
                },
                "Prediction": {
                    "type": "object",
                    "required": list(prediction_fields),
                    "properties": prediction_fields,
                },
                "BatchPrediction": {
                    "type": "object",
                    "required": ["predictions", "model_version"],
                    "properties": {
                        "predictions": {"type": "array", "items": ref("Prediction")},
                        "model_version": {"type": "string"},
                    },
                },
                "FeedbackReport": {
                    "type": "object",
                    "required": ["message", "label"],
                    "additionalProperties": False,
                    "properties": report_fields,
                },
                "BatchFeedbackRequest": {
                    "type": "object",
                    "required": ["reports"],
                    "additionalProperties": False,
                    "properties": {
                        "reports": {
                            "type": "array",
                            "items": ref("FeedbackReport"),
                            "minItems": 1,
                            "maxItems": settings.max_batch,
                        }
                    },
                },
                "FeedbackReceipt": {"type": "object", "required": list(receipt_fields), "properties": receipt_fields},
                "BatchFeedbackReceipt": {
                    "type": "object",
                    "required": ["reports"],
                    "properties": {"reports": {"type": "array", "items": ref("FeedbackReceipt")}},
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "model_loaded", "model_version", "last_error"],
                    "properties": {
                        "status": {"const": "ok"},
                        "model_loaded": {"type": "boolean"},
                        "model_version": {"type": "string"},
                        "last_error": {
                            "type": ["string", "null"],
                            "description": "why the last reload failed (the loaded model keeps serving)",
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {
                                    "type": "string",
                                    "enum": sorted({code for _, _, code in _ERROR_STATUSES} | {"internal_error"}),
                                },
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
            },
        },
    }
    if settings.api_key or settings.feedback_api_key:
        document["components"]["securitySchemes"] = {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    return document


_DOCS_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"

_DOCS_PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spam-classifier API</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
textarea, input, select, button { font: inherit; }
textarea { width: 100%; box-sizing: border-box; }
pre { background: #f4f4f4; padding: .75rem; overflow-x: auto; white-space: pre-wrap; }
code { background: #f4f4f4; padding: 0 .2rem; }
label { margin-right: 1rem; }
</style>
</head>
<body>
<h1>spam-classifier</h1>
<p>Classify a message as <b>spam</b> or <b>ham</b>. The form sends <code>POST predict</code> with a JSON body;
see <a href="openapi.json">openapi.json</a> for the whole API, <a href="health">health</a> and
<a href="model">model</a>.</p>
<form id="form">
<p><textarea id="message" rows="8" placeholder="Paste an SMS or a raw email (headers included)"
>WINNER!! Claim your free prize now</textarea></p>
<p>
<label>Format <select id="format"><option>auto</option><option>text</option><option>email</option></select></label>
<label><input type="checkbox" id="batch"> one message per line (batch)</label>
<label>X-API-Key <input id="key" type="password" size="16" autocomplete="off"></label>
<button type="submit">Predict</button>
</p>
</form>
<p>Request</p><pre id="request"></pre>
<p>Response <span id="status"></span></p><pre id="response"></pre>
<script>
document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("message").value;
  const body = {format: document.getElementById("format").value};
  if (document.getElementById("batch").checked) {
    body.messages = text.split("\\n").filter((line) => line.trim() !== "");
  } else {
    body.message = text;
  }
  const headers = {"Content-Type": "application/json"};
  const key = document.getElementById("key").value;
  if (key) headers["X-API-Key"] = key;
  document.getElementById("request").textContent = JSON.stringify(body, null, 2);
  const out = document.getElementById("response");
  try {
    const response = await fetch("predict", {method: "POST", headers, body: JSON.stringify(body)});
    document.getElementById("status").textContent = response.status + " " + response.statusText;
    out.textContent = JSON.stringify(await response.json(), null, 2);
  } catch (error) {
    out.textContent = String(error);
  }
});
</script>
</body>
</html>
"""
