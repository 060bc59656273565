"""`spam_classifier.aws_lambda.handler` with the committed API Gateway, Function URL and ALB events (tests/events/).

Twice: under the Lambda Runtime Interface Emulator (`python -m awslambdaric`, as on Lambda, from a function
directory holding a copy of the package and the tiny test model), and through Mangum in-process for speed.
The emulator comes from `make tools`; without it these tests fail, on purpose, rather than skip.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import heavy_modules, make_test_artifact
from emulator import Emulator, run_emulator
from spam_classifier.scorer import Model, load_model

pytestmark = getattr(pytest.mark, "lambda")

ROOT = Path(__file__).resolve().parents[1]
RIE = ROOT / ".tools" / "aws-lambda-rie"
EVENTS = Path(__file__).with_name("events")
EVENT_SOURCES = ["http-api", "rest-api", "alb", "function-url"]
EVENT_NAMES = ["predict-spam", "predict-batch", "predict-email", "bad-json", "health", "model"]
ALL_EVENTS = [(source, name) for source in EVENT_SOURCES for name in EVENT_NAMES]
_SETTINGS_VARIABLES = (
    "MODEL_URI",
    "MODEL_RELOAD_SECONDS",
    "MAX_BODY_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_BATCH",
    "CORS_ORIGINS",
    "API_KEY",
    "LOG_LEVEL",
)



def load_event(source: str, name: str) -> dict[str, Any]:
    return json.loads((EVENTS / source / f"{name}.json").read_text())


def request_json(event: dict[str, Any]) -> Any:
    body = event["body"]
    return json.loads(base64.b64decode(body) if event["isBase64Encoded"] else body)


def expected_response(model: Model, name: str, event: dict[str, Any]) -> tuple[int, Any]:
    """The status and whole JSON body the handler must return for the committed event `name`."""

    def prediction(message: str, message_format: str) -> dict[str, Any]:
        probability = model.predict_proba([message], format=message_format)[0]  # type: ignore[arg-type]
        return {
            "prediction": model.label(probability),
            "spam_probability": probability,
            "threshold": 0.5,
            "model_version": "v1",
        }

    if name == "health":
        return 200, {"status": "ok", "model_loaded": True, "model_version": "v1", "last_error": None}
    if name == "model":
        return 200, model.manifest
    if name == "bad-json":
        message = "the body is not valid JSON: Unterminated string starting at: line 1 column 13 (char 12)"
        return 400, {"error": {"code": "invalid_json", "message": message}}
    payload = request_json(event)
    message_format = payload.get("format", "auto")
    if "messages" in payload:
        predictions = [prediction(message, message_format) for message in payload["messages"]]
        assert [p["prediction"] for p in predictions] == ["ham", "spam"]
        return 200, {"predictions": predictions, "model_version": "v1"}
    one = prediction(payload["message"], message_format)
    assert one["prediction"] == "spam"
    return 200, one


def check_result(result: dict[str, Any], model: Model, source: str, name: str) -> None:
    status, body = expected_response(model, name, load_event(source, name))
    assert result["statusCode"] == status, result
    assert result["isBase64Encoded"] is False
    assert result["headers"]["content-type"] == "application/json"
    assert json.loads(result["body"]) == body


@pytest.fixture(scope="module")
def function_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a Lambda deployment package holds: the package (no shipped model) and the tiny model beside it."""
    directory = tmp_path_factory.mktemp("function")
    shutil.copytree(
        ROOT / "src" / "spam_classifier",
        directory / "spam_classifier",
        ignore=shutil.ignore_patterns("__pycache__", "models"),
    )
    make_test_artifact(directory / "model")
    return directory


@pytest.fixture(scope="module")
def model(function_dir: Path) -> Model:
    return load_model(function_dir / "model")


# --- under the Runtime Interface Emulator ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rie() -> Path:
    if not RIE.is_file():
        pytest.fail(f"{RIE.relative_to(ROOT)} is missing: run `make tools` to install the Lambda emulator")
    return RIE


