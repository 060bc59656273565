"""Faults injected under the running app, end to end: what a client sees while the model store misbehaves.

The store-level and ModelSource-level versions of these faults are tested elsewhere and not repeated here:
tests/store/test_contract.py (tampered versions, a missing version behind an alias, racing publishers, per store)
and tests/test_source.py (a tampered alias target, S3 down and back, the cache). Here every fault goes through
the HTTP app or the Lambda handler, and the assertions are about responses and log lines.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import SPAM_DOCS, Clock, make_test_artifact
from emulator import run_emulator
from s3_server import start_s3_server, stop_s3_server
from spam_classifier.app import configure_logging, create_app
from spam_classifier.config import LAMBDA_MODEL_CACHE_DIR, Settings, read_settings
from spam_classifier.source import ModelSource
from spam_classifier.store import MemoryStore, open_store

CLI = Path(sys.executable).with_name("spam-classifier")
_SETTINGS_VARIABLES = ("MODEL_URI", "MODEL_RELOAD_SECONDS", "MODEL_CACHE_DIR", "MAX_BODY_BYTES", "MAX_MESSAGE_BYTES",
                       "MAX_BATCH", "CORS_ORIGINS", "API_KEY", "LOG_LEVEL", "AWS_LAMBDA_FUNCTION_NAME")  # fmt: skip


def request(app: Any, method: str = "GET", path: str = "/health", payload: Any = None) -> tuple[int, Any]:
    """One request through the ASGI app (httpx's ASGI transport); (status, JSON body)."""

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            return await client.request(method, path, json=payload)

    response = asyncio.run(run())
    return response.status_code, response.json()


def predict_version(app: Any) -> str:
    status, body = request(app, "POST", "/predict", {"message": SPAM_DOCS[0]})
    assert status == 200, body
    assert body["prediction"] == "spam"
    return body["model_version"]


# --- S3 goes away while the function runs ---------------------------------------------------------------


@pytest.mark.s3
def test_fault_s3_down_the_app_keeps_serving_the_loaded_model_and_recovers(
    s3_bucket: str, s3_outage: None, clock: Clock, publish: Any, tmp_path: Path
) -> None:
    uri = f"s3://{s3_bucket}/spam"
    publish(open_store(uri), "v1", alias="production")
    app = create_app(ModelSource(f"{uri}@production", clock=clock, cache_dir=tmp_path / "cache"), Settings())
    assert predict_version(app) == "v1"

    stop_s3_server()
    clock.advance(60)
    for _ in range(3):  # the first request after the interval tries S3 and fails; every request is still served
        assert predict_version(app) == "v1"
    status, health = request(app)
    assert (status, health["model_version"]) == (200, "v1")
    assert health["last_error"].startswith(f"{uri}: cannot read aliases/production.json: Could not connect")

    start_s3_server()
    publish(open_store(uri), "v2", alias="production")
    clock.advance(60)
    assert predict_version(app) == "v2"  # Lambda-style inline refresh: the request that finds it due sees it
    assert request(app) == (200, {"status": "ok", "model_loaded": True, "model_version": "v2", "last_error": None})


# --- a corrupted or truncated version, an alias to a missing version --------------------------------------


def _corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.unlink()  # the store hard-links version files into place; write a new file, not through the link
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else data.replace(b"free", b"FREE", 1))


@pytest.mark.parametrize("how", ["truncated", "corrupted"])
def test_fault_a_broken_version_is_refused_and_the_previous_model_keeps_serving(
    how: str, tmp_path: Path, clock: Clock, publish: Any
) -> None:
    store = open_store(str(tmp_path / "store"))
    publish(store, "v1", alias="production")
    app = create_app(ModelSource(f"{tmp_path / 'store'}@production", clock=clock), Settings())
    publish(store, "v2", alias="production")
    _corrupt(tmp_path / "store" / "versions" / "v2" / "model.json", how)

    clock.advance(60)
    assert predict_version(app) == "v1"
    status, health = request(app)
    assert (status, health["model_version"]) == (200, "v1")
    assert "model.json does not match its sha256 in the manifest" in health["last_error"]

    # The same broken version at a cold start: nothing to fall back on, so a 503 that says why.
    cold = create_app(ModelSource(f"{tmp_path / 'store'}@production", clock=clock), Settings())
    status, body = request(cold, "POST", "/predict", {"message": "hi"})
    assert (status, body["error"]["code"]) == (503, "model_unavailable")
    assert "model.json does not match its sha256" in body["error"]["message"]


