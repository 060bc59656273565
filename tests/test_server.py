"""`spam-classifier serve` over a real loopback socket: every route, the limits, CORS, the API key and the logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import HAM_DOCS, SPAM_DOCS, make_test_artifact, stop_process
from spam_classifier.scorer import load_model

CLI = Path(sys.executable).with_name("spam-classifier")
API_KEY = "test-key-123"
SECRET = "WINNER my secret prize code 99887766"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    """A `spam-classifier serve` subprocess and what it printed."""

    def __init__(self, process: subprocess.Popen[str], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("server") / "artifact"
    make_test_artifact(directory)
    return directory


@pytest.fixture(scope="module")
def server(artifact_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("server-log") / "stdout.log"
    env = {
        **{name: value for name, value in os.environ.items() if name not in ("MODEL_URI", "API_KEY")},
        "MAX_BODY_BYTES": "4096",
        "MAX_MESSAGE_BYTES": "1024",
        "MAX_BATCH": "3",
        "CORS_ORIGINS": "https://app.example.com",
        "API_KEY": API_KEY,
    }
    command = [str(CLI), "serve", "--model", str(artifact_dir), "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"spam-classifier serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"spam-classifier serve did not answer within 30 s:\n{log_path.read_text()}")
        time.sleep(0.05)
    yield _Server(process, url, log_path)
    stop_process(process)


@pytest.fixture(scope="module")
def client(server: _Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"x-api-key": API_KEY}, timeout=10) as http:
        yield http


def expected_prediction(artifact_dir: Path, message: str) -> dict[str, Any]:
    model = load_model(artifact_dir)
    probability = model.predict_proba([message])[0]
    return {
        "prediction": model.label(probability),
        "spam_probability": probability,
        "threshold": 0.5,
        "model_version": "v1",
    }


def test_serve_predict_one_message(client: httpx.Client, artifact_dir: Path) -> None:
    response = client.post("/predict", json={"message": SPAM_DOCS[0]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected_prediction(artifact_dir, SPAM_DOCS[0])
    assert response.json()["prediction"] == "spam"


def test_serve_predict_batch(client: httpx.Client, artifact_dir: Path) -> None:
    response = client.post("/predict", json={"messages": [HAM_DOCS[0], SPAM_DOCS[1]]})
    assert response.status_code == 200
    assert response.json() == {
        "predictions": [
            expected_prediction(artifact_dir, HAM_DOCS[0]),
            expected_prediction(artifact_dir, SPAM_DOCS[1]),
        ],
        "model_version": "v1",
    }


def test_serve_health_model_openapi_and_docs(client: httpx.Client, artifact_dir: Path) -> None:
    health = client.get("/health")
    assert (health.status_code, health.json()) == (
        200,
        {"status": "ok", "model_loaded": True, "model_version": "v1", "last_error": None},
    )
    manifest = client.get("/model")
    assert (manifest.status_code, manifest.json()) == (200, load_model(artifact_dir).manifest)
    openapi = client.get("/openapi.json")
    assert openapi.status_code == 200
    assert openapi.json()["openapi"] == "3.1.0"
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"] == "text/html; charset=utf-8"
    assert "<form" in docs.text


def test_serve_head_and_options(client: httpx.Client) -> None:
    head = client.head("/health")
    assert (head.status_code, head.content) == (200, b"")
    options = client.options("/predict")
    assert (options.status_code, options.headers["allow"]) == (204, "OPTIONS, POST")


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_serve_client_errors(client: httpx.Client) -> None:
    assert _error(client.post("/predict", content=b"{oops", headers={"content-type": "application/json"})) == (
        400,
        "invalid_json",
    )
    assert _error(client.post("/predict", json={"text": "hi"})) == (400, "invalid_request")
    assert _error(client.post("/predict", content=b"message=hi", headers={"content-type": "text/plain"})) == (
        415,
        "unsupported_media_type",
    )
    assert _error(client.get("/nope")) == (404, "not_found")
    not_allowed = client.put("/health")
    assert _error(not_allowed) == (405, "method_not_allowed")
    assert not_allowed.headers["allow"] == "GET, HEAD, OPTIONS"
    assert _error(client.post("/predict", json={"message": "x" * 1025})) == (413, "message_too_large")
    assert _error(client.post("/predict", json={"messages": ["a", "b", "c", "d"]})) == (413, "batch_too_large")


def test_serve_body_over_the_limit_by_content_length_is_413(client: httpx.Client) -> None:
    response = client.post("/predict", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert response.json() == {
        "error": {
            "code": "body_too_large",
            "message": "the body is 5000 bytes; the limit is 4096 bytes (MAX_BODY_BYTES)",
        }
    }
    assert response.status_code == 413


def test_serve_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b"x" * 1000

    response = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers  # sent as Transfer-Encoding: chunked
    assert _error(response) == (413, "body_too_large")


def test_serve_api_key_is_required_except_for_health(server: _Server) -> None:
    assert _error(httpx.post(f"{server.url}/predict", json={"message": "hi"})) == (401, "unauthorized")
    assert _error(httpx.get(f"{server.url}/model", headers={"x-api-key": "wrong"})) == (401, "unauthorized")
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_serve_cors_preflight_and_response_headers(client: httpx.Client) -> None:
    origin = {"origin": "https://app.example.com"}
    preflight = client.options("/predict", headers={**origin, "access-control-request-method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert preflight.headers["access-control-allow-methods"] == "OPTIONS, POST"
    response = client.post("/predict", json={"message": "hi"}, headers=origin)
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


def test_serve_logs_json_lines_without_message_text(client: httpx.Client, server: _Server) -> None:
    client.post("/predict", json={"message": SECRET}, headers={"x-request-id": "server-log-1"})
    client.post("/predict", json={"messages": [SECRET, SECRET]}, headers={"x-request-id": "server-log-2"})
    deadline = time.monotonic() + 5
    while not any(line.get("request_id") == "server-log-2" for line in server.log_lines()):
        assert time.monotonic() < deadline, server.log_path.read_text()
        time.sleep(0.05)
    lines = {line["request_id"]: line for line in server.log_lines() if "request_id" in line}
    assert {key: lines["server-log-1"][key] for key in ("route", "status", "label", "model_version")} == {
        "route": "/predict",
        "status": 200,
        "label": "spam",
        "model_version": "v1",
    }
    assert lines["server-log-2"]["labels"] == {"ham": 0, "spam": 2}
    assert isinstance(lines["server-log-1"]["latency_ms"], float)
    text = server.log_path.read_text()
    assert "secret" not in text and "99887766" not in text


def test_serve_refuses_to_start_without_a_model(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CLI), "serve", "--model", str(tmp_path / "missing"), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"Error: cannot serve: no model artifact at {tmp_path / 'missing'}" in result.stderr
