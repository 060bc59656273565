"""The `spam-classifier` command: thin wrappers over the Python API.

Each command parses its options, calls the library and prints. Library errors become one line on
stderr and exit code 1 here, and only here; usage errors exit 2 (click's own).
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

from .errors import SpamClassifierError

__all__ = ["main"]


class _Group(click.Group):
    """Turns every expected failure into one line on stderr (a traceback only with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SpamClassifierError as exc:
            _fail(ctx, str(exc))
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in _TRAIN_MODULES:
                _fail(ctx, f"{exc.name} is missing; this command needs: pip install 'spam-classifier[train]'")
            if exc.name == "boto3":
                _fail(ctx, "S3 stores need boto3: pip install 'spam-classifier[s3]'")
            raise
        except (OSError, ValueError) as exc:
            _fail(ctx, f"{type(exc).__name__}: {exc}")


_TRAIN_MODULES = frozenset({"sklearn", "numpy", "scipy", "joblib", "matplotlib"})


def _fail(ctx: click.Context, message: str) -> None:
    if ctx.obj and ctx.obj.get("debug"):
        traceback.print_exc()
    click.echo(f"Error: {message}", err=True)
    ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Train, evaluate, compile, publish and serve a spam classifier.

    \b
    Example:
        spam-classifier predict "WINNER!! Claim your free iPhone now"
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.option(
    "--model",
    "model_uri",
    metavar="URI",
    default=None,
    help="The model to serve: an artifact directory or store URI. [default: $MODEL_URI, else the shipped model]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
def serve(model_uri: str | None, host: str, port: int) -> None:
    """Serve the model over HTTP: the same API as on AWS Lambda (see /docs once it runs).

    Settings such as MAX_BODY_BYTES, CORS_ORIGINS and API_KEY come from the environment
    (docs/http-api.md). Logs are JSON lines on stdout.

    \b
    Example:
        spam-classifier serve --model build/default-model --port 8000
        curl -s localhost:8000/predict -H 'Content-Type: application/json' \\
            -d '{"message": "WINNER!! Claim your free iPhone now"}'
    """
    from .server import run_server

    run_server(model_uri, host=host, port=port)


_STORE_OPTION = click.option(
    "--store",
    "store_uri",
    required=True,
    metavar="URI",
    help="The model store: a folder path, s3://bucket/prefix or memory://name.",
)


@cli.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@_STORE_OPTION
@click.option("--alias", metavar="NAME", default=None, help="Also point this alias (e.g. production) at the version.")
def publish(model_dir: str, store_uri: str, alias: str | None) -> None:
    """Publish a verified model artifact directory to a store as a new, immutable version.

    \b
    Example:
        spam-classifier publish build/model --store s3://my-models/spam --alias production
    """
    from .store import open_store

    version = open_store(store_uri).publish(model_dir, alias=alias)
    click.echo(f"Published version {version} to {store_uri}")
    if alias is not None:
        click.echo(f"Alias {alias} now points at {version}")


@cli.command()
@click.argument("version")
@_STORE_OPTION
@click.option("--alias", metavar="NAME", required=True, help="The alias to move, e.g. production.")
def promote(version: str, store_uri: str, alias: str) -> None:
    """Point an alias at a published version (verified first); servers following it reload it.

    \b
    Example:
        spam-classifier promote 20260101T120000Z-3f2a9c01bd --store s3://my-models/spam --alias production
    """
    from .store import open_store

    open_store(store_uri).promote(version, alias=alias)
    click.echo(f"Alias {alias} now points at {version}")


@cli.command()
@_STORE_OPTION
@click.option("--alias", metavar="NAME", required=True, help="The alias to move back, e.g. production.")
def rollback(store_uri: str, alias: str) -> None:
    """Point an alias back at the version it pointed at before its last promote.

    \b
    Example:
        spam-classifier rollback --store s3://my-models/spam --alias production
    """
    from .store import open_store

    version = open_store(store_uri).rollback(alias=alias)
    click.echo(f"Alias {alias} rolled back to {version}")


@cli.command()
@_STORE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def versions(store_uri: str, as_json: bool) -> None:
    """List a store's versions, oldest first, with their key metrics and aliases.

    \b
    Example:
        spam-classifier versions --store s3://my-models/spam
    """
    import dataclasses
    import json

    from .store import open_store

    infos = open_store(store_uri).list_versions()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(info) for info in infos], indent=2))
        return
    rows = [("VERSION", "CREATED", "F1", "HAM_FPR", "ALIASES")]
    for info in infos:
        metrics = [f"{info.metrics[name]:.4f}" if name in info.metrics else "-" for name in ("f1", "ham_fpr")]
        rows.append((info.version, info.created or "-", *metrics, ",".join(info.aliases) or "-"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def main() -> None:
    cli(prog_name="spam-classifier")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
