"""The AWS Lambda entry point: ``spam_classifier.aws_lambda.handler``.

Everything is built at import, during Lambda's INIT phase: settings are read, the model is loaded
and the ASGI app is wrapped once, so warm invocations only run the request. A model that fails to
load does not fail INIT: the app answers 503 with the recorded error, and each request past
MODEL_RELOAD_SECONDS tries again. Mangum translates API
Gateway HTTP API (payload 2.0) and REST API (1.0) events, Function URL and ALB events, base64
bodies included, to ASGI and back. The app has no startup work, so ASGI lifespan is off.

An event Mangum cannot translate (not one of those shapes: a key missing, a wrong type, a body
marked base64 that is not) gets a 400 ``invalid_request`` response and one log line, rather than an
exception: a traceback per invocation, a ``Runtime.Error`` and a 502 from API Gateway say less.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from mangum import Mangum

from .app import configure_logging, create_app
from .config import read_settings
from .source import ModelSource

__all__ = ["handler"]

_settings = read_settings()
configure_logging(_settings.log_level)

# Mangum runs every invocation on the thread's current event loop; setting one here avoids Python 3.12+'s
# "no current event loop" DeprecationWarning from its asyncio.get_event_loop() call.
asyncio.set_event_loop(asyncio.new_event_loop())

_source = ModelSource(
    _settings.model_uri,
    reload_seconds=_settings.model_reload_seconds,
    cache_dir=None if _settings.model_cache_dir is None else Path(_settings.model_cache_dir),
)

#: The Lambda handler, ``(event, context) -> response``. A due model refresh runs inline, on the request that
#: finds it due: the process is frozen between invocations, so nothing may be left running in the background.
_mangum = Mangum(create_app(_source, _settings), lifespan="off")
_logger = logging.getLogger("spam_classifier.aws_lambda")
_INVALID_EVENT_BODY = json.dumps(
    {
        "error": {
            "code": "invalid_request",
            "message": "the Lambda event is not a well-formed API Gateway (REST or HTTP API), Function URL or ALB "
            "request event",
        }
    },
    separators=(",", ":"),
)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one API Gateway, Function URL or ALB event through the app; a malformed event gets a 400."""
    try:
        return _mangum(event, context)
    except Exception as exc:  # noqa: BLE001 - the app catches its own errors; what gets here is the event's fault
        import traceback  # only on this rare path: it is not free at INIT

        _logger.warning(
            "invalid_event",
            extra={
                "fields": {
                    "event": "invalid_event",
                    "error_type": type(exc).__name__,  # not the message: it can quote the event
                    "where": traceback.format_tb(exc.__traceback__)[-1:],
                    "request_id": getattr(context, "aws_request_id", None),
                }
            },
        )
        return {
            "statusCode": 400,
            "headers": {"content-type": "application/json", "x-content-type-options": "nosniff"},
            "body": _INVALID_EVENT_BODY,
            "isBase64Encoded": False,
        }
