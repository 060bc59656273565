"""Fuzzing `spam_classifier.aws_lambda.handler` with API Gateway, Function URL and ALB events mutated from tests/events.

In-process through Mangum with the tiny test model (thousands of cases), then a deterministic sample under the
Lambda Runtime Interface Emulator (`python -m awslambdaric`, as on Lambda). Mutations: keys dropped, values of the
wrong type, random headers, random bodies, ``isBase64Encoded`` true over junk. The handler must always return a
response (no exception out of it: on Lambda that is a ``Runtime.Error`` and a 502 from API Gateway), never a 5xx,
and the documented JSON error shape for 4xx. Invalid events are a 400 ``invalid_request``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import importlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_http import check_reply, fuzz

import test_aws_lambda
from conftest import make_test_artifact
from emulator import Emulator

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
EVENTS = {
    f"{path.parent.name}/{path.stem}": json.loads(path.read_text()) for path in sorted(EVENTS_DIR.glob("*/*.json"))
}
_SETTINGS_VARIABLES = ("MODEL_URI", "MODEL_RELOAD_SECONDS", "MODEL_CACHE_DIR", "MAX_BODY_BYTES", "MAX_MESSAGE_BYTES",
                       "MAX_BATCH", "CORS_ORIGINS", "API_KEY", "LOG_LEVEL", "AWS_LAMBDA_FUNCTION_NAME",
                       "FEEDBACK_URI", "FEEDBACK_API_KEY")  # fmt: skip

Handler = Callable[[Any, Any], Any]

# The Runtime Interface Emulator fixtures of tests/test_aws_lambda.py, reused (a function directory with the package
# and the tiny model, run by `aws-lambda-rie ... python -m awslambdaric`).
rie = test_aws_lambda.rie
function_dir = test_aws_lambda.function_dir
emulator = test_aws_lambda.emulator


def event_method(event: dict[str, Any]) -> str:
    """The method the app will see (HEAD responses have no body), or "" when the event has none."""
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    method = http.get("method") if isinstance(http, dict) else event.get("httpMethod")
    return method if isinstance(method, str) else ""


def check_result(result: Any, event: Any) -> None:
    """What API Gateway / ALB need back: a dict with an int status, string headers and a string body."""
    assert isinstance(result, dict), result
    assert isinstance(result["statusCode"], int)
    assert isinstance(result["body"], str) and isinstance(result["isBase64Encoded"], bool)
    headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    multi = result.get("multiValueHeaders") or {}
    headers.update({name.lower(): values[-1] for name, values in multi.items() if values})
    body = base64.b64decode(result["body"]) if result["isBase64Encoded"] else result["body"].encode()
    invalid_event = result["statusCode"] == 400 and b"the Lambda event is not" in body  # never reached the app
    method = event_method(event) if isinstance(event, dict) and not invalid_event else ""
    check_reply(result["statusCode"], headers, body, method=method)


@pytest.fixture(scope="module")
def handler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Handler]:
    """`spam_classifier.aws_lambda.handler` imported afresh with MODEL_URI at the tiny model; state restored after."""
    directory = tmp_path_factory.mktemp("fuzz-lambda") / "model"
    make_test_artifact(directory)
    logger = logging.getLogger("spam_classifier")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    with pytest.MonkeyPatch.context() as patch:
        for name in _SETTINGS_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("MODEL_URI", str(directory))
        patch.setenv("FEEDBACK_URI", str(directory.parent / "store"))  # the feedback events are fuzzed too
        sys.modules.pop("spam_classifier.aws_lambda", None)
        module = importlib.import_module("spam_classifier.aws_lambda")
    logger.handlers[:] = [logging.NullHandler()]  # thousands of request lines would only slow the run down
    try:
        yield module.handler
    finally:
        sys.modules.pop("spam_classifier.aws_lambda", None)
        asyncio.get_event_loop_policy().get_event_loop().close()
        asyncio.set_event_loop(None)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]


# --- mutations ------------------------------------------------------------------------------------------

_json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)
_json_values = st.recursive(
    _json_scalars, lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                                       max_size=3), max_leaves=6
)  # fmt: skip
_junk_base64 = st.one_of(
    st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=-_ \n", max_size=60),
    st.text(max_size=40),
    st.binary(max_size=200).map(lambda data: base64.b64encode(data).decode()),
    st.binary(max_size=200).map(lambda data: base64.b64encode(data).decode()[:-1]),
)
_header_names = st.sampled_from(["content-type", "content-length", "x-api-key", "x-request-id", "origin", "host",
                                 "x-forwarded-port", "x-forwarded-proto", "cookie", "accept"]) | st.text(
    min_size=1, max_size=20)  # fmt: skip
_header_values = st.sampled_from(["application/json", "text/plain", "-1", "0", "99999999999", "x", ""]) | st.text(
    max_size=40
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON document, leaves and containers alike."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.append((*prefix, key))
        found += _paths(child, (*prefix, key))
    return found


def _parent(event: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        event = event[key]
    return event


def mutate(event: dict[str, Any], draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
    """Apply 1-4 random mutations to a deep copy of `event`; `draw` is hypothesis's, or a seeded stand-in."""
    event = copy.deepcopy(event)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["drop", "retype", "header", "body", "base64", "method", "path"]))
        paths = _paths(event)
        if action in ("drop", "retype") and paths:
            path = draw(st.sampled_from(paths))
            parent = _parent(event, path)
            if action == "drop":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(_json_values)
        elif action == "header":
            for key in ("headers", "multiValueHeaders"):
                if isinstance(event.get(key), dict):
                    value = draw(_header_values)
                    event[key][draw(_header_names)] = [value] if key == "multiValueHeaders" else value
        elif action == "body":
            event["body"] = draw(st.text(max_size=300) | _json_values.map(json.dumps) | st.none())
            event["isBase64Encoded"] = draw(st.booleans())
        elif action == "base64":
            event["body"], event["isBase64Encoded"] = draw(_junk_base64), True
        elif action == "method":
            method = draw(
                st.sampled_from(["GET", "POST", "DELETE", "OPTIONS", "HEAD", "", "post"]) | st.text(max_size=8)
            )
            if "httpMethod" in event:
                event["httpMethod"] = method
            if isinstance(event.get("requestContext"), dict) and isinstance(event["requestContext"].get("http"), dict):
                event["requestContext"]["http"]["method"] = method
        else:
            path_value = draw(
                st.sampled_from(["/predict", "/health", "/model", "/docs", "/", "/x"]) | st.text(max_size=20)
            )
            for key in ("rawPath", "path"):
                if key in event:
                    event[key] = path_value
    return event


