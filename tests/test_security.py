"""Security properties of the serving path, each checked end to end.

- The serving path never unpickles: a fresh interpreter builds the Lambda handler and the server's app over an
  artifact that also holds a booby-trapped ``model.joblib``, serves requests, and never opens that file or imports
  a pickle-based loader.
- Every artifact file the server reads is checked against its sha256 before a model is built.
- The body limit holds on a real socket before the body is read.
- The API key is compared with ``hmac.compare_digest``.
- No log line carries message text: requests, errors, the Lambda handler's invalid events, and the model source.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import make_test_artifact, stop_process, tiny_model_spec
from spam_classifier import app as app_module
from spam_classifier.app import configure_logging, create_app
from spam_classifier.artifact import write_artifact
from spam_classifier.config import Settings
from spam_classifier.source import ModelSource
from spam_classifier.store import open_store

CLI = Path(sys.executable).with_name("spam-classifier")
MARKER = "zq7-UNIQUE-MARKER-4f1c"  # a string that only the request bodies below contain


class _Trap:
    """Pickles into a call that creates a file: if anything unpickles model.joblib, the file appears."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


@pytest.fixture
def trapped_artifact(tmp_path: Path) -> tuple[Path, Path]:
    """A valid artifact whose (manifest-listed, correctly hashed) model.joblib runs code when unpickled."""
    sprung = tmp_path / "unpickled"
    manifest = {"version": "v1", "created": "2026-01-01T00:00:00Z", "model_kind": "test", "metrics": {}}
    directory = tmp_path / "artifact"
    write_artifact(directory, model=tiny_model_spec(), manifest=manifest,
                   extra_files={"model.joblib": pickle.dumps(_Trap(sprung))})  # fmt: skip
    assert "model.joblib" in json.loads((directory / "manifest.json").read_text())["files"]
    return directory, sprung


_NEVER_UNPICKLES = textwrap.dedent(
    """
    import json, os, sys
    opened = []
    sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
    PICKLE_LOADERS = ("pickle", "_pickle", "joblib", "sklearn", "numpy", "scipy", "cloudpickle")

    from spam_classifier import aws_lambda, server  # the Lambda handler, and the module `serve` runs
    from spam_classifier.app import create_app
    from spam_classifier.config import read_settings
    from spam_classifier.source import ModelSource

    event = json.load(open(sys.argv[1]))
    event["body"], event["isBase64Encoded"] = json.dumps({"message": "WINNER free prize"}), False
    lambda_reply = aws_lambda.handler(event, None)

    import asyncio
    settings = read_settings()
    app = create_app(ModelSource(settings.model_uri), settings, refresh_in_background=True)  # as server.run_server
    sent = []
    async def receive():
        return {"type": "http.request", "body": b'{"message": "lunch at noon?"}', "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))

    print(json.dumps({
        "lambda_status": lambda_reply["statusCode"],
        "lambda_body": json.loads(lambda_reply["body"]),
        "server_status": sent[0]["status"],
        "server_body": json.loads(sent[1]["body"]),
        "pickle_modules": sorted(name for name in sys.modules if name.split(".")[0] in PICKLE_LOADERS),
        "joblib_opens": [path for path in opened if path.endswith("model.joblib")],
        "artifact_opens": sorted({os.path.basename(p) for p in opened if p.startswith(sys.argv[2] + os.sep)}),
    }))
    """
)


