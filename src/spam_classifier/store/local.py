"""The folder store: the default, so publishing and serving need nothing but a disk.

Atomicity comes from the file system: a new file is written under a hidden temporary name and
hard-linked into place (which fails if the name exists), and an alias is replaced with `os.replace`
while holding an exclusive `flock` on ``aliases/.lock``, so concurrent processes cannot lose a move.
A feedback report is replaced with `os.replace` of a complete temporary file, so a reader sees the old
report or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import StoreError
from .base import BaseStore

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: alias moves are then only safe within one process
    fcntl = None  # type: ignore[assignment]

__all__ = ["LocalStore"]


class LocalStore(BaseStore):
    """A model store in a local folder; the URI is the folder's path."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.root = Path(uri).expanduser()

    @classmethod
    def accepts(cls, uri: str) -> bool:
        return "://" not in uri

    def _read(self, key: str, *, etag: str | None = None) -> tuple[bytes | None, str] | None:
        with self._errors("read", key):
            try:
                data = self._path(key).read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                return None
        tag = _etag(data)
        return (None, tag) if tag == etag else (data, tag)

    def _create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        with self._errors("write", key):
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._write_temporary(path, data)
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
            finally:
                os.unlink(temporary)
        return True

    def _swap(self, key: str, data: bytes, *, etag: str | None) -> bool:
        path = self._path(key)
        with self._errors("write", key):
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._alias_lock(path.parent):
                try:
                    current: str | None = _etag(path.read_bytes())
                except FileNotFoundError:
                    current = None
                if current != etag:
                    return False
                os.replace(self._write_temporary(path, data), path)
        return True

    def _list(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            raise StoreError(f"no model store at {self.uri} (no such folder); publish a model there to create it")
        base = self._path(prefix)
        with self._errors("list", prefix):
            if not base.is_dir():
                return []
            return sorted(
                path.relative_to(self.root).as_posix()
                for path in base.rglob("*")
                if path.is_file() and not path.name.startswith(".")
            )

    def _replace(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with self._errors("write", key):
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._write_temporary(path, data), path)

    def _delete(self, key: str) -> None:
        path = self._path(key)
        with self._errors("delete", key):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            with contextlib.suppress(OSError):  # the report's folder, once it holds no label any more
                path.parent.rmdir()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    @staticmethod
    def _write_temporary(path: Path, data: bytes) -> str:
        import tempfile  # writers only: serving from a packaged model never imports it

        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        return temporary

    @staticmethod
    @contextlib.contextmanager
    def _alias_lock(directory: Path) -> Iterator[None]:
        with open(directory / ".lock", "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise StoreError(
                f"{self.uri}: cannot {action} {key}: {exc.strerror or exc}; check the folder exists and is writable"
            ) from None


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]
