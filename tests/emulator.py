"""Run a Lambda function folder under the AWS Lambda Runtime Interface Emulator (shared by the RIE tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import stop_process

__all__ = ["Emulator", "free_port", "function_folder", "run_emulator"]

ROOT = Path(__file__).resolve().parents[1]
#: The settings a test's function environment drops from the test process's own.
_SETTINGS = ("MODEL_URI", "MODEL_RELOAD_SECONDS", "API_KEY", "FEEDBACK_API_KEY", "FEEDBACK_URI", "LOG_LEVEL")


def function_folder(work: Path, settings: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A Lambda function folder (this checkout's package, no bundled model) under `work`, and its environment.

    The environment is the test process's (so boto3 finds SeaweedFS) without its server settings, plus
    `settings` and Lambda's own memory and timeout variables.
    """
    function_dir = work / "function"
    shutil.copytree(ROOT / "src" / "spam_classifier", function_dir / "spam_classifier",
                    ignore=shutil.ignore_patterns("__pycache__", "models"))  # fmt: skip
    env = {
        **{name: value for name, value in os.environ.items() if name not in _SETTINGS},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
        **settings,
    }
    return function_dir, env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """A running RIE + awslambdaric process and its log."""

    def __init__(self, url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/2015-03-31/functions/function/invocations", json=event, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def run_emulator(rie: Path, function_dir: Path, env: dict[str, str], log_path: Path,
                 handler: str = "spam_classifier.aws_lambda.handler") -> Iterator[Emulator]:
    """Start `handler` from `function_dir` under the RIE on free loopback ports; stop it on exit."""
    port, api_port = free_port(), free_port()  # both set: a second RIE on the default API port crashes
    command = [
        str(rie), "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
        "--runtime-api-address", f"127.0.0.1:{api_port}",
        "python", "-m", "awslambdaric", handler,
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=function_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"the RIE exited with {process.returncode}:\n{log_path.read_text()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the RIE did not listen within 30 s:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield Emulator(f"http://127.0.0.1:{port}", log_path)
    finally:
        stop_process(process)
