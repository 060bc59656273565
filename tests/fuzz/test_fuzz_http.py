"""Fuzzing the HTTP API in-process through its ASGI interface: random and malformed JSON, bytes, headers and bodies.

Whatever a client sends, the app must answer: never a 5xx while a model is loaded, never an exception out of the
ASGI callable, every 4xx in the documented shape ``{"error": {"code", "message"}}`` with a code documented for
that status, and every 200 with the documented fields. The cases are derandomized, so CI runs the same ones every
time; docs/reliability.md has the counts and the run time. `check_reply` is shared with the other fuzz modules.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import HAM_DOCS, SPAM_DOCS, make_test_artifact
from spam_classifier.app import create_app
from spam_classifier.config import Settings
from spam_classifier.source import ModelSource

#: Reproducible in CI: derandomized (a fixed seed per test), no example database, no per-example deadline.
_FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def fuzz(cases: int) -> settings:
    """The fuzzing settings, running `cases` generated examples."""
    return settings(_FUZZ, max_examples=cases)


#: The documented error codes of each 4xx status (docs/http-api.md, "Errors").
ERROR_CODES = {
    400: {"invalid_json", "invalid_request"},
    401: {"unauthorized"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    413: {"body_too_large", "message_too_large", "batch_too_large"},
    415: {"unsupported_media_type"},
}
PREDICTION_FIELDS = {"prediction", "spam_probability", "threshold", "model_version"}
API_KEY = "fuzz-key-0123456789"
ROUTES = ["/predict", "/health", "/model", "/openapi.json", "/docs"]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "PROPFIND"]


def check_prediction(prediction: Any) -> None:
    assert isinstance(prediction, dict) and set(prediction) == PREDICTION_FIELDS, prediction
    assert prediction["prediction"] in ("ham", "spam")
    probability = prediction["spam_probability"]
    assert isinstance(probability, float) and 0.0 <= probability <= 1.0 and math.isfinite(probability)
    assert prediction["prediction"] == ("spam" if probability >= prediction["threshold"] else "ham")
    assert isinstance(prediction["model_version"], str)


def check_reply(status: int, headers: dict[str, str], body: bytes, *, method: str, path: str | None = None) -> None:
    """The documented contract of any response: no 5xx, JSON errors with a known code, complete 200 bodies.

    `path` is the route asked for, or None when it is not known (a mutated Lambda event); then the 200 body must
    have the shape of one of the routes.
    """
    assert 200 <= status < 500, (status, body[:300])
    if method == "HEAD" or status == 204:
        assert body == b""
        return
    if status >= 400:
        assert headers.get("content-type") == "application/json", headers
        document = json.loads(body)
        assert set(document) == {"error"} and set(document["error"]) == {"code", "message"}, document
        assert document["error"]["code"] in ERROR_CODES[status], (status, document)
        assert isinstance(document["error"]["message"], str) and document["error"]["message"]
        return
    if status == 202:  # feedback stored: one receipt, or {"reports": [...]}
        assert path in ("/feedback", None)
        document = json.loads(body)
        for receipt in document.get("reports", [document]):
            assert set(receipt) == {"key", "label", "new"} and receipt["label"] in ("ham", "spam"), receipt
        return
    assert status == 200, status
    if headers.get("content-type", "").startswith("text/html"):
        assert path in ("/docs", None)
        return
    document = json.loads(body)
    if "predictions" in document:
        assert path in ("/predict", None) and set(document) == {"predictions", "model_version"}
        assert document["predictions"], document
        for prediction in document["predictions"]:
            check_prediction(prediction)
    elif "prediction" in document:
        assert path in ("/predict", None)
        check_prediction(document)
    elif "status" in document:
        assert path in ("/health", None)
        assert set(document) == {"status", "model_loaded", "model_version", "last_error"}
        assert (document["status"], document["model_loaded"]) == ("ok", True)
    elif "openapi" in document:
        assert path in ("/openapi.json", None) and document["openapi"] == "3.1.0"
    else:
        assert path in ("/model", None)
        assert isinstance(document["version"], str) and "files" in document


class AsgiClient:
    """Runs requests through an ASGI app on one private event loop (much faster than asyncio.run per request)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.close()

    def request(
        self,
        app: Any,
        method: str,
        path: str,
        *,
        headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
        chunks: list[bytes] = (),  # type: ignore[assignment]
    ) -> tuple[int, dict[str, str], bytes, int]:
        """(status, headers, body, bytes of the request body the app pulled in)."""
        pending = [
            {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
            for index, chunk in enumerate(chunks or [b""])
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf-8", "surrogatepass"),
            "query_string": b"",
            "headers": list(headers),
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent: list[dict[str, Any]] = []
        pulled = 0

        async def receive() -> dict[str, Any]:
            nonlocal pulled
            if not pending:
                return {"type": "http.disconnect"}
            message = pending.pop(0)
            pulled += len(message["body"])
            return message

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(app(scope, receive, send))
        if not sent:  # the client went away mid-body: nothing to send, which is allowed
            return 0, {}, b"", pulled
        start, *bodies = sent
        assert start["type"] == "http.response.start"
        assert all(part["type"] == "http.response.body" for part in bodies)
        reply_headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in start["headers"]}
        assert len(reply_headers) == len(start["headers"]), "a header was sent twice"
        assert "x-request-id" in reply_headers
        return start["status"], reply_headers, b"".join(part.get("body", b"") for part in bodies), pulled


@pytest.fixture(scope="module")
def client() -> Iterator[AsgiClient]:
    client = AsgiClient()
    yield client
    client.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> ModelSource:
    directory = tmp_path_factory.mktemp("fuzz-http") / "artifact"
    make_test_artifact(directory)
    source = ModelSource(str(directory), reload_seconds=0)
    assert source.model is not None
    return source


@pytest.fixture(scope="module")
def apps(source: ModelSource) -> dict[str, Any]:
    """The app under several configurations; the fuzzers pick one per case."""
    return {
        "default": create_app(source, Settings()),
        "keyed": create_app(source, Settings(api_key=API_KEY)),
        "cors": create_app(source, Settings(cors_origins=("https://app.example.com",))),
        "tight": create_app(source, Settings(max_body_bytes=2048, max_message_bytes=256, max_batch=3)),
    }


def post_json(client: AsgiClient, app: Any, body: bytes, *, content_type: bytes = b"application/json") -> tuple:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    return client.request(app, "POST", "/predict", headers=headers, chunks=[body])


# --- random JSON bodies for /predict --------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(SPAM_DOCS + HAM_DOCS + ["", " ", "\x00", "\ud800", "From: a\nSubject: b\n\nc"])
)
_json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
_formats = st.sampled_from(["auto", "text", "email"]) | st.sampled_from(["", "EMAIL", "html", None]) | _json_values
_message_lists = st.lists(st.text(max_size=200) | _scalars, min_size=0, max_size=6) | st.lists(
    st.sampled_from(SPAM_DOCS + HAM_DOCS), min_size=95, max_size=110
)
_predict_payloads = st.one_of(
    _json_values,
    st.fixed_dictionaries({"message": st.text(max_size=500)}, optional={"format": _formats}),
    st.fixed_dictionaries({"messages": _message_lists}, optional={"format": _formats}),
    st.fixed_dictionaries(
        {},
        optional={
            "message": _json_values,
            "messages": _message_lists | _json_values,
            "format": _formats,
            "mesage": _json_values,
            "": _json_values,
        },
    ),
)


