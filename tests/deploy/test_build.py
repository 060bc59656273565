"""`sam build -t deploy/template.yaml`: a lean package (runtime wheels only, cpython-312 .pyc, <= 15 MB) that serves
predictions under the Lambda Runtime Interface Emulator with the model read from S3 (SeaweedFS), as in production.

The build runs once per module into a temporary folder. The SAM CLI, the emulator and the python3.12 runtime
stand-in (awslambdaric + boto3, what Lambda's runtime provides) come from `make tools`; without them these tests
fail, on purpose, rather than skip.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import make_test_artifact
from emulator import Emulator, run_emulator
from spam_classifier.scorer import Model, load_model
from spam_classifier.store import open_store

pytestmark = getattr(pytest.mark, "lambda")

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "template.yaml"
TOOLS = ROOT / ".tools"
SAM = TOOLS / "sam-venv" / "bin" / "sam"
RIE = TOOLS / "aws-lambda-rie"
LAMBDA_PYTHON = TOOLS / "lambda-python3.12" / "bin" / "python"
EVENTS = ROOT / "tests" / "events" / "http-api"
MAX_UNZIPPED_BYTES = 15_000_000
#: Names that must not be in the package: the training stack, the local server, what the Lambda runtime provides.
FORBIDDEN = {"sklearn", "scikit_learn", "numpy", "scipy", "joblib", "matplotlib", "uvicorn", "click", "boto3",
             "botocore", "s3transfer", "awslambdaric", "tests", "test"}  # fmt: skip
_SETTINGS_VARIABLES = ("MODEL_URI", "MODEL_RELOAD_SECONDS", "MAX_BODY_BYTES", "MAX_MESSAGE_BYTES", "MAX_BATCH",
                       "CORS_ORIGINS", "API_KEY", "LOG_LEVEL", "PYTHONPYCACHEPREFIX")  # fmt: skip


def require_tools() -> None:
    missing = [path.relative_to(ROOT) for path in (SAM, RIE, LAMBDA_PYTHON) if not path.is_file()]
    if missing:
        pytest.fail(f"{', '.join(map(str, missing))} missing: run `make tools`", pytrace=False)



def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


@dataclass(frozen=True)
class _Build:
    """What `sam build` printed, and the function folder it built."""

    output: str
    function_dir: Path


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> _Build:
    """`sam build` into a temporary folder, with the runtime stand-in's python3.12 as the target interpreter."""
    require_tools()
    work = tmp_path_factory.mktemp("sam")
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "LAMBDA_PYTHON": str(LAMBDA_PYTHON),  # deploy/Makefile's target interpreter
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # uv, for the wheels
    }
    command = [str(SAM), "build", "-t", str(TEMPLATE), "--build-dir", str(work / "build"), "--cache-dir",
               str(work / "cache")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return _Build(output=result.stdout + result.stderr, function_dir=work / "build" / "ClassifierFunction")


@pytest.fixture(scope="module")
def function_dir(sam_build: _Build) -> Path:
    return sam_build.function_dir


def test_sam_build_succeeds_and_reports_the_size(sam_build: _Build) -> None:
    assert "Build Succeeded" in sam_build.output
    assert re.search(
        r"package \S+ClassifierFunction: [0-9.]+ MB unzipped, [0-9.]+ MB zipped, \d+ files", sam_build.output
    )


def test_built_package_holds_only_the_runtime(function_dir: Path) -> None:
    top = {path.name for path in function_dir.iterdir()}
    assert {name for name in top if not name.endswith(".dist-info")} == {
        "spam_classifier", "mangum", "typing_extensions.py", "__pycache__",
    }  # fmt: skip
    everything = [path.relative_to(function_dir) for path in function_dir.rglob("*")]
    assert not [path for path in everything if FORBIDDEN & set(path.parts)]
    assert not [path for path in everything if path.suffix in (".so", ".joblib", ".pyi")]
    models = function_dir / "spam_classifier" / "models"
    for model_dir in models.iterdir() if models.is_dir() else ():
        assert {path.name for path in model_dir.iterdir()} <= {"model.json", "manifest.json"}


def test_built_package_has_unchecked_cpython312_pyc_for_every_module(function_dir: Path) -> None:
    magic = subprocess.run(
        [str(LAMBDA_PYTHON), "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    modules = sorted(function_dir.rglob("*.py"))
    assert len(modules) > 20
    for module in modules:
        header = (module.parent / "__pycache__" / f"{module.stem}.cpython-312.pyc").read_bytes()[:8]
        assert header[:4].hex() == magic, module
        assert int.from_bytes(header[4:8], "little") == 0b01, module  # hash-based, source not checked
    stray = [path for path in function_dir.rglob("*.pyc") if ".cpython-312." not in path.name]
    assert not stray


def test_built_package_imports_from_its_pyc(function_dir: Path) -> None:
    """With nothing writable (as on Lambda), every module of the package loads from its .pyc, none is compiled."""
    env = {name: value for name, value in os.environ.items() if name not in _SETTINGS_VARIABLES}
    code = "import json, sys, spam_classifier.aws_lambda; print(json.dumps([getattr(m, '__file__', None) or '' "
    code += "for m in list(sys.modules.values())]))"
    result = subprocess.run(
        [str(LAMBDA_PYTHON), "-v", "-c", code],
        cwd=function_dir, env={**env, "PYTHONDONTWRITEBYTECODE": "1", "MODEL_URI": str(function_dir / "none")},
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    loaded = sorted(path for path in json.loads(result.stdout.splitlines()[-1]) if path.startswith(str(function_dir)))
    assert any(path.endswith("spam_classifier/aws_lambda.py") for path in loaded)
    from_pyc = set(re.findall(r"^# \S+\.cpython-312\.pyc matches (\S+\.py)$", result.stderr, flags=re.MULTILINE))
    assert [path for path in loaded if path not in from_pyc] == []


def test_built_package_is_at_most_15_mb(function_dir: Path, record_property: Callable[[str, object], None]) -> None:
    size = sum(path.stat().st_size for path in function_dir.rglob("*") if path.is_file())
    record_property("unzipped_bytes", size)
    assert size <= MAX_UNZIPPED_BYTES


def test_build_script_ships_a_model_without_its_pickle_caches_or_tests(tmp_path: Path) -> None:
    """scripts/build_lambda.py on a made-up package (no requirements, so no index is needed)."""
    require_tools()
    package = tmp_path / "package"
    for name in ("__init__.py", "models/default/model.json", "models/default/manifest.json",
                 "models/default/model.joblib", "__pycache__/stale.cpython-311.pyc", "tests/test_it.py"):  # fmt: skip
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text("")
    result = subprocess.run(
        [str(LAMBDA_PYTHON), str(ROOT / "scripts" / "build_lambda.py"), "--out", str(tmp_path / "out"), "--source",
         str(package), "--pure"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    built = sorted(str(path.relative_to(tmp_path / "out")) for path in (tmp_path / "out").rglob("*") if path.is_file())
    assert built == [
        "package/__init__.py",
        "package/__pycache__/__init__.cpython-312.pyc",
        "package/models/default/manifest.json",
        "package/models/default/model.json",
    ]
    assert "0.00 MB unzipped" in result.stdout


# --- the built function under the Runtime Interface Emulator, model from S3 -------------------------------


@pytest.fixture
def published(s3_bucket: str, tmp_path: Path) -> tuple[str, Model]:
    """The tiny test model published to s3://<bucket>/models as version v1 and alias production."""
    artifact_dir = tmp_path / "v1"
    make_test_artifact(artifact_dir, version="v1")
    open_store(f"s3://{s3_bucket}/models").publish(artifact_dir, alias="production")
    return s3_bucket, load_model(artifact_dir)


@pytest.fixture
def emulator(function_dir: Path, published: tuple[str, Model], tmp_path: Path) -> Iterator[Emulator]:
    bucket, _ = published
    env = {
        **{name: value for name, value in os.environ.items() if name not in _SETTINGS_VARIABLES},
        "PATH": f"{LAMBDA_PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's code folder is read-only
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
        # what the template sets (AWS_ENDPOINT_URL_S3 and the keys come from the s3_endpoint fixture)
        "MODEL_URI": f"s3://{bucket}/models@production",
        "MODEL_RELOAD_SECONDS": "0.001",  # check the alias on (nearly) every request
        "LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "rie.log"
    with run_emulator(RIE, function_dir, env, log_path) as running:
        yield running


def prediction(model: Model, message: str, version: str) -> dict[str, Any]:
    probability = model.predict_proba([message])[0]
    return {"prediction": model.label(probability), "spam_probability": probability, "threshold": 0.5,
            "model_version": version}  # fmt: skip


def body_of(event: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"])


def answer(emulator: Emulator, name: str) -> tuple[int, Any]:
    result = emulator.invoke(load_event(name))
    assert result["headers"]["content-type"] == "application/json", result
    return result["statusCode"], json.loads(result["body"])


@pytest.mark.s3
def test_built_function_serves_predictions_from_the_s3_model(
    emulator: Emulator, published: tuple[str, Model], record_property: Callable[[str, object], None]
) -> None:
    _, model = published
    spam = body_of(load_event("predict-spam"))["message"]
    batch = body_of(load_event("predict-batch"))["messages"]
    assert answer(emulator, "predict-spam") == (200, prediction(model, spam, "v1"))
    assert prediction(model, spam, "v1")["prediction"] == "spam"
    assert answer(emulator, "predict-batch") == (
        200,
        {"predictions": [prediction(model, message, "v1") for message in batch], "model_version": "v1"},
    )
    assert answer(emulator, "health") == (
        200,
        {"status": "ok", "model_loaded": True, "model_version": "v1", "last_error": None},
    )
    assert answer(emulator, "model") == (200, model.manifest)
    log = emulator.log()
    reports = re.findall(r"INIT REPORT\(durationMs: ([0-9.]+)\)", log)
    assert len(reports) == 1, log
    assert re.search(r'\\"event\\": \\"model_loaded\\".*\\"version\\": \\"v1\\"', log) or (
        '"event": "model_loaded"' in log and '"version": "v1"' in log
    ), log
    record_property("init_ms", float(reports[0]))  # measured, not asserted: bench/deploy_size_coldstart.py


@pytest.mark.s3
def test_built_function_follows_promote_and_rollback_and_refuses_a_tampered_version(
    emulator: Emulator, published: tuple[str, Model], tmp_path: Path
) -> None:
    bucket, _ = published
    assert answer(emulator, "health")[1]["model_version"] == "v1"
    make_test_artifact(tmp_path / "v2", version="v2", intercept=-5.0)
    store = open_store(f"s3://{bucket}/models")
    store.publish(tmp_path / "v2", alias="production")  # the next request sees the alias moved
    model_v2 = load_model(tmp_path / "v2")
    spam = body_of(load_event("predict-spam"))["message"]
    assert answer(emulator, "predict-spam") == (200, prediction(model_v2, spam, "v2"))
    store.rollback(alias="production")
    assert answer(emulator, "health")[1]["model_version"] == "v1"

    # A version tampered with after its checks, then promoted by mistake: refused, v1 keeps serving.
    make_test_artifact(tmp_path / "v3", version="v3", intercept=5.0)
    store.publish(tmp_path / "v3", alias="production")
    import boto3

    s3 = boto3.client("s3")
    key = "models/versions/v3/model.json"
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=original.replace(b'"free"', b'"fred"'))
    assert answer(emulator, "health")[1]["model_version"] == "v1"
    model_v1 = published[1]
    assert answer(emulator, "predict-spam") == (200, prediction(model_v1, spam, "v1"))