@fuzz(2500)
@given(name=st.sampled_from(sorted(EVENTS)), data=st.data())
def test_fuzz_lambda_mutated_events(handler: Handler, name: str, data: st.DataObject) -> None:
    event = mutate(EVENTS[name], data.draw)
    check_result(handler(event, None), event)


def _with_body(event: dict[str, Any], body: bytes, *, as_base64: bool) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["body"] = base64.b64encode(body).decode() if as_base64 else body.decode("utf-8", "replace")
    event["isBase64Encoded"] = as_base64
    return event


_predict_events = sorted(name for name in EVENTS if "predict" in name or "bad-json" in name)
_bodies = st.one_of(
    st.binary(max_size=400),
    _json_values.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"message": st.text(max_size=300)}, optional={"format": st.sampled_from(["auto", "email"])}
    ).map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"messages": st.lists(st.text(max_size=50), max_size=5)}).map(
        lambda v: json.dumps(v).encode()
    ),
)


@fuzz(1000)
@given(name=st.sampled_from(_predict_events), body=_bodies, as_base64=st.booleans())
def test_fuzz_lambda_bodies(handler: Handler, name: str, body: bytes, as_base64: bool) -> None:
    event = _with_body(EVENTS[name], body, as_base64=as_base64)
    result = handler(event, None)
    check_result(result, event)
    assert result["statusCode"] in (200, 400, 413)


@fuzz(200)
@given(event=_json_values | st.lists(_json_values) | st.dictionaries(st.text(max_size=20), _json_values))
def test_fuzz_lambda_events_of_no_known_shape_are_400(handler: Handler, event: Any) -> None:
    result = handler(event, None)
    check_result(result, event)
    assert result["statusCode"] == 400


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_fuzz_lambda_malformed_event_is_one_400_and_one_log_line(handler: Handler) -> None:
    event = _with_body(EVENTS["http-api/predict-spam"], b"", as_base64=True)
    event["body"] = "secret4711x"  # not base64: 11 characters, so the padding is wrong
    records = _Records()
    logger = logging.getLogger("spam_classifier")
    logger.addHandler(records)
    try:
        result = handler(event, None)
    finally:
        logger.removeHandler(records)
    assert result == {
        "statusCode": 400,
        "headers": {"content-type": "application/json", "x-content-type-options": "nosniff"},
        "body": '{"error":{"code":"invalid_request","message":"the Lambda event is not a well-formed API Gateway '
        '(REST or HTTP API), Function URL or ALB request event"}}',
        "isBase64Encoded": False,
    }
    [record] = records.records
    assert (record.name, record.levelname, record.getMessage()) == ("spam_classifier.aws_lambda", "WARNING",
                                                                    "invalid_event")  # fmt: skip
    assert record.fields["error_type"] == "Error"  # type: ignore[attr-defined]  # binascii.Error
    assert "4711" not in str(record.fields)  # type: ignore[attr-defined]


@fuzz(200)
@given(name=st.sampled_from(sorted(EVENTS)), data=st.data())
@getattr(pytest.mark, "lambda")
def test_fuzz_lambda_under_the_emulator(emulator: Emulator, name: str, data: st.DataObject) -> None:
    event = mutate(EVENTS[name], data.draw)
    result = emulator.invoke(event)
    assert "errorMessage" not in result, result  # an exception reached awslambdaric
    check_result(result, event)


@getattr(pytest.mark, "lambda")
def test_fuzz_lambda_emulator_log_has_no_traceback(emulator: Emulator) -> None:
    """Runs after the sample above (same module-scoped emulator): no invocation died with a traceback."""
    assert "Traceback" not in emulator.log()
