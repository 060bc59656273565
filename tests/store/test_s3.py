"""S3-specific behaviour of the S3 store, against a real S3 server (SeaweedFS, see tests/s3_server.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import make_test_artifact
from spam_classifier.errors import ConfigurationError, ModelNotFoundError, StoreError
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
def test_s3_read_alias_unchanged_is_a_304_conditional_get_with_boto3(
    s3_bucket: str, tmp_path: Path, boto3_reads: None
) -> None:
    store = _open(f"s3://{s3_bucket}/spam")
    make_test_artifact(tmp_path / "v1", version="v1")
    store.publish(tmp_path / "v1", alias="production")
    version, etag = store.read_alias("production")
    responses = _record(store, "after-call.s3.GetObject")

    assert store.read_alias("production", etag=etag) == (None, etag)
    assert [call["http_response"].status_code for call in responses] == [304]
    assert version == "v1" and etag.startswith('"')


@pytest.mark.s3
def test_s3_publish_and_promote_use_conditional_puts_with_boto3(
    s3_bucket: str, tmp_path: Path, boto3_reads: None
) -> None:
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


# --- reads without boto3 (store/_sigv4.py) ---------------------------------------------------------------------------

_SERVE = """
import json, sys
from spam_classifier.source import ModelSource
source = ModelSource(sys.argv[1])
loaded = sorted(name for name in ("boto3", "botocore") if name in sys.modules)
print(json.dumps([source.model and source.model.version, source.error, loaded]))
"""


def _serve_fresh(model_uri: str, env: dict[str, str]) -> list[Any]:
    """``[version, error, boto modules loaded]`` after loading `model_uri` with `ModelSource` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", _SERVE, model_uri], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    return list(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.s3
def test_s3_store_reads_without_boto3_when_the_environment_has_static_keys(s3_bucket: str, tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "v1", version="v1")
    _open(f"s3://{s3_bucket}/models").publish(tmp_path / "v1", alias="production")

    assert _serve_fresh(f"s3://{s3_bucket}/models@production", dict(os.environ)) == ["v1", None, []]
    assert _serve_fresh(f"s3://{s3_bucket}/models@v1", dict(os.environ)) == ["v1", None, []]


