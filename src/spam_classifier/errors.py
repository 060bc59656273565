"""The one exception tree of spam_classifier.

    SpamClassifierError
    ├── ConfigurationError    a setting or option is invalid
    ├── CorpusError           a training corpus cannot be read
    ├── ArtifactError         a model artifact is malformed, tampered with or of an unknown format
    ├── ModelNotFoundError    no model at that path, version or alias
    └── StoreError            a model store cannot be read or written

A caller's misuse (a wrong type, say) raises the built-in TypeError or ValueError instead.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ConfigurationError",
    "CorpusError",
    "ModelNotFoundError",
    "SpamClassifierError",
    "StoreError",
]


class SpamClassifierError(Exception):
    """Raised for every failure this package reports on purpose."""


class ConfigurationError(SpamClassifierError):
    """Raised when a setting, option or environment variable is invalid."""


class CorpusError(SpamClassifierError):
    """Raised when a training corpus is missing, malformed or empty."""


class ArtifactError(SpamClassifierError):
    """Raised when a model artifact is malformed, tampered with or of an unknown format."""


class ModelNotFoundError(SpamClassifierError):
    """Raised when no model exists at the requested path, version or alias."""


class StoreError(SpamClassifierError):
    """Raised when a model store cannot be read or written."""
