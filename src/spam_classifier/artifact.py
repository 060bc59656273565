"""The model artifact: a directory of plain data files, each pinned by its sha256 in a manifest.

    <artifact>/
      model.json      everything the scorer needs (vocabularies, idf, weights, threshold); plain JSON
      manifest.json   version, creation time, training data, metrics, library versions, file checksums
      model.joblib    the fitted scikit-learn pipeline, for scikit-learn users (optional; never served)

Nothing here executes code from the artifact: JSON is parsed, every file that is read is checked
against the manifest's sha256 first, and a file the manifest does not list is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import ArtifactError, ModelNotFoundError

__all__ = [
    "BINARY_FORMAT_VERSION",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "PIPELINE_FILE",
    "RUNTIME_FILES",
    "Artifact",
    "artifact_from_files",
    "read_artifact",
    "sha256_file",
    "sha256_hex",
    "write_artifact",
]

FORMAT_VERSION = 1
#: model.json's format_version when a vectorizer counts terms as present or absent ("binary"): a release
#: that reads only format 1 would score such a model with counts, so it must refuse it instead.
BINARY_FORMAT_VERSION = 2
_MODEL_FORMAT_VERSIONS = (FORMAT_VERSION, BINARY_FORMAT_VERSION)
MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.json"
PIPELINE_FILE = "model.joblib"
#: The files a server needs; everything else in an artifact is optional.
RUNTIME_FILES = (MANIFEST_FILE, MODEL_FILE)

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Artifact:
    """A verified artifact: its parsed manifest and model, and the raw bytes of each file read."""

    manifest: dict[str, Any]
    model: dict[str, Any]
    files: Mapping[str, bytes]

    @property
    def version(self) -> str:
        return self.manifest["version"]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file, read a megabyte at a time (corpora and imported models can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_from_files(files: Mapping[str, bytes], *, source: str = "artifact") -> Artifact:
    """Verify and parse an artifact given as ``{file name: bytes}``.

    `files` must hold the manifest and ``model.json``; any other file it holds must be listed in the
    manifest and match its checksum. Raises ArtifactError naming `source` on any mismatch.
    """
    if MANIFEST_FILE not in files:
        raise ArtifactError(f"{source}: no {MANIFEST_FILE}; is this a model artifact directory?")
    manifest = _parse_json(files[MANIFEST_FILE], f"{source}/{MANIFEST_FILE}")
    _check_manifest(manifest, source)
    listed: dict[str, Any] = manifest["files"]
    for name, data in files.items():
        if name == MANIFEST_FILE:
            continue
        if name not in listed:
            raise ArtifactError(f"{source}: {name} is not listed in the manifest")
        expected = listed[name].get("sha256") if isinstance(listed[name], dict) else None
        if sha256_hex(data) != expected:
            raise ArtifactError(
                f"{source}: {name} does not match its sha256 in the manifest (tampered with or truncated); "
                "refusing to load it"
            )
    if MODEL_FILE not in files:
        raise ArtifactError(f"{source}: {MODEL_FILE} is missing")
    model = _parse_json(files[MODEL_FILE], f"{source}/{MODEL_FILE}")
    if model.get("format_version") not in _MODEL_FORMAT_VERSIONS:
        raise ArtifactError(
            f"{source}: model format_version {model.get('format_version')!r} is not supported (this release "
            f"reads {' and '.join(map(str, _MODEL_FORMAT_VERSIONS))}); upgrade spam-classifier or recompile the model"
        )
    return Artifact(manifest=manifest, model=model, files=dict(files))


def read_artifact(directory: str | os.PathLike[str], *, include_pipeline: bool = False) -> Artifact:
    """Read and verify the artifact in `directory`.

    Only the runtime files are read unless `include_pipeline` is true, so a server never touches
    (let alone unpickles) ``model.joblib``.
    """
    path = Path(directory)
    if not (path / MANIFEST_FILE).is_file():
        raise ModelNotFoundError(f"no model artifact at {path} (expected {path / MANIFEST_FILE})")
    names = RUNTIME_FILES + ((PIPELINE_FILE,) if include_pipeline else ())
    files: dict[str, bytes] = {}
    for name in names:
        try:
            files[name] = (path / name).read_bytes()
        except FileNotFoundError:
            if name in RUNTIME_FILES:
                raise ArtifactError(f"{path}: {name} is missing") from None
            raise ArtifactError(f"{path}: {name} is missing (a runtime-only build leaves it out)") from None
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read {name}: {exc.strerror}") from None
    return artifact_from_files(files, source=str(path))


def write_artifact(
    directory: str | os.PathLike[str],
    *,
    model: Mapping[str, Any],
    manifest: Mapping[str, Any],
    extra_files: Mapping[str, bytes] | None = None,
) -> Artifact:
    """Write a complete artifact to `directory`, which must not exist yet.

    The manifest gets a ``version`` (unless it has one: creation time plus a content hash, so
    versions sort by age and never collide), a ``created`` time, and the sha256 and size of every
    file. Files are written to a temporary sibling directory that is renamed into place last, so a
    crash never leaves a half-written artifact.
    """
    target = Path(directory)
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose a new output directory")
    for name in extra_files or {}:
        if name in (MODEL_FILE, MANIFEST_FILE) or not _FILE_NAME.match(name):
            raise ValueError(f"extra artifact file name {name!r} must be a plain file name other than the core files")
    files = {MODEL_FILE: _dump_json(model, compact=True), **(extra_files or {})}
    created = datetime.now(UTC)
    full_manifest = {
        "version": f"{created:%Y%m%dT%H%M%SZ}-{sha256_hex(files[MODEL_FILE])[:10]}",
        "created": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        **manifest,
        "format_version": FORMAT_VERSION,
        "files": {name: {"sha256": sha256_hex(data), "bytes": len(data)} for name, data in sorted(files.items())},
    }
    files[MANIFEST_FILE] = _dump_json(full_manifest, compact=False)
    _check_manifest(full_manifest, str(target))

    import shutil  # write-only helpers, kept off the serving path's cold start
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return artifact_from_files({name: files[name] for name in RUNTIME_FILES}, source=str(target))


def _check_manifest(manifest: Any, source: str) -> None:
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{source}: {MANIFEST_FILE} must hold a JSON object")
    version = manifest.get("version")
    if not isinstance(version, str) or not _VERSION_PATTERN.match(version):
        raise ArtifactError(f"{source}: manifest version {version!r} is not a valid version id")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{source}: artifact format_version {manifest.get('format_version')!r} is not supported "
            f"(this release reads {FORMAT_VERSION})"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ArtifactError(f"{source}: manifest lists no {MODEL_FILE}")


def _parse_json(data: bytes, source: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ArtifactError(f"{source} must hold a JSON object")
    return value


def _dump_json(value: Mapping[str, Any], *, compact: bool) -> bytes:
    if compact:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return (json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()
