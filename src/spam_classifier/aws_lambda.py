"""The AWS Lambda entry point: ``spam_classifier.aws_lambda.handler``.

Everything is built at import, during Lambda's INIT phase: settings are read, the model is loaded
and the ASGI app is wrapped once, so warm invocations only run the request. A model that fails to
load does not fail INIT: the app answers 503 with the recorded error, and each request past
MODEL_RELOAD_SECONDS tries again. Mangum translates API
Gateway HTTP API (payload 2.0) and REST API (1.0) events, Function URL and ALB events, base64
bodies included, to ASGI and back. The app has no startup work, so ASGI lifespan is off.
"""

from __future__ import annotations

import asyncio

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

#: The Lambda handler, ``(event, context) -> response``.
handler = Mangum(
    create_app(ModelSource(_settings.model_uri, reload_seconds=_settings.model_reload_seconds), _settings),
    lifespan="off",
)
