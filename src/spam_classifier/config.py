"""Runtime settings, read once from the environment into a frozen `Settings`.

This is the only module that reads ``os.environ``: the HTTP app, the local server and the Lambda
handler all take a `Settings`, so a test can build one directly and a bad value fails at start-up
(a Lambda cold start, a ``spam-classifier serve``), never in the middle of a request.

    MODEL_URI             the model to serve (a path or store URI); unset: the model shipped in the package
    MODEL_RELOAD_SECONDS  how often to check an alias for a new model version (default 60; 0: never)
    MODEL_CACHE_DIR       where fetched model versions are kept between processes (default: none; on AWS
                          Lambda, i.e. when AWS_LAMBDA_FUNCTION_NAME is set, /tmp/spam-classifier-models)
    MAX_BODY_BYTES        largest request body accepted (default 1048576, 1 MB)
    MAX_MESSAGE_BYTES     largest single message accepted, UTF-8 encoded (default 262144, 256 KB)
    MAX_BATCH             most messages in one batch request (default 100)
    CORS_ORIGINS          comma-separated origins allowed to call the API from a browser, or "*" (default: none)
    API_KEY               when set, /predict and /model need a matching X-API-Key header (and /feedback,
                          unless FEEDBACK_API_KEY is set)
    FEEDBACK_API_KEY      when set, POST /feedback needs this X-API-Key instead of API_KEY
    FEEDBACK_URI          the store POST /feedback writes to (default: the store of MODEL_URI; with a packaged
                          model or an artifact directory and no FEEDBACK_URI, /feedback answers 503)
    LOG_LEVEL             DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigurationError

__all__ = ["LAMBDA_MODEL_CACHE_DIR", "LOG_LEVELS", "Settings", "read_settings"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: MODEL_CACHE_DIR when unset on AWS Lambda, where /tmp is the only writable place.
LAMBDA_MODEL_CACHE_DIR = "/tmp/spam-classifier-models"

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


@dataclass(frozen=True)
class Settings:
    """Everything the HTTP app needs to know about its deployment; validated on construction."""

    model_uri: str | None = None
    model_reload_seconds: float = 60.0
    model_cache_dir: str | None = None
    max_body_bytes: int = 1_048_576
    max_message_bytes: int = 262_144
    max_batch: int = 100
    cors_origins: tuple[str, ...] = ()
    api_key: str | None = None
    feedback_api_key: str | None = None
    feedback_uri: str | None = None
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        for field in fields(self):
            env_name, allowed, check = _CONSTRAINTS[field.name]
            value = getattr(self, field.name)
            if not check(value):
                raise ConfigurationError(f"{env_name} (Settings.{field.name}) must be {allowed}, not {value!r}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _origins(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(o, str) and (o == "*" or _ORIGIN.match(o)) for o in value)


def _optional_text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value != "")


#: Allowed values, declared once per field: (environment variable, allowed values in words, check).
_CONSTRAINTS: dict[str, tuple[str, str, Callable[[Any], bool]]] = {
    "model_uri": ("MODEL_URI", "a non-empty path or URI", _optional_text),
    "model_reload_seconds": ("MODEL_RELOAD_SECONDS", "a number of seconds >= 0", _seconds),
    "model_cache_dir": ("MODEL_CACHE_DIR", "a non-empty directory path", _optional_text),
    "max_body_bytes": ("MAX_BODY_BYTES", "a whole number of bytes > 0", _positive_int),
    "max_message_bytes": ("MAX_MESSAGE_BYTES", "a whole number of bytes > 0", _positive_int),
    "max_batch": ("MAX_BATCH", "a whole number > 0", _positive_int),
    "cors_origins": (
        "CORS_ORIGINS",
        'a comma-separated list of origins like https://app.example.com (scheme://host[:port], no path), or "*"',
        _origins,
    ),
    "api_key": ("API_KEY", "a non-empty string", _optional_text),
    "feedback_api_key": ("FEEDBACK_API_KEY", "a non-empty string", _optional_text),
    "feedback_uri": ("FEEDBACK_URI", "a non-empty store URI (a folder path, s3://bucket/prefix)", _optional_text),
    "log_level": ("LOG_LEVEL", f"one of {', '.join(LOG_LEVELS)}", lambda value: value in LOG_LEVELS),
}


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read `Settings` from `environ` (default: ``os.environ``); unset or empty variables keep their defaults.

    The one default that depends on the environment: MODEL_CACHE_DIR is ``/tmp/spam-classifier-models`` on
    AWS Lambda (AWS_LAMBDA_FUNCTION_NAME is set), where ``/tmp`` is writable and outlives a restart of the
    runtime process in the same execution environment; elsewhere it stays unset (no cache).

    Raises ConfigurationError naming the variable and its allowed values when one is invalid.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (env_name, allowed, _check) in _CONSTRAINTS.items():
        raw = env.get(env_name, "").strip()
        if not raw:
            continue
        try:
            values[name] = _PARSERS.get(name, str)(raw)
        except ValueError:
            raise ConfigurationError(f"{env_name} must be {allowed}, not {raw!r}") from None
    if "model_cache_dir" not in values and env.get("AWS_LAMBDA_FUNCTION_NAME", "").strip():
        values["model_cache_dir"] = LAMBDA_MODEL_CACHE_DIR
    return Settings(**values)


def _parse_origins(raw: str) -> tuple[str, ...]:
    return tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())


_PARSERS: dict[str, Callable[[str], Any]] = {
    "model_reload_seconds": float,
    "max_body_bytes": int,
    "max_message_bytes": int,
    "max_batch": int,
    "cors_origins": _parse_origins,
    "log_level": str.upper,
}