@pytest.fixture(scope="module")
def emulator(rie: Path, function_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    venv_bin = Path(sys.executable).parent
    env = {
        **{
            name: value
            for name, value in os.environ.items()
            if name not in _SETTINGS_VARIABLES and name != "PYTHONDONTWRITEBYTECODE"
        },
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        # Lambda packages ship compiled .pyc; a private cache stands in for that without writing into the venv.
        "PYTHONPYCACHEPREFIX": str(tmp_path_factory.mktemp("pycache")),
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
        "MODEL_URI": str(function_dir / "model"),
        "FEEDBACK_URI": str(tmp_path_factory.mktemp("feedback-store")),  # a folder store: POST /feedback works
    }
    subprocess.run(
        [str(venv_bin / "python"), "-c", "import awslambdaric.bootstrap, spam_classifier.aws_lambda"],
        cwd=function_dir,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log_path = tmp_path_factory.mktemp("rie") / "rie.log"
    with run_emulator(rie, function_dir, env, log_path) as running:
        yield running


@pytest.mark.parametrize(("source", "name"), ALL_EVENTS)
def test_rie_handler_answers_each_committed_event(emulator: Emulator, model: Model, source: str, name: str) -> None:
    check_result(emulator.invoke(load_event(source, name)), model, source, name)


def test_rie_cold_start_happens_once(
    emulator: Emulator, model: Model, record_property: Callable[[str, object], None]
) -> None:
    for _ in range(3):  # warm invokes reuse the initialised handler
        check_result(emulator.invoke(load_event("http-api", "health")), model, "http-api", "health")
    log = emulator.log()
    reports = re.findall(r"INIT REPORT\(durationMs: ([0-9.]+)\)", log)
    assert len(reports) == 1, log
    assert log.count('"event": "model_loaded"') == 1, log
    init_ms = float(reports[0])
    record_property("init_ms", init_ms)
    print(f"RIE INIT REPORT: {init_ms:.1f} ms")


def test_handler_import_loads_no_heavy_dependency() -> None:
    # the INIT time itself is measured by bench/deploy_size_coldstart.py, not asserted here
    child = "import json, sys, spam_classifier.aws_lambda; print(json.dumps(sorted(sys.modules)))"
    env = {name: value for name, value in os.environ.items() if not name.startswith("MODEL_")}
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert "spam_classifier.aws_lambda" in modules
    assert heavy_modules(modules) == []


def test_rie_logs_are_json_lines_without_message_text(emulator: Emulator) -> None:
    secret_event = load_event("http-api", "predict-spam")
    secret_event["body"] = base64.b64encode(b'{"message": "WINNER my secret code is 55443322"}').decode()
    assert emulator.invoke(secret_event)["statusCode"] == 200
    log = emulator.log()
    assert "55443322" not in log and "secret" not in log
    requests = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"request"' in line]
    assert requests and all({"request_id", "route", "status", "latency_ms"} <= set(entry) for entry in requests)


# --- through Mangum in-process --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handler(function_dir: Path) -> Iterator[Callable[[dict[str, Any], Any], dict[str, Any]]]:
    """`spam_classifier.aws_lambda.handler` imported afresh with MODEL_URI set; logging and event loop restored."""
    logger = logging.getLogger("spam_classifier")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    with pytest.MonkeyPatch.context() as patch:
        for name in _SETTINGS_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("MODEL_URI", str(function_dir / "model"))
        sys.modules.pop("spam_classifier.aws_lambda", None)
        module = importlib.import_module("spam_classifier.aws_lambda")
    try:
        yield module.handler
    finally:
        sys.modules.pop("spam_classifier.aws_lambda", None)
        asyncio.get_event_loop_policy().get_event_loop().close()  # the loop Mangum set up for its invocations
        asyncio.set_event_loop(None)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]


@pytest.mark.parametrize(("source", "name"), ALL_EVENTS)
def test_mangum_handler_answers_each_committed_event(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], model: Model, source: str, name: str
) -> None:
    check_result(handler(load_event(source, name), None), model, source, name)


def test_mangum_handler_answers_a_plain_text_body_and_an_unknown_route(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
) -> None:
    event = load_event("rest-api", "predict-spam")
    event["body"], event["isBase64Encoded"] = '{"message": "lunch at noon?"}', False
    assert json.loads(handler(event, None)["body"])["prediction"] == "ham"
    event = load_event("http-api", "health")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nowhere"
    result = handler(event, None)
    assert (result["statusCode"], json.loads(result["body"])) == (
        404,
        {"error": {"code": "not_found", "message": "no route GET /nowhere; see /docs for the API"}},
    )
