"""artifact: write/read round trip, atomic staging, and every way a damaged artifact is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import make_test_artifact, tiny_model_spec
from spam_classifier.artifact import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    MODEL_FILE,
    PIPELINE_FILE,
    artifact_from_files,
    read_artifact,
    sha256_hex,
    write_artifact,
)
from spam_classifier.errors import ArtifactError, ModelNotFoundError


def _manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / MANIFEST_FILE).read_text())


def _rewrite_manifest(path: Path, **changes: Any) -> None:
    manifest = _manifest(path)
    manifest.update(changes)
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_write_artifact_then_read_artifact_round_trip(tmp_path: Path) -> None:
    spec = tiny_model_spec()
    written = write_artifact(tmp_path / "a", model=spec, manifest={"metrics": {"f1": 0.9}})
    read = read_artifact(tmp_path / "a")

    model_bytes = (tmp_path / "a" / MODEL_FILE).read_bytes()
    assert read.model == written.model == spec
    assert read.manifest == written.manifest == _manifest(tmp_path / "a")
    assert read.manifest == {
        "version": read.version,
        "created": read.manifest["created"],
        "metrics": {"f1": 0.9},
        "format_version": FORMAT_VERSION,
        "files": {MODEL_FILE: {"sha256": sha256_hex(model_bytes), "bytes": len(model_bytes)}},
    }
    assert re.fullmatch(rf"\d{{8}}T\d{{6}}Z-{sha256_hex(model_bytes)[:10]}", read.version)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", read.manifest["created"])
    assert dict(read.files) == {MANIFEST_FILE: (tmp_path / "a" / MANIFEST_FILE).read_bytes(), MODEL_FILE: model_bytes}
    assert _leftovers(tmp_path) == ["a"]


def test_write_artifact_keeps_a_given_version_and_created(tmp_path: Path) -> None:
    artifact = make_test_artifact(tmp_path / "a", version="v7")
    assert (artifact.version, artifact.manifest["created"]) == ("v7", "2026-01-01T00:00:00Z")
    assert read_artifact(tmp_path / "a").version == "v7"


def test_write_artifact_lists_extra_files_with_sha256_and_bytes(tmp_path: Path) -> None:
    write_artifact(
        tmp_path / "a",
        model=tiny_model_spec(),
        manifest={"version": "v1"},
        extra_files={PIPELINE_FILE: b"pickled", "README.md": b"# card\n"},
    )
    files = _manifest(tmp_path / "a")["files"]
    assert {name: entry for name, entry in files.items() if name != MODEL_FILE} == {
        PIPELINE_FILE: {"sha256": sha256_hex(b"pickled"), "bytes": 7},
        "README.md": {"sha256": sha256_hex(b"# card\n"), "bytes": 7},
    }
    assert _leftovers(tmp_path / "a") == sorted([MANIFEST_FILE, MODEL_FILE, PIPELINE_FILE, "README.md"])


def test_write_artifact_refuses_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(FileExistsError, match=r"a already exists; choose a new output directory"):
        make_test_artifact(tmp_path / "a")
    assert _leftovers(tmp_path / "a") == []


def test_write_artifact_refuses_an_invalid_version(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"manifest version '\.\./escape' is not a valid version id"):
        make_test_artifact(tmp_path / "a", version="../escape")
    assert _leftovers(tmp_path) == []


def test_write_artifact_non_bytes_extra_file_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"Strings must be encoded before hashing"):
        not_bytes: Any = "not bytes"
        write_artifact(
            tmp_path / "a", model=tiny_model_spec(), manifest={"version": "v1"}, extra_files={"notes.txt": not_bytes}
        )
    assert _leftovers(tmp_path) == []


def test_write_artifact_crash_midway_leaves_no_target_and_no_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    real_write_bytes = Path.write_bytes

    def write_then_crash(self: Path, data: bytes) -> int:
        if written:
            raise OSError(28, "No space left on device")
        written.append(self.name)
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_then_crash)
    with pytest.raises(OSError, match=r"No space left on device"):
        make_test_artifact(tmp_path / "a")
    assert len(written) == 1  # one file was on disk when the crash came
    assert _leftovers(tmp_path) == []


def test_read_artifact_without_manifest_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no model artifact at .*nowhere \(expected .*manifest\.json\)"):
        read_artifact(tmp_path / "nowhere")


def test_read_artifact_refuses_a_tampered_model(test_artifact_dir: Path) -> None:
    model = test_artifact_dir / MODEL_FILE
    data = bytearray(model.read_bytes())
    data[data.index(b'"intercept":-1.0') + len(b'"intercept":-')] = ord("9")  # -1.0 -> -9.0, still valid JSON
    model.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"model\.json does not match its sha256 in the manifest \(tampered"):
        read_artifact(test_artifact_dir)


def test_read_artifact_refuses_a_truncated_model(test_artifact_dir: Path) -> None:
    model = test_artifact_dir / MODEL_FILE
    model.write_bytes(model.read_bytes()[:-20])
    with pytest.raises(ArtifactError, match=r"model\.json does not match its sha256 .*truncated"):
        read_artifact(test_artifact_dir)


def test_read_artifact_refuses_a_missing_model(test_artifact_dir: Path) -> None:
    (test_artifact_dir / MODEL_FILE).unlink()
    with pytest.raises(ArtifactError, match=r"artifact: model\.json is missing$"):
        read_artifact(test_artifact_dir)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": "bad version!"}, r"manifest version 'bad version!' is not a valid version id"),
        ({"version": 7}, r"manifest version 7 is not a valid version id"),
        ({"format_version": 2}, r"artifact format_version 2 is not supported \(this release reads 1\)"),
        ({"format_version": None}, r"artifact format_version None is not supported"),
        ({"files": {}}, r"manifest lists no model\.json"),
        ({"files": None}, r"manifest lists no model\.json"),
    ],
)
def test_read_artifact_refuses_a_bad_manifest(test_artifact_dir: Path, changes: dict[str, Any], message: str) -> None:
    _rewrite_manifest(test_artifact_dir, **changes)
    with pytest.raises(ArtifactError, match=message):
        read_artifact(test_artifact_dir)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", r"manifest\.json is not valid JSON: "),
        (b"\xff\xfe garbage", r"manifest\.json is not valid JSON: "),
        (b"[1, 2]", r"manifest\.json must hold a JSON object"),
    ],
)
def test_read_artifact_refuses_an_invalid_manifest_json(test_artifact_dir: Path, data: bytes, message: str) -> None:
    (test_artifact_dir / MANIFEST_FILE).write_bytes(data)
    with pytest.raises(ArtifactError, match=message):
        read_artifact(test_artifact_dir)


def _with_model_bytes(directory: Path, data: bytes) -> None:
    """Replace model.json and re-sign it in the manifest, so only its content is wrong."""
    (directory / MODEL_FILE).write_bytes(data)
    _rewrite_manifest(directory, files={MODEL_FILE: {"sha256": sha256_hex(data), "bytes": len(data)}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", r"model\.json is not valid JSON: "),
        (b'"a string"', r"model\.json must hold a JSON object"),
        (
            json.dumps({**tiny_model_spec(), "format_version": 3}).encode(),
            r"model format_version 3 is not supported \(this release reads 1 and 2\); upgrade spam-classifier or",
        ),
        (json.dumps({"kind": "test"}).encode(), r"model format_version None is not supported"),
    ],
)
def test_read_artifact_refuses_a_bad_model_json(test_artifact_dir: Path, data: bytes, message: str) -> None:
    _with_model_bytes(test_artifact_dir, data)
    with pytest.raises(ArtifactError, match=message):
        read_artifact(test_artifact_dir)


def test_artifact_from_files_refuses_an_unlisted_file(test_artifact_dir: Path) -> None:
    files = {name: (test_artifact_dir / name).read_bytes() for name in (MANIFEST_FILE, MODEL_FILE)}
    with pytest.raises(ArtifactError, match=r"^src: evil\.py is not listed in the manifest$"):
        artifact_from_files({**files, "evil.py": b"import os"}, source="src")


def test_artifact_from_files_without_manifest(test_artifact_dir: Path) -> None:
    with pytest.raises(ArtifactError, match=r"^src: no manifest\.json; is this a model artifact directory\?$"):
        artifact_from_files({MODEL_FILE: (test_artifact_dir / MODEL_FILE).read_bytes()}, source="src")


def test_read_artifact_never_reads_an_unlisted_file(test_artifact_dir: Path) -> None:
    (test_artifact_dir / "unlisted.bin").write_bytes(b"\x00junk")
    assert dict(read_artifact(test_artifact_dir).files).keys() == {MANIFEST_FILE, MODEL_FILE}


def test_read_artifact_reads_the_pipeline_only_when_asked(tmp_path: Path) -> None:
    write_artifact(
        tmp_path / "a",
        model=tiny_model_spec(),
        manifest={"version": "v1"},
        extra_files={PIPELINE_FILE: b"pipeline bytes"},
    )
    assert set(read_artifact(tmp_path / "a").files) == {MANIFEST_FILE, MODEL_FILE}
    assert read_artifact(tmp_path / "a", include_pipeline=True).files[PIPELINE_FILE] == b"pipeline bytes"


def test_read_artifact_does_not_touch_a_tampered_pipeline_unless_asked(tmp_path: Path) -> None:
    write_artifact(
        tmp_path / "a",
        model=tiny_model_spec(),
        manifest={"version": "v1"},
        extra_files={PIPELINE_FILE: b"pipeline bytes"},
    )
    (tmp_path / "a" / PIPELINE_FILE).write_bytes(b"swapped")
    assert read_artifact(tmp_path / "a").version == "v1"
    with pytest.raises(ArtifactError, match=r"model\.joblib does not match its sha256 in the manifest"):
        read_artifact(tmp_path / "a", include_pipeline=True)


def test_read_artifact_missing_pipeline_when_asked(test_artifact_dir: Path) -> None:
    assert read_artifact(test_artifact_dir).version == "v1"
    with pytest.raises(ArtifactError, match=r"model\.joblib is missing \(a runtime-only build leaves it out\)"):
        read_artifact(test_artifact_dir, include_pipeline=True)


@pytest.mark.parametrize("name", ["../escape", "model.json", "manifest.json", "sub/dir", ""])
def test_write_artifact_refuses_unsafe_extra_file_names(tmp_path, name):
    with pytest.raises(ValueError, match="must be a plain file name"):
        write_artifact(tmp_path / "a", model=tiny_model_spec(), manifest={"version": "v1"}, extra_files={name: b"x"})
    assert not (tmp_path / "a").exists()
