"""The local HTTP server: the same ASGI app as on AWS Lambda, run by uvicorn (``spam-classifier serve``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .app import configure_logging, create_app
from .config import Settings, read_settings
from .errors import ModelNotFoundError
from .source import ModelSource

__all__ = ["run_server"]


def run_server(
    model_uri: str | None = None, *, host: str = "127.0.0.1", port: int = 8000, settings: Settings | None = None
) -> None:
    """Load the model and serve it until interrupted.

    `model_uri` overrides MODEL_URI; `settings` defaults to the environment (`read_settings`). Unlike
    Lambda, which answers 503 until a model loads, a server whose first load fails does not start:
    a person typed the path and wants to hear at once that it is wrong.
    """
    import uvicorn  # here, not at the top: the CLI imports this module only for `serve`

    settings = settings if settings is not None else read_settings()
    if model_uri is not None:
        settings = dataclasses.replace(settings, model_uri=model_uri)
    configure_logging(settings.log_level, loggers=("spam_classifier", "uvicorn"))
    source = ModelSource(
        settings.model_uri,
        reload_seconds=settings.model_reload_seconds,
        cache_dir=None if settings.model_cache_dir is None else Path(settings.model_cache_dir),
    )
    if source.model is None:
        raise ModelNotFoundError(f"cannot serve: {source.error}")
    uvicorn.run(
        create_app(source, settings, refresh_in_background=True),  # a reload never stalls the event loop
        host=host,
        port=port,
        log_config=None,  # keep the JSON-lines logging configured above
        access_log=False,  # the app logs each request itself
        lifespan="on",
        server_header=False,
    )
