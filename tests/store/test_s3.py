"""S3-specific behaviour of the S3 store, against a real S3 server (SeaweedFS, see tests/s3_server.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import make_test_artifact
from spam_classifier.errors import ConfigurationError, StoreError
from spam_classifier.store import S3Store, open_store


def _open(uri: str) -> S3Store:
    store = open_store(uri)
    assert isinstance(store, S3Store)
    return store


def _record(store: S3Store, event: str) -> list[Any]:
    """Collect what botocore passes to `event` handlers on this store's client."""
    seen: list[Any] = []
    store._client.meta.events.register(event, lambda **kwargs: seen.append(kwargs))
    return seen


def test_import_store_does_not_import_boto3() -> None:
    code = "import sys, spam_classifier.store; print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


@pytest.mark.parametrize("uri", ["s3://", "s3://ab/models", "s3://Bucket/models", "s3://under_score"])
def test_s3_store_invalid_bucket_raises(uri: str) -> None:
    with pytest.raises(ConfigurationError, match=r"does not name a valid S3 bucket; use s3://bucket/prefix"):
        open_store(uri)


@pytest.mark.s3
def test_s3_read_alias_unchanged_is_a_304_conditional_get(s3_bucket: str, tmp_path: Path) -> None:
    store = _open(f"s3://{s3_bucket}/spam")
    make_test_artifact(tmp_path / "v1", version="v1")
    store.publish(tmp_path / "v1", alias="production")
    version, etag = store.read_alias("production")
    responses = _record(store, "after-call.s3.GetObject")

    assert store.read_alias("production", etag=etag) == (None, etag)
    assert [call["http_response"].status_code for call in responses] == [304]
    assert version == "v1" and etag.startswith('"')


@pytest.mark.s3
def test_s3_publish_and_promote_use_conditional_puts(s3_bucket: str, tmp_path: Path) -> None:
    store = _open(f"s3://{s3_bucket}/spam")
    requests = _record(store, "before-send.s3.PutObject")
    make_test_artifact(tmp_path / "v1", version="v1")
    make_test_artifact(tmp_path / "v2", version="v2", intercept=-2.0)

    store.publish(tmp_path / "v1", alias="production")
    store.publish(tmp_path / "v2", alias="production")

    sent = [(call["request"].url.split(f"/{s3_bucket}/spam/")[1], call["request"].headers) for call in requests]
    assert [(key, headers.get("If-None-Match"), headers.get("If-Match") is not None) for key, headers in sent] == [
        ("versions/v1/model.json", b"*", False),
        ("versions/v1/manifest.json", b"*", False),
        ("aliases/production.json", b"*", False),
        ("versions/v2/model.json", b"*", False),
        ("versions/v2/manifest.json", b"*", False),
        ("aliases/production.json", None, True),
    ]


@pytest.mark.s3
def test_s3_store_honours_aws_endpoint_url_s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _open("s3://some-bucket/spam")._client.meta.endpoint_url == s3_endpoint

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    store = _open("s3://some-bucket/spam")

    message = (
        r"^s3://some-bucket/spam: cannot list aliases/: Could not connect to the endpoint URL: "
        r"\"http://127.0.0.1:9/.*\"; check AWS_ENDPOINT_URL_S3, the credentials and the network$"
    )
    with pytest.raises(StoreError, match=message):
        store.list_versions()


@pytest.mark.s3
def test_s3_missing_bucket_raises_a_one_line_store_error(s3_endpoint: str, tmp_path: Path) -> None:
    store = _open("s3://no-such-bucket-4711/spam")
    make_test_artifact(tmp_path / "v1", version="v1")
    message = (
        rf"^s3://no-such-bucket-4711/spam: bucket 'no-such-bucket-4711' does not exist at {s3_endpoint}; "
        r"create it or fix the store URI$"
    )

    with pytest.raises(StoreError, match=message):
        store.fetch("v1")
    with pytest.raises(StoreError, match=message):
        store.list_versions()
    with pytest.raises(StoreError, match=message) as raised:
        store.publish(tmp_path / "v1")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(StoreError, match=message):  # publish did not create the bucket by writing into it
        store.list_versions()


@pytest.mark.s3
def test_s3_wrong_credentials_raise_a_store_error(s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    store = _open(f"s3://{s3_bucket}/spam")

    message = r"S3 refused to list aliases/ \(SignatureDoesNotMatch\); check the AWS credentials and their permissions"
    with pytest.raises(StoreError, match=message):
        store.list_versions()


@pytest.mark.s3
def test_s3_store_keeps_versions_under_the_prefix(s3_bucket: str, tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "v1", version="v1")
    _open(f"s3://{s3_bucket}/team-a/spam/").publish(tmp_path / "v1", alias="production")

    assert _open(f"s3://{s3_bucket}/team-a/spam").resolve("production") == "v1"
    assert _open(f"s3://{s3_bucket}").list_versions() == []
    assert _open(f"s3://{s3_bucket}/team-b").list_versions() == []