def test_fault_an_alias_to_a_missing_version_keeps_the_loaded_model(
    tmp_path: Path, clock: Clock, publish: Any
) -> None:
    store_dir = tmp_path / "store"
    publish(open_store(str(store_dir)), "v1", alias="production")
    app = create_app(ModelSource(f"{store_dir}@production", clock=clock), Settings())
    alias_file = store_dir / "aliases" / "production.json"
    document = json.loads(alias_file.read_text())
    alias_file.write_text(json.dumps({**document, "version": "v9", "history": ["v1"]}))  # a hand edit gone wrong

    clock.advance(60)
    assert predict_version(app) == "v1"
    status, health = request(app)
    assert (status, health["model_version"]) == (200, "v1")
    assert "v9" in health["last_error"]

    cold = create_app(ModelSource(f"{store_dir}@production", clock=clock), Settings())
    status, body = request(cold, "GET", "/model")
    assert (status, body["error"]["code"]) == (503, "model_unavailable")
    assert "v9" in body["error"]["message"]


# --- two publishers race ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_fault_two_publishers_racing_get_two_versions_and_a_valid_alias(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> None:
    """Two `spam-classifier publish --alias production` processes at once, then the app follows the alias."""
    store_uri = str(tmp_path / "store") if backend == "local" else f"s3://{request.getfixturevalue('s3_bucket')}/race"
    for name, intercept in (("a", -1.0), ("b", -2.0)):
        make_test_artifact(tmp_path / name, version=f"race-{name}", intercept=intercept)
    publishers = [
        subprocess.Popen([str(CLI), "publish", str(tmp_path / name), "--store", store_uri, "--alias", "production"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
        for name in ("a", "b")
    ]  # fmt: skip
    outputs = [publisher.communicate(timeout=60)[0] for publisher in publishers]
    assert [publisher.returncode for publisher in publishers] == [0, 0], outputs

    store = open_store(store_uri)
    assert sorted(info.version for info in store.list_versions()) == ["race-a", "race-b"]
    winner = store.resolve("production")
    app = create_app(ModelSource(f"{store_uri}@production", clock=clock), Settings())
    assert predict_version(app) == winner
    loser = store.rollback(alias="production")  # the other move is in the alias's history: neither was lost
    assert {winner, loser} == {"race-a", "race-b"}
    clock.advance(60)
    assert predict_version(app) == loser


# --- a model that fails to load at INIT -----------------------------------------------------------------


@pytest.fixture
def lambda_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Import `spam_classifier.aws_lambda` afresh with the given environment; logging and event loop restored."""
    logger = logging.getLogger("spam_classifier")
    saved = (logger.level, logger.propagate, list(logger.handlers))

    def load(**environ: str) -> Any:
        for name in _SETTINGS_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        logger.handlers[:] = []
        sys.modules.pop("spam_classifier.aws_lambda", None)
        return importlib.import_module("spam_classifier.aws_lambda")

    try:
        yield load
    finally:
        sys.modules.pop("spam_classifier.aws_lambda", None)
        asyncio.get_event_loop_policy().get_event_loop().close()
        asyncio.set_event_loop(None)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]


def _http_api_event(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    event = json.loads((Path(__file__).with_name("events") / "function-url" / "health.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["body"], event["isBase64Encoded"] = body, False
    return event


def test_fault_model_failing_at_init_is_one_log_line_and_a_503_not_a_crash(
    lambda_module: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact = tmp_path / "model"
    make_test_artifact(artifact)
    _corrupt(artifact / "model.json", "truncated")

    module = lambda_module(MODEL_URI=str(artifact), MODEL_RELOAD_SECONDS="0.05")  # INIT does not raise
    results = []
    for _ in range(3):
        time.sleep(0.06)  # each invocation is past the reload interval, so each one retries the load
        results.append(module.handler(_http_api_event("POST", "/predict", '{"message": "hi"}'), None))
    results.append(module.handler(_http_api_event("GET", "/health"), None))

    message = f"no model is loaded: {artifact}: model.json does not match its sha256 in the manifest (tampered with " \
              "or truncated); refusing to load it"  # fmt: skip
    for result in results:
        assert (result["statusCode"], json.loads(result["body"])) == (
            503,
            {"error": {"code": "model_unavailable", "message": message}},
        )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    failures = [line for line in lines if line["message"] == "model_load_failed"]
    assert len(failures) == 4  # INIT plus one per retry: one line each, no traceback, no crash
    assert all("traceback" not in line and line["level"] == "ERROR" for line in lines)
    assert failures[0] == {
        "time": failures[0]["time"],
        "level": "ERROR",
        "logger": "spam_classifier",
        "message": "model_load_failed",
        "event": "model_load_failed",
        "model_uri": str(artifact),
        "error_type": "ArtifactError",
        "error": message.removeprefix("no model is loaded: "),
        "serving_version": None,
    }  # each field once: the message is the event name, not a JSON copy of the fields


def test_fault_model_failing_at_init_under_the_emulator_initialises_once(tmp_path: Path) -> None:
    """Under the RIE: one INIT, requests answered 503, no traceback and no restart of the runtime."""
    test_aws_lambda = importlib.import_module("test_aws_lambda")
    if not test_aws_lambda.RIE.is_file():
        pytest.fail("the Lambda emulator is missing: run `make tools`")
    function_dir = tmp_path / "function"
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[1] / "src" / "spam_classifier", function_dir / "spam_classifier",
                    ignore=shutil.ignore_patterns("__pycache__", "models"))  # fmt: skip
    make_test_artifact(function_dir / "model")
    _corrupt(function_dir / "model" / "model.json", "corrupted")
    env = {
        **{name: value for name, value in os.environ.items() if name not in _SETTINGS_VARIABLES},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_REGION": "us-east-1",
        "MODEL_URI": str(function_dir / "model"),
        "MODEL_RELOAD_SECONDS": "0",
    }
    log_path = tmp_path / "rie.log"
    with run_emulator(test_aws_lambda.RIE, function_dir, env, log_path) as emulator:
        results = [emulator.invoke(_http_api_event("GET", "/health"))]
        results += [emulator.invoke(_http_api_event("GET", "/model")) for _ in range(4)]
    assert [json.loads(result["body"])["error"]["code"] for result in results] == ["model_unavailable"] * 5
    log = log_path.read_text()
    assert log.count("INIT REPORT") == 1 and log.count('"message": "model_load_failed"') == 1, log
    assert "Traceback" not in log and "Runtime.Error" not in log, log


# --- a slow store during a reload (integration item: the event loop is never blocked) --------------------


@pytest.fixture
def slow_store(
    monkeypatch: pytest.MonkeyPatch, publish: Any, clock: Clock
) -> tuple[ModelSource, threading.Event, threading.Event]:
    """A source serving v1 of memory://slow@production, v2 published behind it, and reads of the alias that
    block until the test sets `release` (`entered` tells that one started)."""
    store = open_store("memory://slow")
    publish(store, "v1", alias="production")
    source = ModelSource("memory://slow@production", clock=clock)
    publish(store, "v2", alias="production")
    entered, release = threading.Event(), threading.Event()
    read_alias = MemoryStore.read_alias

    def slow_read_alias(self: MemoryStore, alias: str, *, etag: str | None = None) -> tuple[str | None, str]:
        entered.set()
        release.wait(10)
        return read_alias(self, alias, etag=etag)

    monkeypatch.setattr(MemoryStore, "read_alias", slow_read_alias)
    assert source.model is not None and source.model.version == "v1"
    return source, entered, release


def test_fault_slow_reload_under_a_server_does_not_stall_other_requests(
    slow_store: tuple[ModelSource, threading.Event, threading.Event], clock: Clock
) -> None:
    source, entered, release = slow_store
    app = create_app(source, Settings(), refresh_in_background=True)  # what `spam-classifier serve` runs

    async def scenario() -> tuple[list[str], float, str]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            clock.advance(60)
            started = time.perf_counter()
            replies = [await client.post("/predict", json={"message": SPAM_DOCS[0]}) for _ in range(20)]
            elapsed = time.perf_counter() - started
            assert await asyncio.to_thread(entered.wait, 10)  # the reload is running, in a worker thread
            versions = [reply.json()["model_version"] for reply in replies]
            release.set()
            for _ in range(500):  # the swap happens when the worker finishes
                if source.model is not None and source.model.version == "v2":
                    break
                await asyncio.sleep(0.01)
            after = (await client.post("/predict", json={"message": SPAM_DOCS[0]})).json()["model_version"]
            return versions, elapsed, after

    versions, elapsed, after = asyncio.run(scenario())
    assert versions == ["v1"] * 20  # served by the current model while the store was stuck
    assert elapsed < 2.0  # not waiting on the 10 s the store could take
    assert after == "v2"


def test_fault_slow_reload_on_lambda_is_inline_so_the_request_sees_the_new_model(
    slow_store: tuple[ModelSource, threading.Event, threading.Event], clock: Clock
) -> None:
    """Lambda freezes the process after each response, so the request that finds a refresh due waits for it."""
    source, entered, release = slow_store
    app = create_app(source, Settings())  # the Lambda handler's configuration
    release.set()  # the store answers at once; what matters is that the refresh is part of the request
    clock.advance(60)
    assert predict_version(app) == "v2"
    assert entered.is_set()


# --- MODEL_CACHE_DIR (integration item: the cache is wired into the Lambda handler and the server) ---------


def test_fault_model_cache_dir_defaults_to_tmp_on_lambda_only() -> None:
    assert read_settings({}).model_cache_dir is None
    assert read_settings({"AWS_LAMBDA_FUNCTION_NAME": "spam"}).model_cache_dir == LAMBDA_MODEL_CACHE_DIR
    assert read_settings({"AWS_LAMBDA_FUNCTION_NAME": "spam", "MODEL_CACHE_DIR": "/mnt/m"}).model_cache_dir == "/mnt/m"
    assert read_settings({"MODEL_CACHE_DIR": "/var/cache/m"}).model_cache_dir == "/var/cache/m"


def test_fault_lambda_handler_keeps_fetched_versions_in_the_cache_dir(
    lambda_module: Callable[..., Any], tmp_path: Path, publish: Any
) -> None:
    publish(open_store("memory://lambda-cache"), "v1", alias="production")
    module = lambda_module(MODEL_URI="memory://lambda-cache@production", MODEL_CACHE_DIR=str(tmp_path / "cache"))
    result = module.handler(_http_api_event("GET", "/health"), None)
    assert json.loads(result["body"])["model_version"] == "v1"
    assert sorted(path.name for path in (tmp_path / "cache").rglob("*") if path.is_file()) == [
        "manifest.json",
        "model.json",
    ]


def test_fault_source_log_lines_carry_each_field_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    logger = logging.getLogger("spam_classifier")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    try:
        configure_logging("INFO")
        ModelSource(str(tmp_path / "nothing"))
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]
    (line,) = capsys.readouterr().out.splitlines()
    assert line.count("model_load_failed") == 2  # "message" and "event"; the fields are not repeated inside it
    assert line.count(str(tmp_path / "nothing")) == 3  # model_uri, plus twice inside the error text
