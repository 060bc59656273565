"""The in-memory store, for tests and examples: the same semantics as the others, no disk, no network.

``memory://name`` names one store per process: every `open_store` of the same URI sees the same objects,
the way two processes see the same bucket.
"""

from __future__ import annotations

import hashlib
import threading
from typing import ClassVar

from .base import BaseStore

__all__ = ["MemoryStore"]


class MemoryStore(BaseStore):
    """A model store held in a dict; `objects` maps each key to its bytes (tests may edit it to simulate damage)."""

    schemes = ("memory",)
    _shared: ClassVar[dict[str, dict[str, bytes]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        with self._lock:
            self.objects: dict[str, bytes] = self._shared.setdefault(uri, {})

    def _read(self, key: str, *, etag: str | None = None) -> tuple[bytes | None, str] | None:
        with self._lock:
            data = self.objects.get(key)
        if data is None:
            return None
        tag = _etag(data)
        return (None, tag) if tag == etag else (data, tag)

    def _create(self, key: str, data: bytes) -> bool:
        with self._lock:
            if key in self.objects:
                return False
            self.objects[key] = bytes(data)
        return True

    def _swap(self, key: str, data: bytes, *, etag: str | None) -> bool:
        with self._lock:
            current = self.objects.get(key)
            if (None if current is None else _etag(current)) != etag:
                return False
            self.objects[key] = bytes(data)
        return True

    def _list(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(key for key in self.objects if key.startswith(prefix))

    def _replace(self, key: str, data: bytes) -> None:
        with self._lock:
            self.objects[key] = bytes(data)

    def _delete(self, key: str) -> None:
        with self._lock:
            self.objects.pop(key, None)


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]
