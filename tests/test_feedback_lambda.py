"""POST /feedback on real servers (issue #11, "Done when"): the Lambda handler under the Runtime Interface Emulator,
serving a model from SeaweedFS and writing reports there, driven by the SAM-generated events in tests/events/.

One emulator for the module: it follows ``s3://<bucket>/models@production`` with FEEDBACK_API_KEY set, as the
SAM template deploys it. The test steps share the bucket, so they run in file order.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import make_test_artifact
from emulator import Emulator, function_folder, run_emulator
from s3_server import s3_client
from spam_classifier.feedback import message_key
from spam_classifier.store import open_store

pytestmark = [getattr(pytest.mark, "lambda"), pytest.mark.s3]

ROOT = Path(__file__).resolve().parents[1]
RIE = ROOT / ".tools" / "aws-lambda-rie"
EVENTS = Path(__file__).with_name("events")
EVENT_SOURCES = ["http-api", "rest-api", "alb", "function-url"]
KEY = "feedback-test-key"
SPAM = "WINNER!! You have won a free prize, claim now"
HAM = "Are we still on for lunch tomorrow at noon?"
OTHER_SPAM = "Free entry to win a cash prize, text WIN to 80086"


def load_event(source: str, name: str) -> dict[str, Any]:
    return json.loads((EVENTS / source / f"{name}.json").read_text())


def without_key(event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["headers"].pop("x-api-key")
    event.get("multiValueHeaders", {}).pop("x-api-key", None)
    return event


def answer(result: dict[str, Any]) -> tuple[int, Any]:
    return result["statusCode"], json.loads(result["body"])


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    """A versioned bucket holding the model store, the tiny test model published as production."""
    name = "feedback-lambda-test"
    client = s3_client()
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture(scope="module")
def emulator(bucket: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    if not RIE.is_file():
        pytest.fail(f"{RIE.relative_to(ROOT)} is missing: run `make tools` to install the Lambda emulator")
    work = tmp_path_factory.mktemp("feedback-lambda")
    make_test_artifact(work / "model")
    open_store(f"s3://{bucket}/models").publish(work / "model", alias="production")
    function_dir, env = function_folder(work, {"MODEL_URI": f"s3://{bucket}/models@production",
                                               "FEEDBACK_API_KEY": KEY})
    with run_emulator(RIE, function_dir, env, work / "rie.log") as running:
        yield running


def stored(bucket: str) -> dict[str, dict[str, Any]]:
    """Every object under the store's feedback/ area, read behind the API's back."""
    client = s3_client()
    listing = client.list_objects_v2(Bucket=bucket, Prefix="models/feedback/")
    keys = [item["Key"] for item in listing.get("Contents", [])]
    return {key: json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys}


def test_lambda_feedback_without_the_key_is_refused_and_stores_nothing(emulator: Emulator, bucket: str) -> None:
    for source in EVENT_SOURCES:
        status, body = answer(emulator.invoke(without_key(load_event(source, "feedback-spam"))))
        assert status == 401
        assert body == {"error": {"code": "unauthorized", "message": "this API needs an X-API-Key header"}}
    assert stored(bucket) == {}


def test_lambda_feedback_is_stored_once_per_distinct_report(emulator: Emulator, bucket: str) -> None:
    spam_key = f"feedback/{message_key(SPAM)}/spam.json"
    answers = [answer(emulator.invoke(load_event(source, "feedback-spam"))) for source in EVENT_SOURCES]
    assert answers == [(202, {"key": spam_key, "label": "spam", "new": True})] + [
        (202, {"key": spam_key, "label": "spam", "new": False})
    ] * 3

    batch = answer(emulator.invoke(load_event("http-api", "feedback-batch")))
    assert batch == (
        202,
        {
            "reports": [
                {"key": f"feedback/{message_key(HAM)}/ham.json", "label": "ham", "new": True},
                {"key": spam_key, "label": "spam", "new": False},  # the same message, case and spaces folded
                {"key": f"feedback/{message_key(OTHER_SPAM)}/spam.json", "label": "spam", "new": True},
            ]
        },
    )
    objects = stored(bucket)
    assert sorted(objects) == sorted(f"models/{key}" for key in (
        spam_key, f"feedback/{message_key(HAM)}/ham.json", f"feedback/{message_key(OTHER_SPAM)}/spam.json"
    ))  # fmt: skip
    assert {(report["message"], report["label"]) for report in objects.values()} == {
        ("winner!!  You have WON a free prize,\nclaim now", "spam"),  # the latest copy of the folded report
        (HAM, "ham"),
        (OTHER_SPAM, "spam"),
    }


def test_lambda_feedback_never_logs_message_text(emulator: Emulator) -> None:
    emulator.invoke(load_event("rest-api", "feedback-batch"))
    log = emulator.log()
    requests = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"/feedback"' in line]
    assert len(requests) >= 9
    assert {entry["status"] for entry in requests} == {202, 401}
    assert all("new" in entry for entry in requests if entry["status"] == 202)
    for text in ("WINNER", "winner", "prize", "lunch", "80086"):
        assert text not in log
