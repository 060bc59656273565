"""Model stores addressed by URI: a folder path (the default), ``s3://bucket/prefix``, ``memory://name``, or
``hf://owner/repo`` (the Hugging Face Hub, read-only).

>>> store = open_store("memory://doc")
>>> store.list_versions()
[]

`open_store` walks the `STORES` registry and the first class whose `accepts(uri)` is true opens it,
so a new kind of store is one module plus one entry here. Importing this package imports neither boto3 nor
huggingface_hub.
"""

from __future__ import annotations

from ..errors import ConfigurationError
from .base import ALIAS_PATTERN, VERSION_PATTERN, BaseStore, ModelStore, VersionInfo, check_alias, check_version
from .hf import HFStore
from .local import LocalStore
from .memory import MemoryStore
from .s3 import S3Store

__all__ = [
    "ALIAS_PATTERN",
    "STORES",
    "VERSION_PATTERN",
    "BaseStore",
    "HFStore",
    "LocalStore",
    "MemoryStore",
    "ModelStore",
    "S3Store",
    "VersionInfo",
    "check_alias",
    "check_version",
    "open_store",
]

#: Store classes in the order `open_store` tries them; the folder store, which accepts any path, comes last.
STORES: list[type[ModelStore]] = [MemoryStore, S3Store, HFStore, LocalStore]


def open_store(uri: str) -> ModelStore:
    """Open the model store at `uri` (nothing is read until an operation needs it)."""
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigurationError("no model store URI given; use a folder path, s3://bucket/prefix, hf://owner/repo or memory://name")
    for store_class in STORES:
        if store_class.accepts(uri):
            return store_class(uri)  # type: ignore[call-arg]
    raise ConfigurationError(
        f"no model store understands {uri!r}; use a folder path, s3://bucket/prefix, hf://owner/repo or memory://name"
    )