@pytest.mark.s3
def test_s3_store_falls_back_to_boto3_without_static_keys(s3_bucket: str, tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "v1", version="v1")
    _open(f"s3://{s3_bucket}/models").publish(tmp_path / "v1", alias="production")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {os.environ['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {os.environ['AWS_SECRET_ACCESS_KEY']}\n"
    )
    env = {
        name: value for name, value in os.environ.items() if name not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }

    loaded = _serve_fresh(
        f"s3://{s3_bucket}/models@production", {**env, "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    )

    assert loaded == ["v1", None, ["boto3", "botocore"]]


@pytest.mark.s3
def test_s3_store_chooses_its_reader_from_the_environment(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _open("s3://some-bucket/spam")
    assert fast._reader is not None and fast._boto3_client is None
    assert fast._reader.endpoint == s3_endpoint

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "127.0.0.1:18333")
    with pytest.raises(ConfigurationError, match=r"^'127.0.0.1:18333' is not an http:// or https:// endpoint URL; fix"):
        _open("s3://some-bucket/spam")

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    boto3_store = _open("s3://some-bucket/spam")
    assert boto3_store._reader is None and boto3_store._boto3_client is not None


@pytest.mark.s3
def test_s3_read_alias_unchanged_is_a_304_conditional_get(s3_bucket: str, tmp_path: Path) -> None:
    store = _open(f"s3://{s3_bucket}/spam")
    make_test_artifact(tmp_path / "v1", version="v1")
    store.publish(tmp_path / "v1", alias="production")
    version, etag = store.read_alias("production")
    assert store._reader is not None
    get_object, statuses = store._reader.get_object, []

    def recording_get_object(*args: Any, **kwargs: Any) -> tuple[int, bytes, str]:
        answer = get_object(*args, **kwargs)
        statuses.append(answer[0])
        return answer

    store._reader.get_object = recording_get_object  # type: ignore[method-assign]

    assert store.read_alias("production", etag=etag) == (None, etag)
    assert statuses == [304]
    assert version == "v1" and etag.startswith('"')


@pytest.mark.s3
def test_s3_store_missing_alias_or_version_raises_model_not_found(s3_bucket: str) -> None:
    store = _open(f"s3://{s3_bucket}/spam")
    assert store._reader is not None

    with pytest.raises(ModelNotFoundError, match=rf"^no alias 'production' in s3://{s3_bucket}/spam; promote"):
        store.read_alias("production")
    with pytest.raises(ModelNotFoundError, match=rf"^no version 'v9' in s3://{s3_bucket}/spam; list them with"):
        store.fetch("v9")


@pytest.mark.s3
def test_s3_store_reads_with_a_wrong_secret_raise_a_store_error(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_test_artifact(tmp_path / "v1", version="v1")
    _open(f"s3://{s3_bucket}/spam").publish(tmp_path / "v1", alias="production")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    store = _open(f"s3://{s3_bucket}/spam")

    message = (
        rf"^s3://{s3_bucket}/spam: S3 refused to read aliases/production.json \(SignatureDoesNotMatch\); "
        r"check the AWS credentials and their permissions on the bucket$"
    )
    with pytest.raises(StoreError, match=message):
        store.read_alias("production")


def test_s3_store_reads_from_a_server_that_is_down_fail_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name, value in {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = _open("s3://some-bucket/spam")
    started = time.monotonic()

    message = (
        rf"^s3://some-bucket/spam: cannot read aliases/production.json: Could not connect to the endpoint URL: "
        rf'"{endpoint}/some-bucket/spam/aliases/production.json"; check AWS_ENDPOINT_URL_S3, the credentials and '
        r"the network$"
    )
    with pytest.raises(StoreError, match=message):
        store.read_alias("production")
    assert time.monotonic() - started < 1.0


_WRITE_FEEDBACK = """
import json, sys
from spam_classifier.feedback import new_report, record_feedback
from spam_classifier.store import open_store
store = open_store(sys.argv[1])
results = record_feedback(store, [new_report("WIN a prize", "spam"), new_report("win  a PRIZE", "spam")])
print(json.dumps([results, sorted(sys.modules)]))
"""


@pytest.mark.s3
def test_s3_feedback_is_written_without_boto3_when_the_environment_has_static_keys(s3_bucket: str) -> None:
    """What a Lambda does on POST /feedback: signed PUTs on the stdlib client, never a 340 ms boto3 import."""
    uri = f"s3://{s3_bucket}/models"
    result = subprocess.run([sys.executable, "-c", _WRITE_FEEDBACK, uri], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    results, modules = json.loads(result.stdout.strip().splitlines()[-1])

    assert [new for _, new in results] == [True, False]
    assert [name for name in modules if name.split(".")[0] in ("boto3", "botocore")] == []
    assert _open(uri).list_feedback() == [results[0][0]]


@pytest.mark.s3
def test_s3_tests_run_in_one_xdist_worker(request: pytest.FixtureRequest) -> None:
    """`make test` runs xdist with --dist loadgroup: every S3 test must carry the group of the one SeaweedFS."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under pytest-xdist's --dist loadgroup")
    assert request.node.nodeid.endswith("@s3"), "xdist did not group this test: check the pytest/pytest-xdist pins"


@pytest.mark.s3
def test_s3_server_has_room_for_far_more_buckets_than_the_suite_makes(s3_endpoint: str) -> None:
    """Each bucket is a SeaweedFS collection with a volume of its own. By default `weed mini` allows free disk /
    1 GiB volumes (54 here), and writes to every bucket after that failed with InternalError mid-suite."""
    import urllib.request

    with urllib.request.urlopen("http://127.0.0.1:9333/dir/status", timeout=5) as response:  # the master
        topology = json.load(response)["Topology"]
    assert topology["Free"] >= 1000, topology
