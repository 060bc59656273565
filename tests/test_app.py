"""The HTTP API through its ASGI interface: every route, every error status, CORS, the API key, logs; and Settings."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import HAM_DOCS, SPAM_DOCS
from spam_classifier import app as app_module
from spam_classifier.app import create_app
from spam_classifier.config import Settings, read_settings
from spam_classifier.errors import ConfigurationError
from spam_classifier.scorer import Model, load_model

JSON = {"content-type": "application/json"}
EMAIL = (
    'From: "Prize Team" <winner@free-prizes.example.com>\n'
    "To: you@example.org\n"
    "Subject: You have WON a free prize\n"
    "Content-Type: text/plain; charset=utf-8\n\n"
    "Congratulations, you won! Claim your cash now, reply WIN.\n"
)


class _Source:
    """A stand-in for ModelSource: a fixed model (or none, with an error), counting refresh calls."""

    def __init__(self, model: Model | None, error: str | None = None) -> None:
        self.model = model
        self.error = error
        self.refreshes = 0

    def refresh_if_due(self) -> None:
        self.refreshes += 1


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    receives: int

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: Any,
    method: str = "GET",
    path: str = "/health",
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    chunks: list[bytes] | None = None,
) -> _Reply:
    """Run one request through the ASGI app: `body` in one piece with a Content-Length, or `chunks` streamed."""
    request_headers = {name.lower(): value for name, value in (headers or {}).items()}
    if body is not None:
        request_headers.setdefault("content-length", str(len(body)))
    pending = [
        {"type": "http.request", "body": chunk, "more_body": index < len(parts) - 1}
        for parts in [chunks if chunks is not None else [body or b""]]
        for index, chunk in enumerate(parts)
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(name.encode(), value.encode()) for name, value in request_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    receives = 0

    async def receive() -> dict[str, Any]:
        nonlocal receives
        receives += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, *bodies = sent
    assert start["type"] == "http.response.start"
    response_headers = {name.decode(): value.decode() for name, value in start["headers"]}
    assert len(response_headers) == len(start["headers"]), "a header was sent twice"
    return _Reply(start["status"], response_headers, b"".join(part["body"] for part in bodies), receives)


def post(app: Any, payload: Any, *, headers: dict[str, str] | None = None, path: str = "/predict") -> _Reply:
    return call(app, "POST", path, body=json.dumps(payload).encode(), headers={**JSON, **(headers or {})})


def expected_prediction(model: Model, message: str, message_format: str = "auto") -> dict[str, Any]:
    probability = model.predict_proba([message], format=message_format)[0]  # type: ignore[arg-type]
    return {
        "prediction": model.label(probability),
        "spam_probability": probability,
        "threshold": model.threshold,
        "model_version": "v1",
    }


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@pytest.fixture
def model(test_artifact_dir: Path) -> Model:
    return load_model(test_artifact_dir)


@pytest.fixture
def source(model: Model) -> _Source:
    return _Source(model)


@pytest.fixture
def app(source: _Source) -> Any:
    return create_app(source, Settings())


# --- the routes -----------------------------------------------------------------------------------------


def test_predict_one_message_returns_its_label_and_probability(app: Any, model: Model) -> None:
    reply = post(app, {"message": SPAM_DOCS[0]})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == expected_prediction(model, SPAM_DOCS[0])
    assert reply.json()["prediction"] == "spam"
    assert post(app, {"message": HAM_DOCS[0]}).json()["prediction"] == "ham"


def test_predict_batch_returns_one_prediction_per_message_in_order(app: Any, model: Model) -> None:
    messages = [HAM_DOCS[0], SPAM_DOCS[1], HAM_DOCS[2]]
    reply = post(app, {"messages": messages})
    assert reply.status == 200
    assert reply.json() == {
        "predictions": [expected_prediction(model, message) for message in messages],
        "model_version": "v1",
    }
    assert [p["prediction"] for p in reply.json()["predictions"]] == ["ham", "spam", "ham"]


@pytest.mark.parametrize("message_format", ["auto", "text", "email"])
def test_predict_passes_the_format_to_the_model(app: Any, model: Model, message_format: str) -> None:
    reply = post(app, {"message": EMAIL, "format": message_format})
    assert reply.status == 200
    assert reply.json() == expected_prediction(model, EMAIL, message_format)


def test_predict_accepts_json_with_a_charset_a_json_suffix_or_no_content_type(app: Any) -> None:
    body = json.dumps({"message": SPAM_DOCS[0]}).encode()
    for headers in (
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": "application/vnd.api+json"},
        {},
    ):
        assert call(app, "POST", "/predict", body=body, headers=headers).status == 200


def test_predict_through_httpx_asgi_transport(app: Any, model: Model) -> None:
    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post("/predict", json={"message": SPAM_DOCS[2]})

    response = asyncio.run(request())
    assert response.status_code == 200
    assert response.json() == expected_prediction(model, SPAM_DOCS[2])


def test_health_reports_the_loaded_version(app: Any) -> None:
    reply = call(app, "GET", "/health")
    assert (reply.status, reply.json()) == (
        200,
        {"status": "ok", "model_loaded": True, "model_version": "v1", "last_error": None},
    )


def test_health_reports_a_failed_reload_while_the_old_model_keeps_serving(model: Model) -> None:
    app = create_app(_Source(model, error="s3://models/spam: alias production points to a missing version"))
    assert call(app, "GET", "/health").json() == {
        "status": "ok",
        "model_loaded": True,
        "model_version": "v1",
        "last_error": "s3://models/spam: alias production points to a missing version",
    }


def test_model_returns_the_manifest(app: Any, model: Model) -> None:
    reply = call(app, "GET", "/model")
    assert reply.status == 200
    assert reply.json() == model.manifest
    assert reply.json()["version"] == "v1"
    assert reply.json()["created"] == "2026-01-01T00:00:00Z"


def test_openapi_describes_every_route(app: Any) -> None:
    reply = call(app, "GET", "/openapi.json")
    assert reply.status == 200
    document = reply.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/predict", "/feedback", "/health", "/model", "/openapi.json", "/docs"}
    codes = document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert codes == sorted(
        {"invalid_json", "invalid_request", "unauthorized", "not_found", "method_not_allowed", "body_too_large"}
        | {"message_too_large", "batch_too_large", "unsupported_media_type", "model_unavailable", "internal_error"}
        | {"feedback_unavailable"}
    )
    assert "securitySchemes" not in document["components"]
    assert document["paths"]["/predict"]["post"]["security"] == []
    assert document["paths"]["/feedback"]["post"]["security"] == []


def test_openapi_declares_the_api_key_when_one_is_configured(source: _Source) -> None:
    document = call(create_app(source, Settings(api_key="k")), "GET", "/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    assert document["paths"]["/predict"]["post"]["security"] == [{"ApiKey": []}]
    assert document["paths"]["/feedback"]["post"]["security"] == [{"ApiKey": []}]


def test_docs_page_is_self_contained_html_with_a_form_posting_to_predict(app: Any) -> None:
    reply = call(app, "GET", "/docs")
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert "connect-src 'self'" in reply.headers["content-security-policy"]
    page = reply.body.decode()
    assert '<form id="form">' in page
    assert 'fetch("predict", {method: "POST"' in page
    assert "src=" not in page and "http://" not in page and "https://" not in page  # nothing loaded from elsewhere


def test_head_returns_the_headers_of_get_without_a_body(app: Any) -> None:
    reply = call(app, "HEAD", "/health")
    assert reply.status == 200
    assert reply.body == b""
    assert int(reply.headers["content-length"]) == len(call(app, "GET", "/health").body)


def test_lifespan_startup_and_shutdown_complete(app: Any) -> None:
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


def test_every_request_asks_the_source_to_refresh(app: Any, source: _Source) -> None:
    call(app, "GET", "/health")
    post(app, {"message": "hello"})
    call(app, "GET", "/model")
    assert source.refreshes == 3


def test_request_id_is_echoed_when_given_and_generated_otherwise(app: Any) -> None:
    assert call(app, "GET", "/health", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = call(app, "GET", "/health", headers={"x-request-id": "bad id\twith spaces"}).headers["x-request-id"]
    assert len(generated) == 16 and generated != call(app, "GET", "/health").headers["x-request-id"]


# --- errors ---------------------------------------------------------------------------------------------

BAD_REQUESTS = [
    (b"", "invalid_json", 'the body is empty; send JSON like {"message": "..."}'),
    (
        b"{not json",
        "invalid_json",
        "the body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ),
    (
        b'{"message": "\xff"}',
        "invalid_json",
        "the body is not valid JSON: 'utf-8' codec can't decode byte 0xff in position 13: invalid start byte",
    ),
    (b"[" * 100_000 + b"]" * 100_000, "invalid_json", "the body is not valid JSON: nested too deeply"),
    (
        b'["hello"]',
        "invalid_request",
        'the body must be a JSON object: {"message": "..."} or {"messages": ["...", ...]}',
    ),
    (
        b'{"message": "a", "messages": ["b"]}',
        "invalid_request",
        'send exactly one of "message" (a string) or "messages" (a list of strings)',
    ),
    (b"{}", "invalid_request", 'send exactly one of "message" (a string) or "messages" (a list of strings)'),
    (b'{"mesage": "a"}', "invalid_request", "unknown field(s) 'mesage'; allowed: message, messages, format"),
    (b'{"message": 42}', "invalid_request", '"message" must be a string, not a number'),
    (b'{"message": null}', "invalid_request", '"message" must be a string, not null'),
    (b'{"messages": "a"}', "invalid_request", '"messages" must be a non-empty list of strings'),
    (b'{"messages": []}', "invalid_request", '"messages" must be a non-empty list of strings'),
    (b'{"messages": ["a", {"b": 1}]}', "invalid_request", '"messages"[1] must be a string, not an object'),
    (b'{"message": "a", "format": "html"}', "invalid_request", '"format" must be "auto", "text" or "email"'),
    (b'{"message": "a", "format": ["text"]}', "invalid_request", '"format" must be "auto", "text" or "email"'),
]


@pytest.mark.parametrize(("body", "code", "message"), BAD_REQUESTS)
def test_predict_bad_json_or_fields_is_400(app: Any, body: bytes, code: str, message: str) -> None:
    reply = call(app, "POST", "/predict", body=body, headers=JSON)
    assert (reply.status, reply.json()) == (400, error(code, message))


def test_predict_with_a_malformed_content_length_is_400(app: Any) -> None:
    reply = call(app, "POST", "/predict", body=b"{}", headers={**JSON, "content-length": "12abc"})
    assert (reply.status, reply.json()) == (
        400,
        error("invalid_request", "the Content-Length header must be a whole number"),
    )


def test_body_over_the_limit_is_413_from_content_length_before_reading(source: _Source) -> None:
    app = create_app(source, Settings(max_body_bytes=100))
    reply = call(app, "POST", "/predict", body=b"x" * 101, headers=JSON)
    assert (reply.status, reply.json()) == (
        413,
        error("body_too_large", "the body is 101 bytes; the limit is 100 bytes (MAX_BODY_BYTES)"),
    )
    assert reply.receives == 0


def test_streamed_body_over_the_limit_is_413_as_soon_as_it_passes_it(source: _Source) -> None:
    app = create_app(source, Settings(max_body_bytes=100))
    reply = call(app, "POST", "/predict", chunks=[b"x" * 60, b"x" * 60, b"x" * 60, b"x" * 60], headers=JSON)
    assert (reply.status, reply.json()) == (
        413,
        error("body_too_large", "the body is over 100 bytes, the limit (MAX_BODY_BYTES)"),
    )
    assert reply.receives == 2


def test_streamed_body_within_the_limit_is_read_whole(app: Any, model: Model) -> None:
    body = json.dumps({"message": SPAM_DOCS[0]}).encode()
    reply = call(app, "POST", "/predict", chunks=[body[:10], body[10:20], body[20:]], headers=JSON)
    assert (reply.status, reply.json()) == (200, expected_prediction(model, SPAM_DOCS[0]))


def test_message_over_the_limit_is_413_counting_utf8_bytes(source: _Source) -> None:
    app = create_app(source, Settings(max_message_bytes=10))
    assert post(app, {"message": "é" * 5}).status == 200  # 10 bytes
    reply = post(app, {"message": "é" * 6})
    assert (reply.status, reply.json()) == (
        413,
        error("message_too_large", '"message" is 12 bytes; the limit is 10 bytes per message (MAX_MESSAGE_BYTES)'),
    )
    reply = post(app, {"messages": ["short", "x" * 11]})
    assert (reply.status, reply.json()) == (
        413,
        error("message_too_large", '"messages"[1] is 11 bytes; the limit is 10 bytes per message (MAX_MESSAGE_BYTES)'),
    )


def test_batch_over_the_limit_is_413(source: _Source) -> None:
    app = create_app(source, Settings(max_batch=2))
    assert post(app, {"messages": ["a", "b"]}).status == 200
    reply = post(app, {"messages": ["a", "b", "c"]})
    assert (reply.status, reply.json()) == (
        413,
        error("batch_too_large", "3 messages in one request; the limit is 2 (MAX_BATCH)"),
    )


def test_default_limits_are_1_mb_body_256_kb_message_100_messages(app: Any) -> None:
    assert post(app, {"messages": ["a"] * 100}).status == 200
    assert post(app, {"messages": ["a"] * 101}).json()["error"]["code"] == "batch_too_large"
    assert post(app, {"message": "a" * 262_144}).status == 200
    assert post(app, {"message": "a" * 262_145}).json()["error"]["code"] == "message_too_large"
    body = json.dumps({"messages": ["a" * 200_000] * 6}).encode()
    assert len(body) > 1_048_576
    assert call(app, "POST", "/predict", body=body, headers=JSON).json()["error"]["code"] == "body_too_large"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_predict_with_a_non_json_content_type_is_415(app: Any, content_type: str) -> None:
    reply = call(app, "POST", "/predict", body=b'{"message": "a"}', headers={"content-type": content_type})
    assert (reply.status, reply.json()) == (
        415,
        error(
            "unsupported_media_type", f"send the body as JSON with Content-Type: application/json, not {content_type!r}"
        ),
    )


def test_unknown_path_is_404(app: Any) -> None:
    reply = call(app, "GET", "/predictions")
    assert (reply.status, reply.json()) == (404, error("not_found", "no route GET /predictions; see /docs for the API"))


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/predict", "OPTIONS, POST"),
        ("POST", "/health", "GET, HEAD, OPTIONS"),
        ("DELETE", "/model", "GET, HEAD, OPTIONS"),
    ],
)
def test_wrong_method_is_405_with_allow(app: Any, method: str, path: str, allow: str) -> None:
    reply = call(app, method, path)
    assert (reply.status, reply.json()) == (
        405,
        error("method_not_allowed", f"{path} does not accept {method}; allowed: {allow}"),
    )
    assert reply.headers["allow"] == allow


def test_options_without_cors_lists_the_allowed_methods(app: Any) -> None:
    reply = call(app, "OPTIONS", "/predict")
    assert (reply.status, reply.body, reply.headers["allow"]) == (204, b"", "OPTIONS, POST")
    assert "access-control-allow-origin" not in reply.headers


@pytest.mark.parametrize(("method", "path"), [("POST", "/predict"), ("GET", "/health"), ("GET", "/model")])
def test_no_model_is_503_with_the_recorded_error(method: str, path: str) -> None:
    app = create_app(_Source(None, error="no model artifact at /srv/model (expected /srv/model/manifest.json)"))
    reply = call(app, method, path, body=b'{"message": "hi"}', headers=JSON)
    assert (reply.status, reply.json()) == (
        503,
        error(
            "model_unavailable",
            "no model is loaded: no model artifact at /srv/model (expected /srv/model/manifest.json)",
        ),
    )


def test_unexpected_failure_is_a_json_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    class _BrokenModel:
        version = "v1"

        def score(self, messages: list[str], *, format: str) -> list[float]:
            raise RuntimeError(f"boom on {messages[0]}")

    app = create_app(_Source(_BrokenModel()))  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="spam_classifier"):
        reply = post(app, {"message": "secret words"})
    assert (reply.status, reply.json()) == (
        500,
        error("internal_error", "an unexpected error occurred; the server log has the details"),
    )
    (record,) = caplog.records
    assert record.levelname == "ERROR"
    assert record.fields["error"] == "internal_error"  # type: ignore[attr-defined]
    assert record.fields["traceback"][-1] == "RuntimeError"  # type: ignore[attr-defined]
    assert "secret words" not in json.dumps(record.fields)  # type: ignore[attr-defined]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
_predict_bodies = _json_values | st.fixed_dictionaries(
    {},
    optional={
        "message": _json_values,
        "messages": st.lists(_json_values | st.text(), max_size=4) | _json_values,
        "format": st.sampled_from(["auto", "text", "email", "other"]) | _json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=_predict_bodies)
def test_client_json_never_causes_a_500(app: Any, payload: Any) -> None:
    assert post(app, payload).status in (200, 400, 413)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "", "text/plain"]))
def test_client_bytes_never_cause_a_500(app: Any, body: bytes, content_type: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert call(app, "POST", "/predict", body=body, headers=headers).status in (200, 400, 413, 415)


# --- CORS and the API key -------------------------------------------------------------------------------


@pytest.fixture
def cors_app(source: _Source) -> Any:
    return create_app(source, Settings(cors_origins=("https://app.example.com",)))


def test_cors_allowed_origin_gets_the_allow_origin_header_on_success_and_error(cors_app: Any) -> None:
    origin = {"origin": "https://app.example.com"}
    for reply in (post(cors_app, {"message": "hi"}, headers=origin), post(cors_app, {}, headers=origin)):
        assert reply.headers["access-control-allow-origin"] == "https://app.example.com"
        assert reply.headers["access-control-expose-headers"] == "x-request-id"
        assert reply.headers["vary"] == "origin"


def test_cors_other_origin_gets_no_allow_origin_header(cors_app: Any) -> None:
    reply = post(cors_app, {"message": "hi"}, headers={"origin": "https://evil.example.net"})
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers
    assert reply.headers["vary"] == "origin"


def test_cors_preflight_from_an_allowed_origin(cors_app: Any) -> None:
    reply = call(
        cors_app,
        "OPTIONS",
        "/predict",
        headers={
            "origin": "https://app.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-api-key",
        },
    )
    assert reply.status == 204
    assert {name: value for name, value in reply.headers.items() if name.startswith("access-control-")} == {
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-methods": "OPTIONS, POST",
        "access-control-allow-headers": "content-type, x-api-key, x-request-id",
        "access-control-max-age": "600",
        "access-control-expose-headers": "x-request-id",
    }


def test_cors_preflight_from_another_origin_gets_no_cors_headers(cors_app: Any) -> None:
    reply = call(
        cors_app,
        "OPTIONS",
        "/predict",
        headers={"origin": "https://evil.example.net", "access-control-request-method": "POST"},
    )
    assert reply.status == 204
    assert not [name for name in reply.headers if name.startswith("access-control-")]


def test_cors_wildcard_allows_any_origin(source: _Source) -> None:
    app = create_app(source, Settings(cors_origins=("*",)))
    reply = call(app, "GET", "/health", headers={"origin": "https://anywhere.example.org"})
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "vary" not in reply.headers


@pytest.fixture
def keyed_app(source: _Source) -> Any:
    return create_app(source, Settings(api_key="s3cret-key", cors_origins=("https://app.example.com",)))


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "this API needs an X-API-Key header"), ({"x-api-key": "wrong"}, "the X-API-Key header does not match")],
)
def test_api_key_missing_or_wrong_is_401(keyed_app: Any, headers: dict[str, str], message: str) -> None:
    for reply in (
        post(keyed_app, {"message": "hi"}, headers=headers),
        call(keyed_app, "GET", "/model", headers=headers),
    ):
        assert (reply.status, reply.json()) == (401, error("unauthorized", message))


def test_api_key_is_checked_with_compare_digest(keyed_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = app_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    assert post(keyed_app, {"message": "hi"}, headers={"x-api-key": "s3cret-key"}).status == 200
    assert seen == [(b"s3cret-key", b"s3cret-key")]


def test_api_key_leaves_health_docs_openapi_and_preflight_open(keyed_app: Any) -> None:
    assert call(keyed_app, "GET", "/health").status == 200
    assert call(keyed_app, "GET", "/docs").status == 200
    assert call(keyed_app, "GET", "/openapi.json").status == 200
    preflight = {"origin": "https://app.example.com", "access-control-request-method": "POST"}
    assert call(keyed_app, "OPTIONS", "/predict", headers=preflight).status == 204


# --- logs -----------------------------------------------------------------------------------------------


def test_each_request_logs_one_structured_line_without_message_text(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    secret = "WINNER claim your free prize, my PIN is 4321"
    with caplog.at_level(logging.INFO, logger="spam_classifier"):
        post(app, {"message": secret}, headers={"x-request-id": "req-1"})
        post(app, {"messages": [secret, HAM_DOCS[0], secret]}, headers={"x-request-id": "req-2"})
        post(app, {"message": secret, "format": "html"}, headers={"x-request-id": "req-3"})
        call(app, "GET", "/nowhere", headers={"x-request-id": "req-4"})
    fields = [record.fields for record in caplog.records]  # type: ignore[attr-defined]
    for entry in fields:
        assert isinstance(entry.pop("latency_ms"), float)
    assert fields == [
        {
            "request_id": "req-1",
            "method": "POST",
            "route": "/predict",
            "status": 200,
            "model_version": "v1",
            "label": "spam",
        },
        {
            "request_id": "req-2",
            "method": "POST",
            "route": "/predict",
            "status": 200,
            "model_version": "v1",
            "labels": {"ham": 1, "spam": 2},
        },
        {"request_id": "req-3", "method": "POST", "route": "/predict", "status": 400, "error": "invalid_request"},
        {"request_id": "req-4", "method": "GET", "route": None, "status": 404, "error": "not_found"},
    ]
    assert "PIN" not in caplog.text and "4321" not in caplog.text


def test_json_formatter_writes_one_json_object_per_line(app: Any, capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("spam_classifier")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    try:
        app_module.configure_logging("INFO")
        app_module.configure_logging("INFO")  # twice: still one handler
        post(app, {"message": "my secret message"}, headers={"x-request-id": "req-9"})
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]
    (line,) = capsys.readouterr().out.splitlines()
    entry = json.loads(line)
    assert {key: entry[key] for key in ("level", "logger", "message", "request_id", "route", "status", "label")} == {
        "level": "INFO",
        "logger": "spam_classifier.app",
        "message": "request",
        "request_id": "req-9",
        "route": "/predict",
        "status": 200,
        "label": "ham",
    }
    assert "secret" not in line


# --- Settings -------------------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    assert read_settings({}) == Settings(
        model_uri=None,
        model_reload_seconds=60.0,
        max_body_bytes=1_048_576,
        max_message_bytes=262_144,
        max_batch=100,
        cors_origins=(),
        api_key=None,
        feedback_api_key=None,
        feedback_uri=None,
        log_level="INFO",
    )


def test_settings_read_from_the_environment() -> None:
    environ = {
        "MODEL_URI": "s3://models/spam@production",
        "MODEL_RELOAD_SECONDS": "2.5",
        "MAX_BODY_BYTES": "2048",
        "MAX_MESSAGE_BYTES": "512",
        "MAX_BATCH": "10",
        "CORS_ORIGINS": "https://app.example.com, http://localhost:3000/",
        "API_KEY": "k",
        "FEEDBACK_API_KEY": "fk",
        "FEEDBACK_URI": "/srv/feedback-store",
        "LOG_LEVEL": "debug",
        "UNRELATED": "ignored",
    }
    assert read_settings(environ) == Settings(
        model_uri="s3://models/spam@production",
        model_reload_seconds=2.5,
        max_body_bytes=2048,
        max_message_bytes=512,
        max_batch=10,
        cors_origins=("https://app.example.com", "http://localhost:3000"),
        api_key="k",
        feedback_api_key="fk",
        feedback_uri="/srv/feedback-store",
        log_level="DEBUG",
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MAX_BODY_BYTES": "1MB"}, "MAX_BODY_BYTES must be a whole number of bytes > 0, not '1MB'"),
        (
            {"MAX_BODY_BYTES": "0"},
            r"MAX_BODY_BYTES \(Settings.max_body_bytes\) must be a whole number of bytes > 0, not 0",
        ),
        ({"MAX_MESSAGE_BYTES": "-5"}, r"MAX_MESSAGE_BYTES \(Settings.max_message_bytes\) must be a whole number"),
        ({"MAX_BATCH": "ten"}, "MAX_BATCH must be a whole number > 0, not 'ten'"),
        ({"MODEL_RELOAD_SECONDS": "-1"}, r"MODEL_RELOAD_SECONDS \(Settings.model_reload_seconds\) must be a number"),
        ({"MODEL_RELOAD_SECONDS": "soon"}, "MODEL_RELOAD_SECONDS must be a number of seconds >= 0, not 'soon'"),
        ({"CORS_ORIGINS": "app.example.com"}, r"CORS_ORIGINS \(Settings.cors_origins\) must be a comma-separated list"),
        ({"CORS_ORIGINS": "https://app.example.com/path"}, "CORS_ORIGINS .* no path"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL .* must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'VERBOSE'"),
    ],
)
def test_settings_invalid_values_name_the_variable_and_allowed_values(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        read_settings(environ)


def test_settings_empty_variables_keep_their_defaults() -> None:
    assert read_settings({"API_KEY": "", "MAX_BATCH": "  ", "MODEL_URI": ""}) == Settings()
