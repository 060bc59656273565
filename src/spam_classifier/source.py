"""Where a server gets its model, and how it follows an alias without ever serving a broken one.

A model URI is one of:

    (unset)                         the model shipped in the package (`scorer.DEFAULT_MODEL_DIR`)
    /path/to/artifact               an artifact directory (loaded once; not reloaded)
    /path/to/store@production       an alias in a folder store (followed: reloaded when it moves)
    s3://bucket/prefix@production   an alias in an S3 store (followed)
    s3://bucket/prefix@<version>    one immutable version (pinned: never reloaded)
    hf://owner/repo[@revision]      a Hugging Face Hub repository at a branch (default main; followed), tag or commit

`ModelSource` loads at construction and never raises for a store or artifact failure: it records the
error, logs one structured line and keeps serving what it has. `refresh_if_due()` is cheap to call
on every request: at most once per `reload_seconds` one caller does a conditional GET of the alias,
and only when the alias moved does it fetch, verify and build the new `Model`, then swap it in with a
single assignment. Everyone else returns at once and keeps using the current model.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .artifact import RUNTIME_FILES, Artifact, read_artifact
from .errors import ArtifactError, ConfigurationError, ModelNotFoundError, SpamClassifierError
from .scorer import DEFAULT_MODEL_DIR, Model
from .store import ALIAS_PATTERN, STORES, VERSION_PATTERN, ModelStore, open_store

__all__ = ["ModelSource", "fetch_artifact", "parse_model_uri"]

_logger = logging.getLogger("spam_classifier")


def parse_model_uri(uri: str | None) -> tuple[str | None, str]:
    """Split a model URI into ``(store URI, alias or version)``, or ``(None, artifact directory)`` without a store.

    >>> parse_model_uri("s3://models/spam@production")
    ('s3://models/spam', 'production')
    >>> parse_model_uri("/srv/model")
    (None, '/srv/model')
    """
    if uri is None or not uri.strip():
        return None, str(DEFAULT_MODEL_DIR)
    uri = uri.strip()
    location, at, ref = uri.rpartition("@")
    has_ref = bool(at) and "/" not in ref and bool(ALIAS_PATTERN.match(ref) or VERSION_PATTERN.match(ref))
    if "://" in uri.split("@", 1)[0]:
        default_ref = _default_ref(uri if not has_ref else location)
        if not has_ref and default_ref is not None:
            return uri, default_ref
        if not has_ref or not location:
            raise ConfigurationError(
                f"model URI {uri!r} names a store but no alias or version; append one, e.g. {uri}@production"
            )
        return location, ref
    if has_ref and location and not Path(uri).is_dir():
        return location, ref
    return None, uri


def _default_ref(store_uri: str) -> str | None:
    """The ref a store URI without ``@ref`` means, if its store has one (``hf://`` means ``main``)."""
    for store_class in STORES:
        if store_class.accepts(store_uri):
            return getattr(store_class, "default_ref", None)
    return None


def fetch_artifact(uri: str | None) -> Artifact:
    """The verified runtime files a model URI names, read once (no following): what `load_model(uri)` loads."""
    store_uri, ref = parse_model_uri(uri)
    if store_uri is None:
        return read_artifact(ref)
    store = open_store(store_uri)
    return store.fetch(store.resolve(ref))


class ModelSource:
    """The current model of a model URI, reloaded in the background of requests when its alias moves.

    `cache_dir` (MODEL_CACHE_DIR; ``/tmp/spam-classifier-models`` on Lambda) keeps fetched runtime files
    by version, re-verified on every read, so another process or a restarted one does not download them
    again. `clock` is injectable so tests can advance time.
    """

    def __init__(
        self,
        uri: str | None,
        *,
        reload_seconds: float = 60.0,
        cache_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uri = uri
        self.reload_seconds = float(reload_seconds)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._clock = clock
        self._store_uri, self._ref = parse_model_uri(uri)
        self._store: ModelStore | None = None
        self._model: Model | None = None
        self._error: str | None = None
        self._etag: str | None = None
        self._follows_alias = False
        self._lock = threading.Lock()
        self._checked_at = clock()
        self.load()

    @property
    def model(self) -> Model | None:
        """The model to serve, or None if none could be loaded yet."""
        return self._model

    @property
    def error(self) -> str | None:
        """Why the last load or reload failed; None once one succeeds."""
        return self._error

    def load(self) -> Model | None:
        """(Re)load the model from scratch; on failure keep the current one and record the error."""
        with self._lock:
            self._load()
        return self._model

    def due(self) -> bool:
        """Whether `refresh_if_due` would do work now: the check interval has passed and no refresh is running.

        A couple of attribute reads, so an event loop can call it on every request and move only the
        rare due refresh (which may do network I/O) off the loop.
        """
        return (
            self.reload_seconds > 0
            and self._clock() - self._checked_at >= self.reload_seconds
            and not self._lock.locked()
        )

    def refresh_if_due(self) -> None:
        """Follow the alias if `reload_seconds` have passed since the last check; never blocks, never raises.

        When a refresh is due, the one caller that gets to do it waits for the store; use `due()` first
        to run it in a worker thread instead.
        """
        if self.reload_seconds <= 0 or self._clock() - self._checked_at < self.reload_seconds:
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._clock() - self._checked_at < self.reload_seconds:
                return  # another caller refreshed while we were getting here
            if self._model is None:
                self._load()
            elif self._follows_alias:
                self._follow_alias()
        finally:
            self._lock.release()

    # -- steps, called with the lock held ----------------------------------------------------------------------

    def _load(self) -> None:
        self._checked_at = self._clock()
        etag: str | None = None
        try:
            if self._store_uri is None:
                model, follows = Model(read_artifact(self._ref)), False
            else:
                store = self._open_store()
                version: str | None = None
                if ALIAS_PATTERN.match(self._ref):
                    with contextlib.suppress(ModelNotFoundError):  # not an alias: perhaps a version
                        version, etag = store.read_alias(self._ref)
                follows = version is not None
                model = self._build(version or store.resolve(self._ref))
        except Exception as exc:  # noqa: BLE001 - the serving path records every failure and carries on
            self._fail("model_load_failed", exc)
            return
        self._model, self._etag, self._follows_alias, self._error = model, etag, follows, None
        _log(logging.INFO, "model_loaded", model_uri=self.uri, version=model.version, follows_alias=follows)

    def _follow_alias(self) -> None:
        self._checked_at = self._clock()
        current = self._model
        assert current is not None
        try:
            version, etag = self._open_store().read_alias(self._ref, etag=self._etag)
            if version is None or version == current.version:
                self._etag, self._error = etag, None
                return
            model = self._build(version)
        except Exception as exc:  # noqa: BLE001 - a failed reload must never stop the current model serving
            self._fail("model_reload_failed", exc)
            return
        self._model = model  # the swap: requests already holding the old model finish with it
        self._etag, self._error = etag, None
        _log(logging.INFO, "model_reloaded", model_uri=self.uri, version=version, previous_version=current.version)

    def _open_store(self) -> ModelStore:
        if self._store is None:
            assert self._store_uri is not None
            self._store = open_store(self._store_uri)
        return self._store

    def _build(self, version: str) -> Model:
        artifact = self._read_cache(version)
        if artifact is None:
            artifact = self._open_store().fetch(version)
            self._write_cache(artifact)
        return Model(artifact)

    def _fail(self, event: str, exc: Exception) -> None:
        self._error = str(exc) if isinstance(exc, SpamClassifierError) else f"{type(exc).__name__}: {exc}"
        current = self._model
        _log(
            logging.ERROR,
            event,
            model_uri=self.uri,
            error_type=type(exc).__name__,
            error=self._error,
            serving_version=None if current is None else current.version,
        )

    # -- the runtime-file cache ----------------------------------------------------------------------------

    def _cache_path(self, version: str) -> Path | None:
        if self.cache_dir is None or self._store_uri is None:
            return None
        store_key = hashlib.sha256(self._store_uri.encode()).hexdigest()[:16]
        return self.cache_dir / store_key / version

    def _read_cache(self, version: str) -> Artifact | None:
        path = self._cache_path(version)
        if path is None or not path.is_dir():
            return None
        try:
            artifact = read_artifact(path)
            if artifact.version != version:
                raise ArtifactError(f"{path}: holds version {artifact.version!r}, not {version!r}")
        except SpamClassifierError as exc:
            _log(logging.WARNING, "model_cache_invalid", model_uri=self.uri, version=version, error=str(exc))
            import shutil  # rare path

            shutil.rmtree(path, ignore_errors=True)
            return None
        return artifact

    def _write_cache(self, artifact: Artifact) -> None:
        path = self._cache_path(artifact.version)
        if path is None or path.is_dir():
            return
        import shutil  # only a model fetched from a store is cached: no cold-start cost for a packaged one
        import tempfile

        staging: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)
            for name in RUNTIME_FILES:
                Path(staging, name).write_bytes(artifact.files[name])
            os.replace(staging, path)
        except OSError as exc:
            if not path.is_dir():  # losing the race to another process is fine; anything else is worth a line
                _log(logging.WARNING, "model_cache_write_failed", model_uri=self.uri, error=str(exc))
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)


def _log(level: int, event: str, **fields: Any) -> None:
    """One log record per event: the event name is the message, the details ride on ``record.fields``.

    The JSON-lines formatter (`app.configure_logging`) writes each field once, beside the message.
    """
    _logger.log(level, event, extra={"fields": {"event": event, **fields}})
