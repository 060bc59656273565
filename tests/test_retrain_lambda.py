"""Gated retraining on real servers (issue #11, "Done when"): the Lambda handler under the Runtime Interface
Emulator serves ``s3://<bucket>/models@production`` from SeaweedFS; feedback posted through it (SAM-generated
events) is stored; `spam-classifier retrain` against the s3:// store publishes a challenger, promotes it through
the gate, and the running handler serves it after MODEL_RELOAD_SECONDS, without a restart.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emulator import Emulator, function_folder, run_emulator
from retrain_data import champion, honest
from s3_server import s3_client
from spam_classifier.cli import cli
from spam_classifier.feedback import latest_reports, read_feedback
from spam_classifier.store import open_store

pytestmark = [getattr(pytest.mark, "lambda"), pytest.mark.s3]

ROOT = Path(__file__).resolve().parents[1]
RIE = ROOT / ".tools" / "aws-lambda-rie"
EVENTS = Path(__file__).with_name("events")
KEY = "feedback-test-key"  # the x-api-key the SAM events carry (tests/events/generate.sh)


def event(name: str, body: Any = None) -> dict[str, Any]:
    """A SAM-generated HTTP API event, with `body` as JSON encoded the way SAM encodes bodies (base64)."""
    found = json.loads((EVENTS / "http-api" / f"{name}.json").read_text())
    if body is not None:
        found = copy.deepcopy(found)
        found["body"] = base64.b64encode(json.dumps(body).encode()).decode()
        found["isBase64Encoded"] = True
    return found


def served_version(emulator: Emulator) -> str:
    result = emulator.invoke(event("health"))
    assert result["statusCode"] == 200, result
    return json.loads(result["body"])["model_version"]


def test_feedback_through_the_api_then_gated_retrain_then_hot_reload(
    s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if not RIE.is_file():
        pytest.fail(f"{RIE.relative_to(ROOT)} is missing: run `make tools` to install the Lambda emulator")
    bucket = "retrain-lambda-test"
    client = s3_client()
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    work = tmp_path_factory.mktemp("retrain-lambda")
    champion_dir, base = champion(tmp_path_factory.mktemp("retrain-lambda-base"))
    store = open_store(f"s3://{bucket}/models")
    champion_version = store.publish(champion_dir, alias="production")

    function_dir, env = function_folder(work, {
        "MODEL_URI": f"s3://{bucket}/models@production", "MODEL_RELOAD_SECONDS": "1", "FEEDBACK_API_KEY": KEY,
    })  # fmt: skip
    with run_emulator(RIE, function_dir, env, work / "rie.log") as emulator:
        assert served_version(emulator) == champion_version

        # 1. Feedback posted through the API is stored, one object per report.
        reports = [{"message": r.message, "label": r.label} for r in honest(200)]
        for start in range(0, len(reports), 100):
            result = emulator.invoke(event("feedback-batch", {"reports": reports[start:start + 100]}))
            assert result["statusCode"] == 202, result
        latest, conflicts = latest_reports(read_feedback(store))
        assert (len(latest), conflicts) == (400, 0)

        # 2. retrain against the s3:// store publishes a challenger and promotes it through the gate.
        report = work / "retrain.json"
        result = CliRunner().invoke(cli, [
            "retrain", "--store", store.uri, "--alias", "production", "--data", base, "--model", "seed",
            "--recall-margin", "0.03", "--jobs", "1", "--report", str(report),
        ])  # fmt: skip
        assert result.exit_code == 0, result.output
        found = json.loads(report.read_text())
        assert found["decision"] == "promote" and found["counts"]["feedback_used"] == 300
        challenger = found["challenger"]
        assert store.resolve("production") == challenger != champion_version

        # 3. The running handler serves the new version after MODEL_RELOAD_SECONDS, without a restart.
        deadline = time.monotonic() + 20
        while served_version(emulator) != challenger:
            assert time.monotonic() < deadline, "the handler did not reload the promoted version"
            time.sleep(0.5)
        prediction = emulator.invoke(event("predict-spam"))
        assert json.loads(prediction["body"])["model_version"] == challenger
