"""The `spam-classifier` command: thin wrappers over the Python API.

Each command parses its options, calls the library and prints. Library errors become one line on
stderr and exit code 1 here, and only here; usage errors exit 2 (click's own).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .errors import SpamClassifierError

__all__ = ["cli", "main"]


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


def _data_options(function: Any) -> Any:
    """The options every command that reads corpora shares."""
    for option in reversed([
        click.option("--data", "sources", multiple=True, required=True, metavar="KIND:PATH",
                     help="Training data, repeatable: sms:PATH, spamassassin, csv:PATH, jsonl:PATH, mbox:PATH, "
                          "maildir:PATH, eml:DIR (mail labels from folder names, or a @spam / @ham suffix)."),
        click.option("--model", "kind", type=click.Choice(["default", "seed"]), default="default", show_default=True,
                     help="default: our model; seed: the article's TF-IDF + MultinomialNB baseline."),
        click.option("--target-ham-fpr", type=click.FloatRange(0, 1, max_open=True), default=0.001,
                     show_default=True, help="The share of ham the threshold may flag (out-of-fold on training data)."),
        click.option("--text-column", default="text", show_default=True, help="csv/jsonl: the message column."),
        click.option("--label-column", default="label", show_default=True, help="csv/jsonl: the label column."),
        click.option("--jobs", type=click.IntRange(1), default=2, show_default=True, help="Parallel CV workers."),
    ]):
        function = option(function)
    return function


def _load_corpus(sources: tuple[str, ...], text_column: str, label_column: str) -> Any:
    from .corpora import LoadOptions, load_corpora

    corpus = load_corpora(sources, LoadOptions(text_column=text_column, label_column=label_column))
    click.echo(f"Loaded {len(corpus.messages)} messages ({corpus.n_spam} spam) from {', '.join(sources)}; "
               f"removed {corpus.duplicates_removed} duplicates.", err=True)
    return corpus


@contextmanager
def _progress(label: str, steps: int) -> Iterator[Callable[[str], None]]:
    with click.progressbar(length=steps, label=label, file=sys.stderr, show_eta=True) as bar:
        yield lambda _message: bar.update(1)


@cli.command()
@_data_options
@click.option("--out", required=True, type=click.Path(file_okay=False, writable=True),
              help="The artifact directory to create (must not exist).")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="CV folds for choosing hyper-parameters and the threshold.")
@click.option("--no-pipeline", is_flag=True, help="Leave model.joblib out (a runtime-only artifact).")
def train(sources: tuple[str, ...], kind: str, target_ham_fpr: float, text_column: str, label_column: str,
          jobs: int, out: str, folds: int, no_pipeline: bool) -> None:
    """Train a model and write its artifact: model.json, manifest.json, model.joblib.

    Hyper-parameters and the threshold are chosen by stratified CV on the training data only,
    with fixed seeds, so the same data and versions give the same model.

    \b
    Example:
        spam-classifier train --data sms:SMSSpamCollection --data spamassassin --out build/my-model
    """
    from .train import fit_steps, train_model

    if Path(out).exists():
        raise click.BadParameter(f"{out} already exists; choose a new directory", param_hint="--out")
    corpus = _load_corpus(sources, text_column, label_column)
    with _progress(f"Training the {kind} model", fit_steps(folds)) as tick:
        artifact = train_model(corpus, out, kind=kind, target_ham_fpr=target_ham_fpr, folds=folds,  # type: ignore[arg-type]
                               include_pipeline=not no_pipeline, n_jobs=jobs, progress=tick)
    found = artifact.manifest["metrics"]
    click.echo(f"Wrote {out} (version {artifact.version}).")
    thresholds = artifact.model["thresholds"]
    click.echo(f"Thresholds: text {thresholds['text']:.4f}, email {thresholds['email']:.4f}; out-of-fold on the "
               f"training data: f1 {found['f1']:.4f}, recall {found['recall']:.4f}, ham FPR {found['ham_fpr']:.4f}.")


@cli.command()
@_data_options
@click.option("--cv", type=click.IntRange(2, 20), default=5, show_default=True, help="Stratified CV folds.")
@click.option("--test-data", "test_sources", multiple=True, metavar="KIND:PATH",
              help="Train on --data once and test on this instead of CV (repeatable).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write the Markdown report and plots. [default: reports/<model>-evaluation]")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object with the metrics.")
def evaluate(sources: tuple[str, ...], kind: str, target_ham_fpr: float, text_column: str, label_column: str,
             jobs: int, cv: int, test_sources: tuple[str, ...], report_dir: str | None, as_json: bool) -> None:
    """Evaluate honestly: de-duplicated data, every fold trained from scratch, metrics at the stored threshold.

    Reports n, n_spam, duplicates_removed, accuracy, precision, recall, f1, mcc, roc_auc, pr_auc,
    ham_fpr, the confusion matrix and the threshold, and writes a report folder with plots.

    \b
    Example:
        spam-classifier evaluate --data sms:SMSSpamCollection --cv 5 --json
        spam-classifier evaluate --data spamassassin --model seed --cv 5
    """
    from .evaluate import cross_validate, evaluate_on, write_report
    from .train import fit_pipeline, fit_steps

    corpus = _load_corpus(sources, text_column, label_column)
    if test_sources:
        test = _load_corpus(test_sources, text_column, label_column)
        with _progress(f"Training the {kind} model", fit_steps(5)) as tick:
            trained = fit_pipeline(corpus.messages, corpus.labels, kind=kind,  # type: ignore[arg-type]
                                   target_ham_fpr=target_ham_fpr, n_jobs=jobs, progress=tick)
        evaluation = evaluate_on(trained.pipeline, trained.threshold, test, kind=kind)
    else:
        with _progress(f"Cross-validating the {kind} model", cv * fit_steps(5)) as tick:
            evaluation = cross_validate(corpus, kind=kind, cv=cv, target_ham_fpr=target_ham_fpr,  # type: ignore[arg-type]
                                        n_jobs=jobs, progress=tick)
    result = evaluation.metrics()
    report = write_report(evaluation, report_dir or Path("reports") / f"{kind}-evaluation")
    if as_json:
        click.echo(json.dumps(result))
        return
    matrix = result["confusion_matrix"]
    click.echo(f"{result['model']} model, {result['protocol']}: n={result['n']} ({result['n_spam']} spam), "
               f"{result['duplicates_removed']} duplicates removed")
    for name in ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc", "pr_auc", "ham_fpr", "threshold"):
        click.echo(f"  {name:<10} {result[name]:.4f}")
    click.echo(f"  confusion  tn={matrix['tn']} fp={matrix['fp']} fn={matrix['fn']} tp={matrix['tp']}")
    click.echo(f"Report: {report / 'README.md'}")


def _open_model(model_uri: str | None) -> Any:
    from .source import ModelSource

    # The source logs a failed load for servers; here the one-line error below says it all.
    logging.getLogger("spam_classifier").addHandler(logging.NullHandler())
    source = ModelSource(model_uri, reload_seconds=0)
    if source.model is None:
        raise SpamClassifierError(source.error or f"cannot load the model {model_uri!r}")
    return source.model


@cli.command()
@click.argument("messages", nargs=-1)
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Read one message from a file (an .eml or text), repeatable.")
@click.option("--model", "model_uri", metavar="URI", default=None,
              help="An artifact directory or store URI (path@alias, s3://bucket/prefix@alias). [default: shipped]")
@click.option("--format", "message_format", type=click.Choice(["auto", "text", "email"]), default="auto",
              show_default=True, help="How to read each message.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def predict(messages: tuple[str, ...], files: tuple[str, ...], model_uri: str | None, message_format: str,
            as_json: bool) -> None:
    """Classify messages given as arguments, files, or on stdin (one message).

    \b
    Example:
        spam-classifier predict "WINNER!! Claim your free iPhone now"
        spam-classifier predict --file suspicious.eml --json
        echo "See you at lunch?" | spam-classifier predict
    """
    texts = list(messages)
    for file in files:
        texts.append(Path(file).read_bytes().decode("utf-8", errors="replace"))
    if not texts:
        if sys.stdin is None or sys.stdin.isatty():
            raise click.UsageError("give messages as arguments, with --file, or on stdin")
        texts = [sys.stdin.read()]
    model = _open_model(model_uri)
    rows = [prediction._asdict() for prediction in model.score(texts, format=message_format)]
    for row in rows:
        row["prediction"] = row.pop("label")
    if as_json:
        click.echo(json.dumps({"model_version": model.version, "predictions": rows}))
        return
    for row, text in zip(rows, texts, strict=True):
        preview = " ".join(text.split())
        preview = preview if len(preview) <= 60 else preview[:57] + "..."
        click.echo(f"{row['prediction']:<4}  {row['spam_probability']:.4f}  {preview}")


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--out", required=True, metavar="OUT", help="The output file (.jsonl or .csv), or - for stdout.")
@click.option("--format", "output_format", type=click.Choice(["jsonl", "csv"]), default=None,
              help="Output format. [default: from OUT's extension; jsonl for -]")
@click.option("--input-format", type=click.Choice(["auto", "eml", "mbox", "maildir", "csv", "jsonl", "text"]),
              default="auto", show_default=True,
              help="How to read every input; auto: by extension, else sniffed (mbox, JSONL, one email, text lines).")
@click.option("--text-column", default="text", show_default=True, help="csv/jsonl: the message column.")
@click.option("--id-column", default=None, help="csv/jsonl: a column to use as the row id. [default: FILE:LINE]")
@click.option("--model", "model_uri", metavar="URI", default=None,
              help="An artifact directory or store URI (path@alias, s3://bucket/prefix@alias). [default: shipped]")
@click.option("--jobs", type=click.IntRange(1), default=None, help="Worker processes. [default: all cores]")
@click.option("--unordered", is_flag=True, help="Write rows as chunks finish instead of in input order.")
@click.option("--progress/--no-progress", default=None, help="A progress line on stderr. [default: if a terminal]")
def score(inputs: tuple[str, ...], out: str, output_format: str | None, input_format: str, text_column: str,
          id_column: str | None, model_uri: str | None, jobs: int | None, unordered: bool,
          progress: bool | None) -> None:
    """Score files, folders, stdin or an S3 prefix in parallel; write one row per message.

    INPUT is a file or folder of .eml files, an mbox, a maildir, CSV or JSONL (--text-column), text
    (one message per line), - for stdin, or s3://bucket/prefix. Rows: id (path, path:line or
    path#n for the n-th message of an mbox), label, spam_probability, model_version, error. An
    unreadable record becomes an error row. Exit code: 0 all scored, 3 some error rows, 130
    interrupted (Ctrl-C: the rows written so far are whole), 1 fatal error.

    \b
    Example:
        spam-classifier score archive.mbox Maildir/ --out scores.jsonl
        spam-classifier score comments.csv --text-column body --id-column id --out scores.csv --jobs 4
        spam-classifier score s3://my-mail/2026/ --out scores.jsonl --unordered
        cat sms.txt | spam-classifier score - --out -
    """
    import contextlib
    import os

    from .batch import BatchOptions, output_format_for, run_batch

    for source in inputs:
        if source != "-" and "://" not in source and not Path(source).exists():
            raise click.BadParameter(f"{source}: no such file or folder", param_hint="INPUT")
        if "://" in source and not source.startswith("s3://"):
            raise click.BadParameter(f"{source}: only s3:// URIs are read", param_hint="INPUT")
    fmt = output_format_for(out, output_format or ("jsonl" if out == "-" else None))
    options = BatchOptions(input_format=input_format, text_column=text_column, id_column=id_column,  # type: ignore[arg-type]
                           output_format=fmt, jobs=jobs or os.cpu_count() or 1, ordered=not unordered)
    model = _open_model(model_uri)
    show = sys.stderr.isatty() if progress is None else progress
    with (contextlib.nullcontext(sys.stdout) if out == "-" else open(out, "w", encoding="utf-8", newline="")) as handle:
        summary = run_batch(inputs, handle, model, options, model_uri=model_uri,
                            progress=_progress_line() if show else None)
    if show:
        click.echo("", err=True)
    click.echo(f"{summary.line()}; wrote {out}", err=True)
    click.get_current_context().exit(summary.exit_code)


def _progress_line() -> Callable[[Any], None]:
    """A stderr line redrawn at most 5 times a second (and after the first chunk): messages, messages/s, errors."""
    shown = [-1.0]

    def update(summary: Any) -> None:
        if summary.seconds - shown[0] >= 0.2:
            shown[0] = summary.seconds
            click.echo(f"\r{summary.read:,} messages  {summary.messages_per_second:,.0f} msgs/s  "
                       f"{summary.errors:,} errors", err=True, nl=False)

    return update


@cli.command()
@click.option("--model", "model_uri", metavar="URI", default=None,
              help="An artifact directory or store URI. [default: the shipped model]")
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def info(model_uri: str | None, as_json: bool) -> None:
    """Print the model card: version, kind, threshold, training data, metrics and library versions.

    \b
    Example:
        spam-classifier info
        spam-classifier info --model build/my-model --json
    """
    model = _open_model(model_uri)
    manifest = model.manifest
    if as_json:
        click.echo(json.dumps(manifest, indent=2))
        return
    data = manifest.get("training_data", {})
    found = manifest.get("metrics", {})
    click.echo(f"version     {model.version}")
    click.echo(f"kind        {model.kind}")
    click.echo(f"created     {manifest.get('created', '?')}")
    click.echo(f"thresholds  text {model.thresholds['text']:.6f}, email {model.thresholds['email']:.6f}")
    if data:
        click.echo(f"trained on  {', '.join(data.get('sources', []))}: {data.get('n')} messages, "
                   f"{data.get('n_spam')} spam, {data.get('duplicates_removed')} duplicates removed")
    if found:
        click.echo(f"metrics     {found.get('protocol', '')}")
        for name in ("f1", "precision", "recall", "mcc", "roc_auc", "ham_fpr"):
            if name in found:
                click.echo(f"  {name:<9} {found[name]:.4f}")
    libraries = manifest.get("libraries", {})
    if libraries:
        click.echo("libraries   " + ", ".join(f"{name} {value}" for name, value in sorted(libraries.items())))
    for name, entry in sorted(manifest.get("files", {}).items()):
        click.echo(f"file        {name}  {entry.get('bytes')} bytes  sha256 {entry.get('sha256', '')[:16]}...")


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