@fuzz(2000)
@given(payload=_predict_payloads, app_name=st.sampled_from(["default", "tight"]), ascii_only=st.booleans())
def test_fuzz_predict_json_payloads(
    client: AsgiClient, apps: dict[str, Any], payload: Any, app_name: str, ascii_only: bool
) -> None:
    body = json.dumps(payload, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    status, headers, reply, _ = post_json(client, apps[app_name], body)
    check_reply(status, headers, reply, method="POST", path="/predict")
    if app_name == "default" and isinstance(payload, dict) and set(payload) == {"message"}:
        assert status == (200 if isinstance(payload["message"], str) else 400)  # any string at all is scored


# --- malformed bytes: invalid UTF-8, truncated and mutated JSON, odd content types ------------------------

_valid_bodies = st.sampled_from(
    [
        b'{"message": "WINNER!! claim your free prize"}',
        b'{"messages": ["lunch at noon?", "free cash"], "format": "text"}',
        b'{"message": "From: x@example.com\\nSubject: hi\\n\\nbody", "format": "email"}',
    ]
)


@st.composite
def _mutated_json(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(_valid_bodies))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, max(len(body) - 1, 0)))
        if action == "flip" and body:
            body[position] = draw(st.integers(0, 255))
        elif action == "insert":
            body[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and body:
            del body[position]
        else:
            del body[position:]
    return bytes(body)


_invalid_utf8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80"])
_raw_bodies = st.one_of(
    st.binary(max_size=300),
    _mutated_json(),
    st.builds(
        lambda junk: b'{"message": "' + junk + b'"}', st.lists(_invalid_utf8 | st.binary(max_size=4)).map(b"".join)
    ),
    st.builds(
        lambda bom, body: bom + body, st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]), _valid_bodies
    ),
    st.sampled_from([b"", b" ", b"\n\t", b"null", b"[]", b"{}", b'"x"', b"1e999", b"NaN", b"-Infinity", b'{"a"']),
    st.builds(lambda body: body.decode().encode("utf-16"), _valid_bodies),
)
_content_types = st.sampled_from(
    [
        b"application/json",
        b"application/json; charset=utf-8",
        b"APPLICATION/JSON",
        b"application/vnd.api+json",
        b"text/plain",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"",
        b";",
        b"application/json;;;",
        b"\xff\xfe",
    ]
)


