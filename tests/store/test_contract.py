"""The ModelStore contract: one suite, run against the memory, folder and S3 (SeaweedFS) stores."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import make_test_artifact, tiny_model_spec
from s3_server import S3_STORES, s3_client
from spam_classifier.artifact import write_artifact
from spam_classifier.errors import ArtifactError, ConfigurationError, ModelNotFoundError, StoreError
from spam_classifier.store import LocalStore, MemoryStore, ModelStore, S3Store, VersionInfo, open_store


@dataclass
class _Harness:
    """A store plus raw access to its objects, to look behind the API and to damage it on purpose."""

    store: ModelStore
    read: Callable[[str], bytes | None]
    write: Callable[[str, bytes], None]


@pytest.fixture(params=["memory", "local", *S3_STORES])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Harness]:
    if request.param == "memory":
        store = open_store(f"memory://{request.node.name}-{id(request)}")
        assert isinstance(store, MemoryStore)
        yield _Harness(store, store.objects.get, store.objects.__setitem__)
    elif request.param == "local":
        root = tmp_path / "store"
        store = open_store(str(root))
        assert isinstance(store, LocalStore)

        def read_file(key: str) -> bytes | None:
            path = root / key
            return path.read_bytes() if path.is_file() else None

        def write_file(key: str, data: bytes) -> None:
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(data)

        yield _Harness(store, read_file, write_file)
    else:
        if request.param == "s3-boto3":
            request.getfixturevalue("boto3_reads")
        bucket = request.getfixturevalue("s3_bucket")
        store = open_store(f"s3://{bucket}/models/spam")
        assert isinstance(store, S3Store)
        client = s3_client()

        def read_object(key: str) -> bytes | None:
            try:
                return client.get_object(Bucket=bucket, Key=f"models/spam/{key}")["Body"].read()
            except client.exceptions.NoSuchKey:
                return None

        def write_object(key: str, data: bytes) -> None:
            client.put_object(Bucket=bucket, Key=f"models/spam/{key}", Body=data)

        yield _Harness(store, read_object, write_object)


@pytest.fixture
def artifact(tmp_path: Path) -> Callable[..., Path]:
    """Write a test artifact directory for `version` and return its path."""

    def make(version: str, *, intercept: float = -1.0) -> Path:
        directory = tmp_path / "artifacts" / f"{version}-{intercept}"
        make_test_artifact(directory, version=version, intercept=intercept)
        return directory

    return make


def _alias(harness: _Harness, alias: str = "production") -> dict[str, Any]:
    data = harness.read(f"aliases/{alias}.json")
    assert data is not None
    return json.loads(data)


def test_store_publish_returns_the_manifest_version_and_lists_it(harness: _Harness, artifact: Any) -> None:
    version = harness.store.publish(artifact("v1"))

    assert version == "v1"
    assert harness.store.list_versions() == [VersionInfo("v1", "2026-01-01T00:00:00Z", {}, ())]
    assert harness.store.fetch("v1").model == tiny_model_spec()


def test_store_publish_writes_the_version_files_under_versions(harness: _Harness, tmp_path: Path) -> None:
    directory = tmp_path / "with-pipeline"
    write_artifact(directory, model=tiny_model_spec(), manifest={"version": "v1"}, extra_files={"model.joblib": b"x"})

    harness.store.publish(directory)

    for name in ("manifest.json", "model.json", "model.joblib"):
        assert harness.read(f"versions/v1/{name}") == (directory / name).read_bytes()
    assert set(harness.store.fetch("v1").files) == {"manifest.json", "model.json"}


def test_store_publish_with_alias_points_the_alias_at_the_new_version(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"), alias="production")

    document = _alias(harness)
    assert {key: document[key] for key in ("alias", "version", "history")} == {
        "alias": "production",
        "version": "v1",
        "history": [],
    }
    assert document["updated"].endswith("Z")
    assert harness.store.resolve("production") == "v1"


def test_store_list_versions_reports_created_metrics_and_aliases(harness: _Harness, tmp_path: Path) -> None:
    metrics = {"f1": 0.97, "ham_fpr": 0.001, "confusion": [[1, 0], [0, 1]], "note": "x"}
    manifest = {"version": "v1", "created": "2026-01-02T00:00:00Z", "metrics": metrics}
    write_artifact(tmp_path / "a", model=tiny_model_spec(), manifest=manifest)
    make_test_artifact(tmp_path / "b", version="v0")
    harness.store.publish(tmp_path / "a", alias="production")
    harness.store.promote("v1", alias="staging")
    harness.store.publish(tmp_path / "b")

    assert harness.store.list_versions() == [
        VersionInfo("v0", "2026-01-01T00:00:00Z", {}, ()),
        VersionInfo("v1", "2026-01-02T00:00:00Z", {"f1": 0.97, "ham_fpr": 0.001}, ("production", "staging")),
    ]


def test_store_promote_moves_the_alias_and_remembers_the_previous_version(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"), alias="production")
    harness.store.publish(artifact("v2", intercept=-2.0))
    harness.store.publish(artifact("v3", intercept=-3.0))

    harness.store.promote("v2", alias="production")
    harness.store.promote("v3", alias="production")

    assert (_alias(harness)["version"], _alias(harness)["history"]) == ("v3", ["v2", "v1"])


def test_store_promote_to_the_current_version_changes_nothing(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"), alias="production")
    before = harness.read("aliases/production.json")

    harness.store.promote("v1", alias="production")

    assert harness.read("aliases/production.json") == before


def test_store_promote_unknown_version_raises(harness: _Harness) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no version 'v9' in .*; list them with: spam-classifier versions"):
        harness.store.promote("v9", alias="production")
    assert harness.read("aliases/production.json") is None


def test_store_promote_refuses_a_tampered_version(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"), alias="production")
    harness.store.publish(artifact("v2", intercept=-2.0))
    harness.write("versions/v2/model.json", json.dumps(tiny_model_spec(intercept=9.0)).encode())

    with pytest.raises(ArtifactError, match=r"model.json does not match its sha256"):
        harness.store.promote("v2", alias="production")
    assert _alias(harness)["version"] == "v1"


@pytest.mark.parametrize("alias", ["Production", "", "a/b", "-x", "x" * 64])
def test_store_promote_invalid_alias_name_raises(harness: _Harness, artifact: Any, alias: str) -> None:
    harness.store.publish(artifact("v1"))
    with pytest.raises(ConfigurationError, match=r"is not a valid alias name: use up to 63 lowercase letters"):
        harness.store.promote("v1", alias=alias)


def test_store_rollback_returns_to_the_previous_versions_in_order(harness: _Harness, artifact: Any) -> None:
    for number in (1, 2, 3):
        harness.store.publish(artifact(f"v{number}", intercept=-float(number)), alias="production")

    assert harness.store.rollback(alias="production") == "v2"
    assert harness.store.rollback(alias="production") == "v1"
    assert (_alias(harness)["version"], _alias(harness)["history"]) == ("v1", [])
    with pytest.raises(ModelNotFoundError, match=r"alias 'production' in .* has no earlier version to roll back to"):
        harness.store.rollback(alias="production")


def test_store_rollback_unknown_alias_raises(harness: _Harness) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no alias 'production' in .*; promote a version to it first"):
        harness.store.rollback(alias="production")


def test_store_resolve_accepts_an_alias_or_a_version(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"))
    harness.store.publish(artifact("v2", intercept=-2.0), alias="production")

    assert [harness.store.resolve(ref) for ref in ("production", "v1", "v2")] == ["v2", "v1", "v2"]


def test_store_resolve_unknown_ref_raises(harness: _Harness) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no alias or version 'staging' in "):
        harness.store.resolve("staging")


def test_store_publish_is_idempotent_for_the_same_artifact(harness: _Harness, artifact: Any) -> None:
    directory = artifact("v1")
    assert harness.store.publish(directory) == harness.store.publish(directory) == "v1"
    assert [info.version for info in harness.store.list_versions()] == ["v1"]


def test_store_versions_are_immutable(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"), alias="production")

    with pytest.raises(StoreError, match=r"version v1 already exists in .* with different content"):
        harness.store.publish(artifact("v1", intercept=-5.0), alias="production")
    assert harness.store.fetch("v1").model == tiny_model_spec()


def test_store_fetch_tampered_model_is_refused(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"))
    harness.write("versions/v1/model.json", json.dumps(tiny_model_spec(intercept=9.0)).encode())

    with pytest.raises(ArtifactError, match=r"model.json does not match its sha256 .* refusing to load it"):
        harness.store.fetch("v1")


def test_store_fetch_manifest_copied_from_another_version_is_refused(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"))
    harness.store.publish(artifact("v2", intercept=-2.0))
    harness.write("versions/v1/manifest.json", harness.read("versions/v2/manifest.json") or b"")
    harness.write("versions/v1/model.json", harness.read("versions/v2/model.json") or b"")

    with pytest.raises(ArtifactError, match=r"its manifest says version 'v2'; the store was tampered with"):
        harness.store.fetch("v1")


def test_store_fetch_missing_version_raises(harness: _Harness) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no version 'v1' in "):
        harness.store.fetch("v1")


def test_store_version_without_manifest_is_absent_until_completed(harness: _Harness, artifact: Any) -> None:
    directory = artifact("v1")
    harness.write("versions/v1/model.json", (directory / "model.json").read_bytes())  # a publish that crashed

    assert harness.store.list_versions() == []
    with pytest.raises(ModelNotFoundError, match=r"no version 'v1'"):
        harness.store.fetch("v1")
    assert harness.store.publish(directory) == "v1"
    assert harness.store.fetch("v1").version == "v1"


def test_store_alias_to_a_missing_version_raises(harness: _Harness) -> None:
    harness.write("aliases/production.json", json.dumps({"alias": "production", "version": "v404"}).encode())

    assert harness.store.read_alias("production")[0] == "v404"
    with pytest.raises(ModelNotFoundError, match=r"alias 'production' in .* points at version v404, which is not"):
        harness.store.resolve("production")
    with pytest.raises(ModelNotFoundError, match=r"no version 'v404'"):
        harness.store.fetch("v404")


def test_store_malformed_alias_file_raises(harness: _Harness) -> None:
    harness.write("aliases/production.json", b"{not json")
    with pytest.raises(StoreError, match=r"aliases/production.json is not a valid alias file; delete it"):
        harness.store.read_alias("production")


def test_store_read_alias_returns_none_until_the_alias_moves(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"), alias="production")
    harness.store.publish(artifact("v2", intercept=-2.0))

    version, etag = harness.store.read_alias("production")
    unchanged = harness.store.read_alias("production", etag=etag)
    harness.store.promote("v2", alias="production")
    moved = harness.store.read_alias("production", etag=etag)

    assert (version, unchanged) == ("v1", (None, etag))
    assert moved[0] == "v2" and moved[1] != etag


def test_store_read_alias_unknown_raises(harness: _Harness) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no alias 'production' in "):
        harness.store.read_alias("production")


def test_store_publish_refuses_a_tampered_artifact_directory(harness: _Harness, artifact: Any) -> None:
    directory = artifact("v1")
    (directory / "model.json").write_text(json.dumps(tiny_model_spec(intercept=4.0)))

    with pytest.raises(ArtifactError, match=r"model.json does not match its sha256"):
        harness.store.publish(directory)
    assert harness.read("versions/v1/model.json") is None


def test_store_racing_publishers_get_distinct_versions_and_lose_no_alias_move(harness: _Harness, artifact: Any) -> None:
    directories = [artifact(f"v{number}", intercept=-float(number)) for number in range(8)]
    start = threading.Barrier(len(directories))
    published: list[str] = []
    failures: list[BaseException] = []

    def publish(directory: Path) -> None:
        start.wait()
        try:
            published.append(harness.store.publish(directory, alias="production"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=publish, args=(directory,)) for directory in directories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(published) == [f"v{number}" for number in range(8)]
    assert [info.version for info in harness.store.list_versions()] == sorted(published)
    document = _alias(harness)
    assert sorted([document["version"], *document["history"]]) == sorted(published)


def test_open_store_unknown_scheme_raises() -> None:
    with pytest.raises(ConfigurationError, match=r"no model store understands 'gs://bucket'; use a folder path"):
        open_store("gs://bucket")


# --- feedback (issue #11): hash-named report objects, written without reading ------------------------------------

_NAME = f"{'ab' * 32}/spam.json"


def test_store_put_feedback_is_new_once_then_replaces_the_same_name(harness: _Harness) -> None:
    assert harness.store.put_feedback(_NAME, b'{"n": 1}') is True
    assert harness.store.put_feedback(_NAME, b'{"n": 2}') is False

    assert harness.read(f"feedback/{_NAME}") == b'{"n": 2}'
    assert harness.store.read_feedback(_NAME) == b'{"n": 2}'
    assert harness.store.list_feedback() == [_NAME]


def test_store_list_feedback_lists_names_only_and_skips_foreign_keys(harness: _Harness, artifact: Any) -> None:
    harness.store.publish(artifact("v1"), alias="production")
    ham = f"{'cd' * 32}/ham.json"
    for name in (_NAME, ham, f"{'ab' * 32}/ham.json"):
        harness.store.put_feedback(name, b"{}")
    harness.write("feedback/README.txt", b"not a report")

    assert harness.store.list_feedback() == sorted([_NAME, ham, f"{'ab' * 32}/ham.json"])
    assert [info.version for info in harness.store.list_versions()] == ["v1"]


def test_store_delete_feedback_removes_the_object_and_tolerates_a_missing_one(harness: _Harness) -> None:
    harness.store.put_feedback(_NAME, b"{}")
    harness.store.put_feedback(_NAME, b'{"again": true}')

    harness.store.delete_feedback(_NAME)
    harness.store.delete_feedback(_NAME)

    assert harness.store.read_feedback(_NAME) is None
    assert harness.read(f"feedback/{_NAME}") is None
    assert harness.store.list_feedback() == []
    assert harness.store.put_feedback(_NAME, b"{}") is True  # new again once purged


@pytest.mark.parametrize("name", ["../aliases/production.json", "ab/spam.json", f"{'ab' * 32}/maybe.json", ""])
def test_store_feedback_names_are_checked(harness: _Harness, name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"feedback name .* is not valid: expected <64 hex digits>/ham.json"):
        harness.store.put_feedback(name, b"{}")
    with pytest.raises(ConfigurationError, match=r"is not valid"):
        harness.store.read_feedback(name)
    with pytest.raises(ConfigurationError, match=r"is not valid"):
        harness.store.delete_feedback(name)


def test_store_racing_feedback_writers_store_one_object_per_name(harness: _Harness) -> None:
    names = [f"{index:064x}/{label}.json" for index in range(4) for label in ("ham", "spam")]
    start = threading.Barrier(len(names) * 2)
    results: list[tuple[str, bool]] = []
    failures: list[BaseException] = []

    def write(name: str) -> None:
        start.wait()
        try:
            results.append((name, harness.store.put_feedback(name, name.encode())))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in names * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert harness.store.list_feedback() == sorted(names)
    assert sorted(name for name, new in results if new) == sorted(names)  # each was new exactly once
    assert all(harness.store.read_feedback(name) == name.encode() for name in names)
