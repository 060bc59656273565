"""The model store seam: the `ModelStore` Protocol, the name rules, and the one implementation of its semantics.

A store holds immutable versions and movable aliases under one root:

    versions/<version>/model.json      written first (and model.joblib, if the artifact has one)
    versions/<version>/manifest.json   written LAST: a version without a manifest does not exist yet
    aliases/<alias>.json               {"alias", "version", "history": [newest previous, ...], "updated"}
    feedback/<sha256>/<label>.json     one labelled report (`spam_classifier.feedback` writes and reads them)

`BaseStore` implements every operation once, on top of six storage primitives (read with an etag,
create-if-absent, compare-and-swap, list, replace, delete), so the folder, memory and S3 stores differ
only in how they do those things and cannot drift apart in behaviour.

Feedback is kept apart from models on purpose: a server may write ``feedback/`` but never reads or lists
it (its cloud role cannot), and nothing under ``feedback/`` is ever needed to serve a model.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from ..artifact import MANIFEST_FILE, MODEL_FILE, PIPELINE_FILE, Artifact, artifact_from_files, read_artifact
from ..errors import ArtifactError, ConfigurationError, ModelNotFoundError, StoreError

__all__ = [
    "ALIAS_PATTERN",
    "FEEDBACK_NAME_PATTERN",
    "HISTORY_LIMIT",
    "VERSION_PATTERN",
    "BaseStore",
    "ModelStore",
    "VersionInfo",
    "check_alias",
    "check_feedback_name",
    "check_version",
]

#: A version id, as `artifact.write_artifact` makes them (e.g. ``20260101T120000Z-3f2a9c01bd``).
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: An alias name: lowercase, so ``Production`` and ``production`` cannot both exist.
ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
#: A feedback object's name under ``feedback/``: the sha256 of the folded message, then its label.
FEEDBACK_NAME_PATTERN = re.compile(r"^[0-9a-f]{64}/(?:ham|spam)\.json$")
#: How many previous versions an alias remembers for `rollback`.
HISTORY_LIMIT = 50

_CAS_ATTEMPTS = 20


def check_version(version: str) -> str:
    """Return `version` if it is a valid version id, else raise ConfigurationError."""
    if not isinstance(version, str) or not VERSION_PATTERN.match(version):
        raise ConfigurationError(
            f"version {version!r} is not a valid version id: use up to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return version


def check_alias(alias: str) -> str:
    """Return `alias` if it is a valid alias name, else raise ConfigurationError."""
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias):
        raise ConfigurationError(
            f"alias {alias!r} is not a valid alias name: use up to 63 lowercase letters, digits, '_' or '-', "
            "starting with a letter (e.g. production)"
        )
    return alias


def check_feedback_name(name: str) -> str:
    """Return `name` if it is a valid feedback object name (``<sha256>/<label>.json``), else raise."""
    if not isinstance(name, str) or not FEEDBACK_NAME_PATTERN.match(name):
        raise ConfigurationError(
            f"feedback name {name!r} is not valid: expected <64 hex digits>/ham.json or <64 hex digits>/spam.json"
        )
    return name


@dataclass(frozen=True)
class VersionInfo:
    """One published version, as `ModelStore.list_versions` reports it."""

    version: str
    created: str
    metrics: dict[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@runtime_checkable
class ModelStore(Protocol):
    """What every model store offers; `open_store(uri)` returns one."""

    uri: str

    @classmethod
    def accepts(cls, uri: str) -> bool: ...

    def publish(self, artifact_dir: str | os.PathLike[str], *, alias: str | None = None) -> str: ...

    def promote(self, version: str, *, alias: str) -> None: ...

    def rollback(self, *, alias: str) -> str: ...

    def list_versions(self) -> list[VersionInfo]: ...

    def resolve(self, ref: str) -> str: ...

    def fetch(self, version: str) -> Artifact: ...

    def read_alias(self, alias: str, *, etag: str | None = None) -> tuple[str | None, str]: ...

    def put_feedback(self, name: str, data: bytes) -> bool: ...

    def list_feedback(self) -> list[str]: ...

    def read_feedback(self, name: str) -> bytes | None: ...

    def delete_feedback(self, name: str) -> None: ...


class BaseStore(ABC):
    """`ModelStore` semantics over four storage primitives; subclasses implement only the primitives.

    Keys are ``/``-separated paths relative to the store root, e.g. ``versions/v1/model.json``.
    """

    #: The URI schemes a subclass serves, for `accepts`; the folder store overrides `accepts` instead.
    schemes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @classmethod
    def accepts(cls, uri: str) -> bool:
        return any(uri.startswith(f"{scheme}://") for scheme in cls.schemes)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri!r}>"

    # -- the four primitives -------------------------------------------------------------------------

    @abstractmethod
    def _read(self, key: str, *, etag: str | None = None) -> tuple[bytes | None, str] | None:
        """``(data, etag)``; ``(None, etag)`` when `etag` still matches; None when `key` is absent."""

    @abstractmethod
    def _create(self, key: str, data: bytes) -> bool:
        """Write `key` only if it does not exist, atomically; False if it already existed."""

    @abstractmethod
    def _swap(self, key: str, data: bytes, *, etag: str | None) -> bool:
        """Replace `key` in one write if its etag is still `etag` (None: if it is still absent); False if not."""

    @abstractmethod
    def _list(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix`."""

    @abstractmethod
    def _replace(self, key: str, data: bytes) -> None:
        """Write `key` in one atomic step whether or not it exists (readers see the old or the new bytes)."""

    @abstractmethod
    def _delete(self, key: str) -> None:
        """Remove `key` (every stored copy of it); nothing happens if it is absent."""

    def _check_writable(self) -> None:
        """Raise StoreError if the store cannot be published to (e.g. the S3 bucket is missing)."""
        return None

    # -- ModelStore ------------------------------------------------------------------------------------

    def publish(self, artifact_dir: str | os.PathLike[str], *, alias: str | None = None) -> str:
        """Copy a verified artifact directory into the store as a new version; optionally point `alias` at it.

        Files go first and the manifest last, each created only if absent, so a crashed publish leaves
        an invisible partial version that re-running the same publish completes. Publishing the same
        artifact twice is a no-op; a different artifact under an existing version id is refused.
        """
        if alias is not None:
            check_alias(alias)
        directory = Path(artifact_dir)
        artifact = read_artifact(directory, include_pipeline=(directory / PIPELINE_FILE).is_file())
        version = check_version(artifact.version)
        self._check_writable()
        optional = sorted(set(artifact.files) - {MODEL_FILE, MANIFEST_FILE})
        for name in [*optional, MODEL_FILE, MANIFEST_FILE]:
            self._create_once(f"versions/{version}/{name}", artifact.files[name], version=version)
        if alias is not None:
            self.promote(version, alias=alias)
        return version

    def promote(self, version: str, *, alias: str) -> None:
        """Point `alias` at `version` in one write, remembering where it pointed before.

        The version is fetched and verified first, so an alias never moves to a broken version.
        """
        check_alias(alias)
        self.fetch(version)

        def move(current: dict[str, Any] | None) -> dict[str, Any] | None:
            if current is None:
                return _alias_document(alias, version, [])
            if current["version"] == version:
                return None
            return _alias_document(alias, version, [current["version"], *current["history"]])

        self._update_alias(alias, move)

    def rollback(self, *, alias: str) -> str:
        """Point `alias` back at the version it pointed at before the last promote; return that version."""
        check_alias(alias)
        target: list[str] = []

        def back(current: dict[str, Any] | None) -> dict[str, Any]:
            if current is None:
                raise ModelNotFoundError(f"no alias {alias!r} in {self.uri}; promote a version to it first")
            if not current["history"]:
                raise ModelNotFoundError(
                    f"alias {alias!r} in {self.uri} has no earlier version to roll back to "
                    f"(it points at {current['version']}); promote a version instead"
                )
            previous, *older = current["history"]
            self.fetch(previous)
            target[:] = [previous]
            return _alias_document(alias, previous, older)

        self._update_alias(alias, back)
        return target[0]

    def list_versions(self) -> list[VersionInfo]:
        """Every complete version (one with a manifest), oldest first, with its metrics and aliases."""
        pointed: dict[str, list[str]] = {}
        for key in self._list("aliases/"):
            name = key.removeprefix("aliases/").removesuffix(".json")
            if key.endswith(".json") and "/" not in name and ALIAS_PATTERN.match(name):
                document = self._read_alias_document(name)
                if document is not None:
                    pointed.setdefault(document["version"], []).append(name)
        infos = []
        for key in self._list("versions/"):
            parts = key.split("/")
            if len(parts) != 3 or parts[2] != MANIFEST_FILE:
                continue
            found = self._read(key)
            manifest = _parse_manifest(found[0] if found else None)
            infos.append(
                VersionInfo(
                    version=parts[1],
                    created=str(manifest.get("created", "")),
                    metrics=_key_metrics(manifest.get("metrics")),
                    aliases=tuple(sorted(pointed.get(parts[1], ()))),
                )
            )
        return sorted(infos, key=lambda info: (info.created, info.version))

    def resolve(self, ref: str) -> str:
        """The version `ref` names: an alias's current version, or `ref` itself if it is a version."""
        if ALIAS_PATTERN.match(ref):
            document = self._read_alias_document(ref)
            if document is not None:
                if not self._has_version(document["version"]):
                    raise ModelNotFoundError(
                        f"alias {ref!r} in {self.uri} points at version {document['version']}, which is not in "
                        "the store; promote an existing version to it"
                    )
                return document["version"]
        if VERSION_PATTERN.match(ref) and self._has_version(ref):
            return ref
        raise ModelNotFoundError(
            f"no alias or version {ref!r} in {self.uri}; list them with: spam-classifier versions --store {self.uri}"
        )

    def fetch(self, version: str) -> Artifact:
        """The verified runtime files (manifest.json and model.json) of `version`."""
        check_version(version)
        source = f"{self.uri}/versions/{version}"
        manifest = self._read(f"versions/{version}/{MANIFEST_FILE}")
        if manifest is None or manifest[0] is None:
            raise ModelNotFoundError(
                f"no version {version!r} in {self.uri}; list them with: spam-classifier versions --store {self.uri}"
            )
        files = {MANIFEST_FILE: manifest[0]}
        model = self._read(f"versions/{version}/{MODEL_FILE}")
        if model is not None and model[0] is not None:
            files[MODEL_FILE] = model[0]
        artifact = artifact_from_files(files, source=source)
        if artifact.version != version:
            raise ArtifactError(
                f"{source}: its manifest says version {artifact.version!r}; the store was tampered with, "
                "refusing to load it"
            )
        return artifact

    def read_alias(self, alias: str, *, etag: str | None = None) -> tuple[str | None, str]:
        """``(version, etag)`` of `alias`; ``(None, etag)`` if it has not changed since `etag`."""
        check_alias(alias)
        found = self._read(f"aliases/{alias}.json", etag=etag)
        if found is None:
            raise ModelNotFoundError(f"no alias {alias!r} in {self.uri}; promote a version to it first")
        data, new_etag = found
        if data is None:
            return None, new_etag
        return _parse_alias(data, f"{self.uri}/aliases/{alias}.json")["version"], new_etag

    # -- feedback ------------------------------------------------------------------------------------------

    def put_feedback(self, name: str, data: bytes) -> bool:
        """Write ``feedback/<name>`` atomically; True if it is new, False if it replaced the same report.

        Never reads or lists (a server's role may only write feedback): a create-if-absent first tells
        new from known, then a known report is overwritten so its ``received`` time is the latest.
        """
        key = f"feedback/{check_feedback_name(name)}"
        if self._create(key, data):
            return True
        self._replace(key, data)
        return False

    def list_feedback(self) -> list[str]:
        """Every feedback object's name (``<sha256>/<label>.json``), sorted; other keys under feedback/ are skipped."""
        names = (key.removeprefix("feedback/") for key in self._list("feedback/"))
        return sorted(name for name in names if FEEDBACK_NAME_PATTERN.match(name))

    def read_feedback(self, name: str) -> bytes | None:
        """The bytes of ``feedback/<name>``, or None if it is gone (purged since it was listed)."""
        found = self._read(f"feedback/{check_feedback_name(name)}")
        return None if found is None else found[0]

    def delete_feedback(self, name: str) -> None:
        """Remove ``feedback/<name>`` for good (on S3, every version of it)."""
        self._delete(f"feedback/{check_feedback_name(name)}")

    # -- shared steps ------------------------------------------------------------------------------------

    def _create_once(self, key: str, data: bytes, *, version: str) -> None:
        if self._create(key, data):
            return
        existing = self._read(key)
        if existing is None or existing[0] != data:
            raise StoreError(
                f"version {version} already exists in {self.uri} with different content and versions are "
                "immutable; write the artifact again to get a new version id"
            )

    def _has_version(self, version: str) -> bool:
        return self._read(f"versions/{version}/{MANIFEST_FILE}") is not None

    def _read_alias_document(self, alias: str) -> dict[str, Any] | None:
        found = self._read(f"aliases/{alias}.json")
        if found is None or found[0] is None:
            return None
        return _parse_alias(found[0], f"{self.uri}/aliases/{alias}.json")

    def _update_alias(self, alias: str, change: Any) -> None:
        """Apply `change(current document or None) -> new document or None` with compare-and-swap, retrying races."""
        key = f"aliases/{alias}.json"
        for attempt in range(_CAS_ATTEMPTS):
            found = self._read(key)
            current = None if found is None else _parse_alias(found[0] or b"", f"{self.uri}/{key}")
            document = change(current)
            if document is None:
                return
            data = (json.dumps(document, indent=2) + "\n").encode()
            if self._swap(key, data, etag=None if found is None else found[1]):
                return
            time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        raise StoreError(
            f"alias {alias!r} in {self.uri} kept changing under {_CAS_ATTEMPTS} attempts to move it; "
            "another publisher is busy, try again"
        )


def _alias_document(alias: str, version: str, history: list[str]) -> dict[str, Any]:
    return {
        "alias": alias,
        "version": version,
        "history": history[:HISTORY_LIMIT],
        "updated": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _parse_alias(data: bytes, source: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        document = None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("version"), str)
        or not VERSION_PATTERN.match(document["version"])
        or not isinstance(document.get("history", []), list)
        or not all(isinstance(item, str) and VERSION_PATTERN.match(item) for item in document.get("history", []))
    ):
        raise StoreError(f"{source} is not a valid alias file; delete it, then promote a version to the alias again")
    document.setdefault("history", [])
    return document


def _parse_manifest(data: bytes | None) -> dict[str, Any]:
    try:
        manifest = json.loads(data or b"")
    except (UnicodeDecodeError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _key_metrics(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, dict):
        return {}
    return {
        name: float(value)
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