@fuzz(1500)
@given(body=_raw_bodies, content_type=_content_types, app_name=st.sampled_from(["default", "tight"]))
def test_fuzz_predict_malformed_bytes(
    client: AsgiClient, apps: dict[str, Any], body: bytes, content_type: bytes, app_name: str
) -> None:
    status, headers, reply, _ = post_json(client, apps[app_name], body, content_type=content_type)
    check_reply(status, headers, reply, method="POST", path="/predict")


# --- random requests: methods, paths, headers, chunking, every configuration ----------------------------

_header_names = st.sampled_from(
    [b"content-type", b"content-length", b"x-api-key", b"x-request-id", b"origin", b"access-control-request-method"]
) | st.binary(min_size=1, max_size=20)
_header_values = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"application/json", b"-1", b"0", b"99999999999999999999", b"1e3", b" 12", b"\xd9\xa3"]),
    st.sampled_from([API_KEY.encode(), b"https://app.example.com", b"POST", b"null", b"*"]),
)
_paths = (
    st.sampled_from(ROUTES)
    | st.sampled_from(["/", "//predict", "/predict/", "/PREDICT", "/health?x=1"])
    | st.text(max_size=30)
)


@fuzz(1500)
@given(
    app_name=st.sampled_from(["default", "keyed", "cors", "tight"]),
    method=st.sampled_from(METHODS) | st.text(max_size=10),
    path=_paths,
    headers=st.lists(st.tuples(_header_names, _header_values), max_size=8),
    body=_valid_bodies | _raw_bodies,
    splits=st.lists(st.integers(0, 400), max_size=5),
)
def test_fuzz_any_request(
    client: AsgiClient,
    apps: dict[str, Any],
    app_name: str,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    splits: list[int],
) -> None:
    cuts = sorted({min(cut, len(body)) for cut in splits})
    chunks = [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    status, reply_headers, reply, _ = client.request(apps[app_name], method, path, headers=headers, chunks=chunks)
    if status == 0:  # a Content-Length that promised more than was sent: the app read to the disconnect
        return
    check_reply(status, reply_headers, reply, method=method, path=path)
    if app_name == "keyed" and path in ("/predict", "/model") and status == 200:
        assert (b"x-api-key", API_KEY.encode()) in [(name.lower(), value) for name, value in headers]


# --- extremes: deep nesting, huge strings, the limits themselves -----------------------------------------


def _nested(depth: int, *, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("100k nested arrays", _nested(100_000, kind="array"), 400, "invalid_json"),
        ("100k nested objects", _nested(100_000, kind="object"), 400, "invalid_json"),
        ("100k nested arrays in message", b'{"message": ' + _nested(100_000, kind="array") + b"}", 400, "invalid_json"),
        ("100 nested arrays in messages", b'{"messages": ' + _nested(100, kind="array") + b"}", 400, "invalid_request"),
        ("1 MB string body", json.dumps("a" * 1_048_000).encode(), 400, "invalid_request"),
        ("body 1 byte over 1 MB", b" " * 1_048_577, 413, "body_too_large"),
        ("message 1 byte over 256 KB", json.dumps({"message": "a" * 262_145}).encode(), 413, "message_too_large"),
        (
            "message of 65,537 4-byte characters",
            json.dumps({"message": "😀" * 65_537}).encode(),
            413,
            "message_too_large",
        ),
        ("101 messages", json.dumps({"messages": ["hi"] * 101}).encode(), 413, "batch_too_large"),
        ("100k-digit number", b'{"message": ' + b"9" * 100_000 + b"}", 400, "invalid_json"),
        ("50k keys", b"{" + b",".join(b'"k%d": 1' % index for index in range(50_000)) + b"}", 400, "invalid_request"),
        ("lone surrogate escapes", b'{"message": "\\ud800\\udfff\\udc00"}', 200, None),
        ("NUL bytes", json.dumps({"message": "\x00" * 100_000}).encode(), 200, None),
        ("message of exactly 256 KB", json.dumps({"message": "a" * 262_144}).encode(), 200, None),
        ("100 messages of 9.9 KB", json.dumps({"messages": ["free prize " * 900] * 100}).encode(), 200, None),
        ("256 KB of one long token", json.dumps({"message": "x" * 262_144, "format": "email"}).encode(), 200, None),
    ],
)
def test_fuzz_extreme_bodies(
    client: AsgiClient, apps: dict[str, Any], name: str, body: bytes, status: int, code: str | None
) -> None:
    got_status, headers, reply, _ = post_json(client, apps["default"], body)
    check_reply(got_status, headers, reply, method="POST", path="/predict")
    assert got_status == status, (name, reply[:200])
    if code is not None:
        assert json.loads(reply)["error"]["code"] == code