def test_security_serving_path_never_unpickles(trapped_artifact: tuple[Path, Path], tmp_path: Path) -> None:
    directory, sprung = trapped_artifact
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MODEL_", "API_KEY"))}
    env["MODEL_URI"] = str(directory)
    event = Path(__file__).with_name("events") / "http-api" / "predict-spam.json"
    result = subprocess.run([sys.executable, "-c", _NEVER_UNPICKLES, str(event), str(directory)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    report = json.loads(result.stdout.splitlines()[-1])

    assert (report["lambda_status"], report["lambda_body"]["prediction"]) == (200, "spam")
    assert (report["server_status"], report["server_body"]["prediction"]) == (200, "ham")
    assert report["pickle_modules"] == []
    assert report["joblib_opens"] == []
    assert report["artifact_opens"] == ["manifest.json", "model.json"]  # what the server reads, and nothing else
    assert not sprung.exists()


def test_security_the_trap_would_spring_if_unpickled(trapped_artifact: tuple[Path, Path]) -> None:
    """The control for the test above: the trap is real."""
    directory, sprung = trapped_artifact
    pickle.loads((directory / "model.joblib").read_bytes())
    assert sprung.exists()


# --- sha256 of every file the server reads --------------------------------------------------------------


def _request(app: Any, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
    transport = httpx.ASGITransport(app=app)

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.request(method, path, json=payload)

    import asyncio

    response = asyncio.run(run())
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("model.json", lambda data: data.replace(b'"threshold":0.5', b'"threshold":0.9'), "does not match its sha256"),
        ("model.json", lambda data: data + b" ", "does not match its sha256"),
        ("model.json", lambda data: b"", "does not match its sha256"),
        ("manifest.json", lambda data: data.replace(b'"format_version": 1', b'"format_version": 2'), "format_version"),
        ("manifest.json", lambda data: data[:-20], "manifest.json is not valid JSON"),
    ],
)
def test_security_an_artifact_file_that_fails_its_check_is_never_served(
    tmp_path: Path, name: str, change: Any, message: str
) -> None:
    directory = tmp_path / "artifact"
    make_test_artifact(directory)
    path = directory / name
    path.write_bytes(change(path.read_bytes()))
    app = create_app(ModelSource(str(directory)), Settings())
    status, body = _request(app, "POST", "/predict", {"message": "hi"})
    assert (status, body["error"]["code"]) == (503, "model_unavailable")
    assert message in body["error"]["message"]


def test_security_a_store_version_with_another_versions_manifest_is_never_served(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    for version, intercept in (("v1", -1.0), ("v2", 5.0)):
        make_test_artifact(tmp_path / version, version=version, intercept=intercept)
        store.publish(tmp_path / version, alias="production")
    versions = tmp_path / "store" / "versions"
    (versions / "v2" / "model.json").unlink()  # a swapped copy: v1's files under v2's name
    shutil.copy(versions / "v1" / "model.json", versions / "v2" / "model.json")
    (versions / "v2" / "manifest.json").unlink()
    shutil.copy(versions / "v1" / "manifest.json", versions / "v2" / "manifest.json")
    status, body = _request(create_app(ModelSource(f"{tmp_path / 'store'}@production"), Settings()), "GET", "/model")
    assert (status, body["error"]["code"]) == (503, "model_unavailable")


# --- the body limit on a real socket ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`spam-classifier serve` with the tiny model on a free loopback port (default limits: 1 MB bodies)."""
    directory = tmp_path_factory.mktemp("security") / "artifact"
    make_test_artifact(directory)
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MODEL_", "MAX_", "API_KEY"))}
    process = subprocess.Popen([str(CLI), "serve", "--model", str(directory), "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "spam-classifier serve did not start"
            time.sleep(0.05)
        yield url
    finally:
        stop_process(process)


def _send_until_answered(url: str, head: bytes, chunk: bytes, *, limit: int) -> tuple[bytes, int]:
    """Send `head`, then `chunk` after `chunk` until the server answers or `limit` body bytes went out.

    Returns (the response's first bytes, body bytes sent before it arrived).
    """
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                answer = sock.recv(65536)
                if answer:
                    return answer, sent
            except BlockingIOError:
                pass
            if sent < limit:
                try:
                    sent += sock.send(chunk)
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    time.sleep(0.01)
            else:
                time.sleep(0.01)
        raise AssertionError(f"no answer after sending {sent} body bytes")


def test_security_a_declared_10_mb_body_is_refused_before_any_of_it_is_read(server_url: str) -> None:
    head = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10485760\r\n\r\n")  # fmt: skip
    answer, sent = _send_until_answered(server_url, head, b"", limit=0)  # the body never goes out
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"code":"body_too_large"' in answer and sent == 0


def test_security_a_streamed_10_mb_body_is_refused_after_the_limit_not_at_the_end(server_url: str) -> None:
    """A chunked body (no Content-Length) of what would be 10 MB: the client stops after 3 MB and still gets the 413.

    Bytes sent are not bytes read (loopback socket buffers hold megabytes), so the proof is that the answer comes
    while most of the body was never sent: a server that read to the end would never answer.
    """
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"  # 64 KB chunks
    answer, sent = _send_until_answered(server_url, head, chunk, limit=3 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"code":"body_too_large"' in answer
    assert sent <= 3 * 1024 * 1024 + len(chunk)


# --- the API key ----------------------------------------------------------------------------------------


def test_security_api_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every check goes through hmac.compare_digest, whether the key is right, wrong, shorter or longer.

    (tests/test_app.py checks the same for one right key.)"""
    calls: list[tuple[bytes, bytes]] = []
    real = app_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    make_test_artifact(tmp_path / "artifact")
    app = create_app(ModelSource(str(tmp_path / "artifact")), Settings(api_key="right-key"))
    statuses = []
    for key in ("right-key", "wrong-key", "r", "right-key-and-more", ""):

        async def run(key: str = key) -> int:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
                return (await client.get("/model", headers={"x-api-key": key})).status_code

        import asyncio

        statuses.append(asyncio.run(run()))
    assert statuses == [200, 401, 401, 401, 401]
    assert calls == [(key.encode(), b"right-key") for key in ("right-key", "wrong-key", "r", "right-key-and-more", "")]


# --- no message text in any log line ------------------------------------------------------------------------


def test_security_logs_never_contain_message_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store("memory://security-logs")
    make_test_artifact(tmp_path / "v1", version="v1")
    store.publish(tmp_path / "v1", alias="production")
    logger = logging.getLogger("spam_classifier")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    try:
        configure_logging("DEBUG")
        source = ModelSource("memory://security-logs@production", reload_seconds=0.001)
        app = create_app(source, Settings(max_message_bytes=1000, max_batch=3))
        secret = f"WINNER {MARKER} claim your prize"
        time.sleep(0.01)  # every request below also runs a due refresh, so the source logs too
        for method, path, payload in [
            ("POST", "/predict", {"message": secret}),
            ("POST", "/predict", {"messages": [secret, "lunch?", secret]}),
            ("POST", "/predict", {"message": secret, "format": secret}),  # 400, naming the field
            ("POST", "/predict", {secret: secret}),  # 400: unknown field (the message quotes field names)
            ("POST", "/predict", {"message": secret * 100}),  # 413
            ("POST", "/predict", {"messages": [secret] * 4}),  # 413 batch
            ("POST", "/predict", {"message": [secret]}),  # 400 type
            ("GET", f"/{MARKER}", None),  # 404 quoting the path
        ]:
            _request(app, method, path, payload)
        store.publish(_artifact_dir(tmp_path, "v2"), alias="production")
        time.sleep(0.01)
        _request(app, "POST", "/predict", {"message": secret})  # the reload's log line, during a request
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]
    output = capsys.readouterr().out
    lines = [json.loads(line) for line in output.splitlines()]
    assert len([line for line in lines if line["message"] == "request"]) == 9
    assert any(line["message"] == "model_reloaded" for line in lines)
    assert MARKER not in output and "WINNER" not in output


def _artifact_dir(tmp_path: Path, version: str) -> Path:
    make_test_artifact(tmp_path / version, version=version, intercept=-2.0)
    return tmp_path / version


def test_security_lambda_logs_never_contain_event_content(tmp_path: Path) -> None:
    """The Lambda handler in a fresh process: its stdout (CloudWatch) never shows a body or a header value."""
    make_test_artifact(tmp_path / "model")
    script = textwrap.dedent(
        f"""
        import json, sys
        from spam_classifier import aws_lambda
        event = json.load(open(sys.argv[1]))
        for body, encoded in [('{{"message": "WINNER {MARKER}"}}', False), ('{{"text": "{MARKER}"}}', False),
                              ("{MARKER}xyz", True)]:  # not base64: a 400 from the handler itself
            event["body"], event["isBase64Encoded"] = body, encoded
            event["headers"]["x-marker"] = "{MARKER}"
            print("status", aws_lambda.handler(event, None)["statusCode"], file=sys.stderr)
        """
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MODEL_", "API_KEY"))}
    env["MODEL_URI"] = str(tmp_path / "model")
    event = Path(__file__).with_name("events") / "http-api" / "predict-spam.json"
    result = subprocess.run([sys.executable, "-c", script, str(event)], env=env, capture_output=True, text=True,
                            timeout=60, check=True)  # fmt: skip
    assert result.stderr.split() == ["status", "200", "status", "400", "status", "400"]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["message"] for line in lines] == ["model_loaded", "request", "request", "invalid_event"]
    assert MARKER not in result.stdout
