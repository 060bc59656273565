"""ModelSource: model URIs, the initial load, hot reload of an alias, the cache, and failures along the way."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import HAM_DOCS, SPAM_DOCS, Clock, tiny_model_spec
from s3_server import S3_STORES, s3_client, start_s3_server, stop_s3_server
from spam_classifier import source as source_module
from spam_classifier.errors import ConfigurationError
from spam_classifier.scorer import DEFAULT_MODEL_DIR
from spam_classifier.source import ModelSource, parse_model_uri
from spam_classifier.store import MemoryStore, ModelStore, open_store


@pytest.fixture(params=["memory", "local", *S3_STORES])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return f"memory://{request.node.name}"
    if request.param == "local":
        return str(tmp_path / "store")
    if request.param == "s3-boto3":
        request.getfixturevalue("boto3_reads")
    return f"s3://{request.getfixturevalue('s3_bucket')}/spam"


def _events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [record.fields for record in caplog.records if record.name == "spam_classifier"]  # type: ignore[attr-defined]


def _tamper(store: ModelStore, version: str) -> None:
    """Replace `version`'s model.json behind the store's back, as an attacker or a bad copy would."""
    data = json.dumps(tiny_model_spec(intercept=50.0)).encode()
    if isinstance(store, MemoryStore):
        store.objects[f"versions/{version}/model.json"] = data
    elif store.uri.startswith("s3://"):
        bucket, _, prefix = store.uri.removeprefix("s3://").partition("/")
        s3_client().put_object(
            Bucket=bucket, Key=f"{prefix}/versions/{version}/model.json", Body=data
        )
    else:
        (Path(store.uri) / "versions" / version / "model.json").write_bytes(data)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (None, (None, str(DEFAULT_MODEL_DIR))),
        ("", (None, str(DEFAULT_MODEL_DIR))),
        ("s3://models/spam@production", ("s3://models/spam", "production")),
        ("s3://models/spam@20260101T120000Z-3f2a9c01bd", ("s3://models/spam", "20260101T120000Z-3f2a9c01bd")),
        ("s3://models@staging", ("s3://models", "staging")),
        ("memory://demo@production", ("memory://demo", "production")),
        ("/srv/store@production", ("/srv/store", "production")),
        ("/srv/model", (None, "/srv/model")),
        ("/srv/user@example.com/model", (None, "/srv/user@example.com/model")),
        ("relative/model", (None, "relative/model")),
    ],
)
def test_parse_model_uri_splits_store_and_ref(uri: str | None, expected: tuple[str | None, str]) -> None:
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize("uri", ["s3://models/spam", "s3://models/spam@", "memory://demo@a/b", "memory://demo"])
def test_parse_model_uri_store_without_ref_raises(uri: str) -> None:
    with pytest.raises(ConfigurationError, match=r"names a store but no alias or version; append one, e.g. "):
        parse_model_uri(uri)


def test_parse_model_uri_existing_directory_with_at_sign_is_an_artifact(tmp_path: Path) -> None:
    (tmp_path / "model@v1").mkdir()
    assert parse_model_uri(str(tmp_path / "model@v1")) == (None, str(tmp_path / "model@v1"))


def test_model_source_unset_uri_loads_the_shipped_model(
    test_artifact_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "DEFAULT_MODEL_DIR", test_artifact_dir)
    source = ModelSource(None)
    assert (source.model and source.model.version, source.error) == ("v1", None)


def test_model_source_artifact_directory_is_loaded_and_scores(test_artifact_dir: Path) -> None:
    model = ModelSource(str(test_artifact_dir)).model
    assert model is not None
    assert model.predict(HAM_DOCS + SPAM_DOCS) == ["ham"] * len(HAM_DOCS) + ["spam"] * len(SPAM_DOCS)


def test_model_source_initial_load_failure_is_recorded_not_raised(
    caplog: pytest.LogCaptureFixture, clock: Clock, publish: Any
) -> None:
    caplog.set_level(logging.INFO, logger="spam_classifier")
    source = ModelSource("memory://initial-failure@production", clock=clock)

    assert source.model is None
    assert source.error == "no alias or version 'production' in memory://initial-failure; list them with: " \
                           "spam-classifier versions --store memory://initial-failure"  # fmt: skip
    assert _events(caplog) == [
        {
            "event": "model_load_failed",
            "model_uri": "memory://initial-failure@production",
            "error_type": "ModelNotFoundError",
            "error": source.error,
            "serving_version": None,
        }
    ]
    assert caplog.records[0].getMessage() == "model_load_failed"  # the event name; the fields ride beside it

    publish(open_store("memory://initial-failure"), "v1", alias="production")
    clock.advance(60)
    source.refresh_if_due()
    assert (source.model and source.model.version, source.error) == ("v1", None)


def test_model_source_missing_artifact_directory_is_recorded(tmp_path: Path) -> None:
    source = ModelSource(str(tmp_path / "nothing"))
    assert (source.model, source.error) == (None, f"no model artifact at {tmp_path / 'nothing'} "
                                                   f"(expected {tmp_path / 'nothing' / 'manifest.json'})")  # fmt: skip


def test_model_source_follows_the_alias_and_never_serves_a_tampered_version(
    store_uri: str, clock: Clock, publish: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    store = open_store(store_uri)
    publish(store, "v1", alias="production")
    source = ModelSource(f"{store_uri}@production", clock=clock, cache_dir=tmp_path / "cache")
    first = source.model

    publish(store, "v2", alias="production")
    clock.advance(30)
    source.refresh_if_due()  # not due yet
    assert source.model is first
    clock.advance(30)
    source.refresh_if_due()
    assert (source.model and source.model.version, source.error) == ("v2", None)
    serving = source.model

    publish(store, "v3", alias="production")
    _tamper(store, "v3")
    clock.advance(60)
    with caplog.at_level(logging.ERROR, logger="spam_classifier"):
        source.refresh_if_due()
    assert source.model is serving
    assert "model.json does not match its sha256" in (source.error or "")
    assert [(event["event"], event["serving_version"]) for event in _events(caplog)] == [("model_reload_failed", "v2")]

    assert store.rollback(alias="production") == "v2"
    clock.advance(60)
    source.refresh_if_due()
    assert (source.model, source.error) == (serving, None)

    assert store.rollback(alias="production") == "v1"
    clock.advance(60)
    source.refresh_if_due()
    assert source.model is not None and source.model.version == "v1"
    assert source.model.predict(SPAM_DOCS[:1] + HAM_DOCS[:1]) == ["spam", "ham"]


def test_model_source_pinned_version_is_not_reloaded(clock: Clock, publish: Any) -> None:
    store = open_store("memory://pinned")
    publish(store, "v1", alias="production")
    source = ModelSource("memory://pinned@v1", clock=clock)

    publish(store, "v2", alias="production")
    clock.advance(3600)
    source.refresh_if_due()

    assert source.model is not None and source.model.version == "v1"


def test_model_source_reload_seconds_zero_disables_reloading(clock: Clock, publish: Any) -> None:
    store = open_store("memory://no-reload")
    publish(store, "v1", alias="production")
    source = ModelSource("memory://no-reload@production", clock=clock, reload_seconds=0)

    publish(store, "v2", alias="production")
    clock.advance(3600)
    source.refresh_if_due()

    assert source.model is not None and source.model.version == "v1"


def test_model_source_refresh_runs_once_and_never_makes_callers_wait(
    clock: Clock, publish: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store("memory://concurrent")
    publish(store, "v1", alias="production")
    source = ModelSource("memory://concurrent@production", clock=clock)
    publish(store, "v2", alias="production")
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []
    read_alias = MemoryStore.read_alias

    def slow_read_alias(self: MemoryStore, alias: str, *, etag: str | None = None) -> tuple[str | None, str]:
        calls.append(alias)
        entered.set()
        release.wait(10)
        return read_alias(self, alias, etag=etag)

    monkeypatch.setattr(MemoryStore, "read_alias", slow_read_alias)
    clock.advance(60)
    refresher = threading.Thread(target=source.refresh_if_due)
    refresher.start()
    assert entered.wait(10)

    started = time.monotonic()
    for _ in range(20):
        source.refresh_if_due()
    waited = time.monotonic() - started
    release.set()
    refresher.join(10)

    assert (calls, waited < 0.5) == (["production"], True)
    assert source.model is not None and source.model.version == "v2"


def test_model_source_cache_serves_a_new_source_without_fetching(
    tmp_path: Path, publish: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store("memory://cached")
    publish(store, "v1", alias="production")
    ModelSource("memory://cached@production", cache_dir=tmp_path / "cache")

    def no_fetch(self: MemoryStore, version: str) -> None:
        raise AssertionError("fetched although the cache holds the version")

    monkeypatch.setattr(MemoryStore, "fetch", no_fetch)
    source = ModelSource("memory://cached@production", cache_dir=tmp_path / "cache")

    assert (source.model and source.model.version, source.error) == ("v1", None)
    assert sorted(path.name for path in (tmp_path / "cache").rglob("*") if path.is_file()) == [
        "manifest.json",
        "model.json",
    ]


def test_model_source_tampered_cache_is_discarded_and_fetched_again(
    tmp_path: Path, publish: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store("memory://bad-cache")
    publish(store, "v1", alias="production")
    ModelSource("memory://bad-cache@production", cache_dir=tmp_path / "cache")
    [cached] = (tmp_path / "cache").rglob("model.json")
    cached.write_text(json.dumps(tiny_model_spec(intercept=50.0)))

    with caplog.at_level(logging.WARNING, logger="spam_classifier"):
        source = ModelSource("memory://bad-cache@production", cache_dir=tmp_path / "cache")

    assert source.model is not None and source.model.version == "v1"
    assert source.model.predict(HAM_DOCS[:1]) == ["ham"]
    assert [event["event"] for event in _events(caplog)] == ["model_cache_invalid"]
    assert json.loads(cached.read_text()) == tiny_model_spec(intercept=-1.0)


@pytest.mark.parametrize("reads", ["stdlib", "boto3"])
@pytest.mark.s3
def test_model_source_keeps_serving_while_s3_is_down_and_recovers(
    reads: str, s3_bucket: str, s3_outage: None, clock: Clock, publish: Any, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if reads == "boto3":
        request.getfixturevalue("boto3_reads")
    uri = f"s3://{s3_bucket}/spam"
    publish(open_store(uri), "v1", alias="production")
    source = ModelSource(f"{uri}@production", clock=clock, cache_dir=tmp_path / "cache")
    serving = source.model

    stop_s3_server()
    clock.advance(60)
    source.refresh_if_due()
    assert source.model is serving
    assert source.model is not None and source.model.predict(SPAM_DOCS[:1]) == ["spam"]
    assert (source.error or "").startswith(f"{uri}: cannot read aliases/production.json: Could not connect to the")
    restarted = ModelSource(f"{uri}@production", clock=clock, cache_dir=tmp_path / "cache")
    assert restarted.model is None and restarted.error is not None

    start_s3_server()
    publish(open_store(uri), "v2", alias="production")
    clock.advance(60)
    source.refresh_if_due()
    restarted.refresh_if_due()

    assert (source.model and source.model.version, source.error) == ("v2", None)
    assert (restarted.model and restarted.model.version, restarted.error) == ("v2", None)