@fuzz(60)
@given(
    depth=st.integers(1, 150_000),
    kind=st.sampled_from(["array", "object"]),
    where=st.sampled_from(["top", "message", "messages", "format"]),
)
def test_fuzz_deep_nesting_is_a_400_not_a_crash(
    client: AsgiClient, apps: dict[str, Any], depth: int, kind: str, where: str
) -> None:
    nested = _nested(depth, kind=kind)
    body = nested if where == "top" else b'{"' + where.encode() + b'": ' + nested + b"}"
    status, headers, reply, _ = post_json(client, apps["default"], body)
    check_reply(status, headers, reply, method="POST", path="/predict")
    assert status in (400, 413)


@fuzz(40)
@given(size=st.integers(1_048_577, 12_000_000), declared=st.booleans(), chunk=st.integers(1024, 262_144))
def test_fuzz_oversized_bodies_are_refused_without_reading_them_whole(
    client: AsgiClient, apps: dict[str, Any], size: int, declared: bool, chunk: int
) -> None:
    pieces = [b"a" * chunk] * (size // chunk) + [b"a" * (size % chunk)]
    headers = [(b"content-type", b"application/json")] + ([(b"content-length", str(size).encode())] if declared else [])
    status, reply_headers, reply, pulled = client.request(apps["default"], "POST", "/predict", headers=headers,
                                                          chunks=pieces)  # fmt: skip
    check_reply(status, reply_headers, reply, method="POST", path="/predict")
    assert (status, json.loads(reply)["error"]["code"]) == (413, "body_too_large")
    assert pulled == 0 if declared else pulled <= 1_048_576 + chunk
