"""POST /feedback through the ASGI interface: stored reports, folding, keys, limits, errors and logs (issue #11)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import HAM_DOCS, SPAM_DOCS
from spam_classifier.app import create_app
from spam_classifier.config import Settings
from spam_classifier.feedback import FeedbackReport, latest_reports, message_key, read_feedback
from spam_classifier.scorer import Model, load_model
from spam_classifier.store import MemoryStore, open_store
from test_app import _Source, call, error, post


@pytest.fixture
def store(request: pytest.FixtureRequest) -> MemoryStore:
    found = open_store(f"memory://feedback-{request.node.name}-{id(request)}")
    assert isinstance(found, MemoryStore)
    return found


@pytest.fixture
def source(test_artifact_dir: Path) -> _Source:
    model: Model = load_model(test_artifact_dir)
    return _Source(model)


@pytest.fixture
def app(source: _Source, store: MemoryStore) -> Any:
    return create_app(source, Settings(feedback_uri=store.uri))


def feedback(app: Any, payload: Any, **headers: str) -> Any:
    return post(app, payload, path="/feedback", headers=headers)


def stored(store: MemoryStore) -> dict[str, dict[str, Any]]:
    return {key: json.loads(data) for key, data in store.objects.items() if key.startswith("feedback/")}


def test_feedback_stores_one_report_and_answers_202_with_its_key(app: Any, store: MemoryStore) -> None:
    payload = {"message": SPAM_DOCS[0], "label": "spam", "model_version": "v1", "spam_probability": 0.25}
    reply = feedback(app, payload)

    key = f"feedback/{message_key(SPAM_DOCS[0])}/spam.json"
    assert (reply.status, reply.json()) == (202, {"key": key, "label": "spam", "new": True})
    (document,) = stored(store).values()
    received = document.pop("received")
    assert received.endswith("Z") and len(received) == len("2026-01-01T00:00:00.000000Z")
    assert {key: document} == {
        key: {"format": 1, **payload, "source": "api"},
    }


def test_feedback_same_report_twice_is_one_object_folding_case_and_white_space(app: Any, store: MemoryStore) -> None:
    first = feedback(app, {"message": "Free  entry to WIN\n", "label": "spam"}).json()
    second = feedback(app, {"message": "free entry to win", "label": "spam"}).json()

    assert (first["new"], second["new"]) == (True, False)
    assert first["key"] == second["key"]
    assert list(stored(store)) == [first["key"]]
    assert stored(store)[first["key"]]["message"] == "free entry to win"  # the later report replaced the first


def test_feedback_changed_label_is_a_later_report_that_wins(app: Any, store: MemoryStore) -> None:
    feedback(app, {"message": HAM_DOCS[0], "label": "spam"})
    feedback(app, {"message": HAM_DOCS[0], "label": "ham"})

    assert len(stored(store)) == 2
    latest, conflicts = latest_reports(read_feedback(store))
    assert [(report.message, report.label) for report in latest] == [(HAM_DOCS[0], "ham")]
    assert conflicts == 1
    feedback(app, {"message": HAM_DOCS[0], "label": "spam"})  # and back: the spam report is refreshed, and wins
    assert [report.label for report in latest_reports(read_feedback(store))[0]] == ["spam"]


def test_feedback_batch_answers_one_receipt_per_report_in_order(app: Any, store: MemoryStore) -> None:
    reports = [
        {"message": HAM_DOCS[1], "label": "ham"},
        {"message": SPAM_DOCS[1], "label": "spam", "spam_probability": 0},
        {"message": HAM_DOCS[1].upper(), "label": "ham"},
    ]
    reply = feedback(app, {"reports": reports})

    assert reply.status == 202
    assert reply.json() == {
        "reports": [
            {"key": f"feedback/{message_key(HAM_DOCS[1])}/ham.json", "label": "ham", "new": True},
            {"key": f"feedback/{message_key(SPAM_DOCS[1])}/spam.json", "label": "spam", "new": True},
            {"key": f"feedback/{message_key(HAM_DOCS[1])}/ham.json", "label": "ham", "new": False},
        ]
    }
    assert len(stored(store)) == 2


def test_feedback_goes_to_the_store_model_uri_serves_from(source: _Source, store: MemoryStore) -> None:
    app = create_app(source, Settings(model_uri=f"{store.uri}@production"))
    assert feedback(app, {"message": SPAM_DOCS[2], "label": "spam"}).status == 202
    assert len(stored(store)) == 1


@pytest.mark.parametrize("model_uri", [None, "/srv/models/artifact"])
def test_feedback_without_a_store_is_503_saying_it_needs_one(source: _Source, model_uri: str | None) -> None:
    app = create_app(source, Settings(model_uri=model_uri))
    reply = feedback(app, {"message": SPAM_DOCS[0], "label": "spam"})
    assert reply.status == 503
    assert reply.json()["error"]["code"] == "feedback_unavailable"
    assert reply.json()["error"]["message"].startswith("feedback needs a model store: MODEL_URI names a packaged")
    assert "set FEEDBACK_URI" in reply.json()["error"]["message"]


def test_feedback_to_a_store_that_cannot_be_written_is_503(source: _Source, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = create_app(source, Settings(feedback_uri=str(blocker / "store")))

    reply = feedback(app, {"message": SPAM_DOCS[0], "label": "spam"})

    assert reply.status == 503
    assert reply.json()["error"]["code"] == "feedback_unavailable"
    assert reply.json()["error"]["message"].startswith("the report could not be stored: ")
    assert "cannot write feedback/" in reply.json()["error"]["message"]


# --- keys -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "good", "bad"),
    [
        ({"feedback_api_key": "fb-key"}, "fb-key", None),
        ({"api_key": "api-key"}, "api-key", None),
        ({"api_key": "api-key", "feedback_api_key": "fb-key"}, "fb-key", "api-key"),
    ],
    ids=["feedback-key", "api-key-covers-feedback", "feedback-key-wins"],
)
def test_feedback_needs_the_feedback_key_else_the_api_key(
    source: _Source, store: MemoryStore, keys: dict[str, str], good: str, bad: str | None
) -> None:
    app = create_app(source, Settings(feedback_uri=store.uri, **keys))
    report = {"message": SPAM_DOCS[0], "label": "spam"}

    assert feedback(app, report).json() == error("unauthorized", "this API needs an X-API-Key header")
    for wrong in ("nope", bad):
        if wrong is not None:
            reply = feedback(app, report, **{"x-api-key": wrong})
            assert (reply.status, reply.json()) == (401, error("unauthorized", "the X-API-Key header does not match"))
    assert stored(store) == {}
    assert feedback(app, report, **{"x-api-key": good}).status == 202
    assert len(stored(store)) == 1


def test_feedback_key_alone_leaves_predict_open(source: _Source, store: MemoryStore) -> None:
    app = create_app(source, Settings(feedback_uri=store.uri, feedback_api_key="fb-key"))
    assert post(app, {"message": "hi"}).status == 200
    assert feedback(app, {"message": "hi", "label": "ham"}).status == 401


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (["x"], 'the body must be a JSON object: {"message": "...", "label": "spam"} or {"reports": [...]}'),
        ({"label": "spam"}, 'the report needs "message"'),
        ({"message": "hi"}, 'the report needs "label"'),
        ({"message": "hi", "label": "junk"}, 'the report: "label" must be "spam" or "ham"'),
        ({"message": "hi", "label": None}, 'the report: "label" must be "spam" or "ham"'),
        ({"message": 5, "label": "ham"}, 'the report: "message" must be a string, not a number'),
        ({"message": "  \n", "label": "ham"}, "the report: the message is empty; a report needs the message text"),
        ({"message": "hi", "label": "ham", "spam_probability": 1.5}, "spam_probability must be a number from 0 to 1"),
        ({"message": "hi", "label": "ham", "spam_probability": True}, "spam_probability must be a number from 0 to 1"),
        ({"message": "hi", "label": "ham", "model_version": ""}, "model_version must be a string of 1 to 128"),
        ({"message": "hi", "label": "ham", "model_version": 7}, "model_version must be a string of 1 to 128"),
        ({"message": "hi", "label": "ham", "format": "text"}, "the report has unknown field(s) 'format'; allowed"),
        ({"reports": []}, '"reports" must be a non-empty list of objects'),
        ({"reports": {"message": "hi"}}, '"reports" must be a non-empty list of objects'),
        ({"reports": ["hi"]}, '"reports"[0] must be an object, not str'),
        ({"reports": [{"message": "hi", "label": "ham"}, {"message": "x"}]}, '"reports"[1] needs "label"'),
        ({"reports": [], "message": "hi"}, 'send either "reports" (a list of reports) or one report\'s fields'),
    ],
)
def test_feedback_bad_fields_are_400_and_store_nothing(
    app: Any, store: MemoryStore, payload: Any, message: str
) -> None:
    reply = feedback(app, payload)
    assert (reply.status, reply.json()["error"]["code"]) == (400, "invalid_request")
    assert message in reply.json()["error"]["message"]
    assert stored(store) == {}


def test_feedback_limits_are_those_of_predict(source: _Source, store: MemoryStore) -> None:
    app = create_app(source, Settings(feedback_uri=store.uri, max_body_bytes=400, max_message_bytes=40, max_batch=2))

    too_long = feedback(app, {"message": "é" * 21, "label": "spam"})
    assert (too_long.status, too_long.json()["error"]["code"]) == (413, "message_too_large")
    assert 'the report: "message" is 42 bytes; the limit is 40 bytes' in too_long.json()["error"]["message"]
    many = feedback(app, {"reports": [{"message": "a", "label": "ham"}] * 3})
    assert (many.status, many.json()["error"]["message"]) == (
        413,
        "3 reports in one request; the limit is 2 (MAX_BATCH)",
    )
    big = call(app, "POST", "/feedback", body=b" " * 401, headers={"content-type": "application/json"})
    assert (big.status, big.json()["error"]["code"]) == (413, "body_too_large")
    not_json = call(app, "POST", "/feedback", body=b"message=hi", headers={"content-type": "text/plain"})
    assert not_json.status == 415
    assert stored(store) == {}


def test_feedback_only_accepts_post(app: Any) -> None:
    reply = call(app, "GET", "/feedback")
    assert (reply.status, reply.headers["allow"]) == (405, "OPTIONS, POST")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["message", "label", "reports", "spam_probability", "x"]), children),
        max_leaves=8,
    )
)
def test_feedback_client_json_never_causes_a_500(app: Any, payload: Any) -> None:
    assert feedback(app, payload).status in (202, 400, 413)


# --- logs -------------------------------------------------------------------------------------------------


def test_feedback_logs_counts_and_never_the_message(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    secret = "WINNER claim your prize, my PIN is 4321"
    with caplog.at_level(logging.INFO, logger="spam_classifier"):
        feedback(app, {"message": secret, "label": "spam"}, **{"x-request-id": "fb-1"})
        reports = [{"message": secret, "label": "spam"}, {"message": f"{secret} ham", "label": "ham"}]
        feedback(app, {"reports": reports}, **{"x-request-id": "fb-2"})
        feedback(app, {"message": secret, "label": "maybe"}, **{"x-request-id": "fb-3"})
    fields = [record.fields for record in caplog.records]  # type: ignore[attr-defined]
    for entry in fields:
        assert isinstance(entry.pop("latency_ms"), float)
    assert fields == [
        {"request_id": "fb-1", "method": "POST", "route": "/feedback", "status": 202,
         "labels": {"ham": 0, "spam": 1}, "new": 1},
        {"request_id": "fb-2", "method": "POST", "route": "/feedback", "status": 202,
         "labels": {"ham": 1, "spam": 1}, "new": 1},
        {"request_id": "fb-3", "method": "POST", "route": "/feedback", "status": 400, "error": "invalid_request"},
    ]  # fmt: skip
    assert "PIN" not in caplog.text and "4321" not in caplog.text


def test_feedback_report_round_trips_through_its_stored_json() -> None:
    report = FeedbackReport("hi", "ham", "2026-01-01T00:00:00.000000Z", "v1", 0.5, "cli")
    assert FeedbackReport.from_json(report.to_json(), where="x") == report
