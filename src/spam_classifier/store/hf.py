"""The Hugging Face Hub as a read-only model store: ``hf://owner/repo[@revision]``.

A Hub model repository holds one artifact at its root (``model.json``, ``manifest.json``, a README
card), and its git revisions do what a store's aliases and versions do: a branch (``main``) moves, a
tag (``v1``, or the artifact's version id) names one release, a commit hash never changes. Only the
two runtime files are downloaded, with `huggingface_hub.hf_hub_download`, so the Hub's own cache
(``HF_HUB_CACHE``, by commit), its offline mode (``HF_HUB_OFFLINE=1``) and its token (``HF_TOKEN`` or
``hf auth login``) apply unchanged; every file is then verified against the manifest's sha256 like
any store's. huggingface_hub is imported on the first download, never by importing this module.
Publishing goes through the Hub's own tools (``hf upload``), so the writing operations refuse.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NoReturn

from ..artifact import MANIFEST_FILE, MODEL_FILE, Artifact, artifact_from_files
from ..errors import ArtifactError, ConfigurationError, ModelNotFoundError, StoreError
from .base import VersionInfo

__all__ = ["HFStore"]

#: ``owner/name`` as the Hub spells repository ids.
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
#: A branch, a tag or a commit hash, without slashes (so it cannot be confused with the repo id).
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class HFStore:
    """A model repository on the Hugging Face Hub, read through the Hub's own client and cache.

    `read_alias(revision)` resolves a branch or tag to its commit (the etag) and the artifact there,
    so a server following ``hf://owner/repo@main`` reloads when a new commit lands on main.
    """

    schemes = ("hf",)
    #: The revision an ``hf://`` URI without ``@revision`` means.
    default_ref = "main"

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.repo_id = self.uri.removeprefix("hf://")
        if not _REPO_ID.match(self.repo_id) or ".." in self.repo_id:
            raise ConfigurationError(
                f"{uri!r} is not a Hugging Face model URI; use hf://owner/repo or hf://owner/repo@revision"
            )
        self._fetched: dict[str, Artifact] = {}

    @classmethod
    def accepts(cls, uri: str) -> bool:
        return uri.startswith("hf://")

    def __repr__(self) -> str:
        return f"<HFStore {self.uri!r}>"

    # -- reading ---------------------------------------------------------------------------------------------

    def read_alias(self, alias: str, *, etag: str | None = None) -> tuple[str | None, str]:
        """``(version, commit)`` of revision `alias`; ``(None, commit)`` if it still is the commit `etag`."""
        commit, files = self._download(alias, etag=etag)
        if files is None:
            return None, commit
        artifact = artifact_from_files(files, source=f"{self.uri}@{alias} (commit {commit})")
        self._fetched[artifact.version] = artifact
        return artifact.version, commit

    def resolve(self, ref: str) -> str:
        """The artifact version at revision `ref` (a branch, tag or commit)."""
        version, _ = self.read_alias(ref)
        assert version is not None
        return version

    def fetch(self, version: str) -> Artifact:
        """The verified runtime files of `version`: as resolved before, or at a tag named after the version."""
        if version in self._fetched:
            return self._fetched[version]
        found, commit = self.read_alias(version)
        artifact = self._fetched[found] if found is not None else None
        if artifact is None or artifact.version != version:
            raise ArtifactError(
                f"{self.uri}@{version} (commit {commit}) holds version {found!r}, not {version!r}; "
                "tag each upload with its own version"
            )
        return artifact

    def list_versions(self) -> list[VersionInfo]:
        self._read_only("list versions (see the repository's tags on the Hub: hf download / the web page)")

    # -- writing: through the Hub's own tools ---------------------------------------------------------------

    def publish(self, artifact_dir: Any, *, alias: str | None = None) -> str:
        self._read_only("publish")

    def promote(self, version: str, *, alias: str) -> None:
        self._read_only("promote")

    def rollback(self, *, alias: str) -> str:
        self._read_only("roll back")

    def _read_only(self, action: str) -> NoReturn:
        raise StoreError(
            f"{self.uri}: cannot {action} here, an hf:// store is read-only; write a folder with "
            "`spam-classifier export DIR --format hf`, then `hf upload owner/repo DIR` and tag it (docs/models.md)"
        )

    # -- the download ----------------------------------------------------------------------------------------

    def _download(self, revision: str, *, etag: str | None = None) -> tuple[str, dict[str, bytes] | None]:
        """``(commit, {name: bytes})`` of the runtime files at `revision`; files None if the commit is `etag`."""
        if not isinstance(revision, str) or not _REVISION.match(revision):
            raise ConfigurationError(
                f"revision {revision!r} of {self.uri} is not a branch, tag or commit name "
                "(letters, digits, '.', '_' or '-')"
            )
        try:
            from huggingface_hub import hf_hub_download
        except ModuleNotFoundError:
            raise ConfigurationError(
                "hf:// model URIs need huggingface_hub: pip install 'spam-classifier[hf]'"
            ) from None
        where = f"{self.uri}@{revision}"
        try:
            manifest_path = Path(hf_hub_download(self.repo_id, MANIFEST_FILE, revision=revision))
            commit = manifest_path.parent.name  # <cache>/models--owner--repo/snapshots/<commit>/manifest.json
            if commit == etag:
                return commit, None
            model_path = Path(hf_hub_download(self.repo_id, MODEL_FILE, revision=commit))
            return commit, {MANIFEST_FILE: manifest_path.read_bytes(), MODEL_FILE: model_path.read_bytes()}
        except Exception as exc:  # noqa: BLE001 - every Hub failure becomes one of ours, with a next step
            _raise_hub_error(exc, where)


def _raise_hub_error(exc: Exception, where: str) -> NoReturn:
    """Raise our error for a Hub failure: the first matching row of a table, most specific class first."""
    from huggingface_hub import errors

    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    table: list[tuple[Any, type[Exception], str]] = [
        (errors.LocalEntryNotFoundError, ModelNotFoundError,
         "not in the local Hub cache, and the Hub cannot be reached (offline, or HF_HUB_OFFLINE=1); "
         "download it once online, or check the revision"),
        (errors.RevisionNotFoundError, ModelNotFoundError, "no such branch, tag or commit on the Hub"),
        (errors.RepositoryNotFoundError, ModelNotFoundError,  # also gated and private repositories without a token
         "no such model repository on the Hub, or it is private or gated: set HF_TOKEN or run `hf auth login`"),
        (errors.EntryNotFoundError, ModelNotFoundError,
         f"has no {MANIFEST_FILE} and {MODEL_FILE}; is it a spam-classifier model? "
         "(make one with `spam-classifier export DIR --format hf`)"),
        (errors.HFValidationError, ConfigurationError, first_line),
        ((OSError, errors.HfHubHTTPError), StoreError, f"cannot download from the Hub: {first_line}"),
    ]
    for hub_error, ours, message in table:
        if isinstance(exc, hub_error):
            raise ours(f"{where}: {message}") from None
    raise exc
