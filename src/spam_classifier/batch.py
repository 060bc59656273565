"""Batch scoring on one machine: read records lazily, score them in worker processes, write rows as they come.

    inputs (files, folders, stdin, s3://bucket/prefix) -> records -> chunks -> N worker processes -> rows -> OUT

Memory stays bounded whatever the input size: files are read record by record (an mbox by a streaming
"From "-line splitter, never a table of contents of the whole file), at most ``4 * jobs`` chunks of at
most ``CHUNK_RECORDS`` records / ``CHUNK_BYTES`` bytes are in flight, and rows are written as soon as
their chunk (and, in input order, every chunk before it) is scored. Each worker loads the model once,
pinned to the version the parent resolved, so an alias moving mid-run cannot mix two models.

A record that cannot be read or decoded becomes an error row (``error`` set, no label) and is counted;
it never stops the run. Rows are written whole and flushed after every chunk; on Ctrl-C (SIGINT) reading
stops, the chunks in flight are finished and written, and `run_batch` returns with ``interrupted`` set,
so OUT always ends on a complete row. Only the standard library is imported here; boto3 only for S3 inputs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

from .errors import ConfigurationError, SpamClassifierError
from .preprocess import looks_like_email
from .scorer import Model

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_RECORDS",
    "EXIT_INTERRUPTED",
    "EXIT_RECORD_ERRORS",
    "INPUT_FORMATS",
    "OUTPUT_COLUMNS",
    "BatchOptions",
    "BatchSummary",
    "InputFormat",
    "OutputFormat",
    "Record",
    "output_format_for",
    "read_records",
    "run_batch",
]

InputFormat = Literal["auto", "eml", "mbox", "maildir", "csv", "jsonl", "text"]
OutputFormat = Literal["jsonl", "csv"]
INPUT_FORMATS: tuple[str, ...] = ("auto", "eml", "mbox", "maildir", "csv", "jsonl", "text")
#: Every output row has these columns; a scored row has no error, an error row has no label or probability.
OUTPUT_COLUMNS = ("id", "label", "spam_probability", "model_version", "error")
#: A chunk (one task for a worker) closes at this many records or bytes, whichever comes first.
CHUNK_RECORDS = 128
CHUNK_BYTES = 1 << 20
#: Exit codes of `spam-classifier score` besides 0 (all scored), 1 (fatal error) and 2 (usage).
EXIT_RECORD_ERRORS = 3
EXIT_INTERRUPTED = 130

_EXTENSIONS: dict[str, InputFormat] = {
    ".eml": "eml", ".msg": "eml", ".mbox": "mbox", ".mbx": "mbox", ".csv": "csv", ".jsonl": "jsonl",
    ".ndjson": "jsonl", ".json": "jsonl", ".txt": "text",
}  # fmt: skip
_CSV_FIELD_LIMIT = 64 << 20  # the csv module's default (128 KiB) is smaller than many emails


class Record(NamedTuple):
    """One input message: its id and raw content (bytes for mail, str for text formats), or why it is unreadable."""

    id: str
    content: bytes | str | None
    error: str | None = None


@dataclass(frozen=True)
class BatchOptions:
    """How to read the inputs and write the rows."""

    input_format: InputFormat = "auto"
    text_column: str = "text"
    id_column: str | None = None
    output_format: OutputFormat = "jsonl"
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    ordered: bool = True


@dataclass
class BatchSummary:
    """What a run did: records read, scored, spam, ham and error rows, and how long it took."""

    read: int = 0
    scored: int = 0
    spam: int = 0
    ham: int = 0
    errors: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def messages_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """130 when interrupted, 3 when some record was an error row, else 0."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_RECORD_ERRORS if self.errors else 0

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        state = "interrupted: " if self.interrupted else ""
        return (f"{state}read {self.read}, scored {self.scored} (spam {self.spam}, ham {self.ham}), "
                f"errors {self.errors} in {self.seconds:.2f} s ({self.messages_per_second:,.0f} msgs/s)")


def output_format_for(path: str, given: str | None) -> OutputFormat:
    """The output format: `given`, else from OUT's extension (.jsonl/.json/.ndjson or .csv)."""
    if given:
        if given not in ("jsonl", "csv"):
            raise ValueError(f"output format {given!r} is not one of jsonl, csv")
        return given  # type: ignore[return-value]
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ConfigurationError(f"cannot tell the output format of {path!r} from its extension; "
                             "name it .jsonl or .csv, or give --format jsonl|csv")


# --- reading ------------------------------------------------------------------------------------------------------


def read_records(inputs: Iterable[str], options: BatchOptions = BatchOptions(),
                 *, stdin: IO[bytes] | None = None) -> Iterator[Record]:
    """Every record of every input, lazily, in order: files, folders (recursively, sorted), ``-`` and ``s3://``."""
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    for source in inputs:
        if source == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield from _read_stream(stream, "-", _stream_format(stream, options.input_format), options)
        elif source.startswith("s3://"):
            yield from _read_s3(source, options)
        elif Path(source).is_dir():
            for path in _walk(Path(source)):
                yield from _read_file(path, options)
        else:
            yield from _read_file(Path(source), options)


def _walk(folder: Path) -> Iterator[Path]:
    """Files under `folder`, sorted, without hidden files and without a maildir's tmp/ (mail still being delivered)."""
    for root, dirs, files in os.walk(folder):
        maildir = "cur" in dirs and "new" in dirs
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (maildir and d == "tmp"))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root, name)


def _read_file(path: Path, options: BatchOptions) -> Iterator[Record]:
    name = str(path)
    try:
        with path.open("rb") as stream:
            yield from _read_stream(stream, name, _file_format(stream, path.name, options.input_format), options)
    except OSError as exc:
        yield Record(name, None, f"cannot read: {exc.strerror or exc}")


def _file_format(stream: IO[bytes], name: str, given: InputFormat) -> InputFormat:
    """A file's format: `given`, else by extension, else sniffed; a file in a maildir is one email."""
    if given == "maildir":
        return "eml"
    if given != "auto":
        return given
    return _EXTENSIONS.get(Path(name).suffix.lower()) or _stream_format(stream, "auto", single="eml")


def _stream_format(stream: IO[bytes], given: InputFormat, *, single: InputFormat = "text") -> InputFormat:
    """Sniff a format from the first bytes: an mbox starts with "From ", JSONL with "{", an email with a header."""
    if given not in ("auto", "maildir"):
        return given
    head = _peek(stream)
    if head.startswith(b"From "):
        return "mbox"
    if head.lstrip().startswith(b"{"):
        return "jsonl"
    if looks_like_email(head.decode("utf-8", errors="replace")):
        return "eml"
    return single


def _peek(stream: IO[bytes]) -> bytes:
    peek = getattr(stream, "peek", None)
    if peek is not None:
        return peek(4096)[:4096]
    position = stream.tell()
    head = stream.read(4096)
    stream.seek(position)
    return head


def _read_stream(stream: IO[bytes], name: str, kind: InputFormat, options: BatchOptions) -> Iterator[Record]:
    if kind in ("eml", "maildir"):
        yield Record(name, stream.read())
    elif kind == "mbox":
        yield from _split_mbox(stream, name)
    elif kind == "text":
        yield from _read_lines(stream, name)
    elif kind == "jsonl":
        yield from _read_jsonl(stream, name, options)
    else:
        yield from _read_csv(stream, name, options)


def _split_mbox(stream: IO[bytes], name: str) -> Iterator[Record]:
    """Messages of an mbox, one at a time: what `mailbox.mbox.get_bytes` returns, without reading the whole file."""
    lines: list[bytes] = []
    number = 0
    last_was_empty = False
    for line in stream:
        if line.startswith(b"From "):
            if number:
                yield Record(f"{name}#{number}", _mbox_message(lines, last_was_empty))
            number += 1
            lines = []
            last_was_empty = False
            continue
        if number:
            lines.append(line)
        last_was_empty = line in (b"\n", b"\r\n")
    if number:
        yield Record(f"{name}#{number}", _mbox_message(lines, last_was_empty))


def _mbox_message(lines: list[bytes], last_was_empty: bool) -> bytes:
    """The blank line before the next "From " line is the separator's, not the message's (as in `mailbox`)."""
    if last_was_empty and lines:
        lines.pop()
    return b"".join(lines)


def _read_lines(stream: IO[bytes], name: str) -> Iterator[Record]:
    for number, raw in enumerate(stream, start=1):
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        try:
            yield Record(f"{name}:{number}", line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield Record(f"{name}:{number}", None, f"not valid UTF-8: {exc.reason} at byte {exc.start}")


def _read_jsonl(stream: IO[bytes], name: str, options: BatchOptions) -> Iterator[Record]:
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        where = f"{name}:{number}"
        try:
            row = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield Record(where, None, f"not valid UTF-8: {exc.reason} at byte {exc.start}")
            continue
        except ValueError as exc:
            yield Record(where, None, f"not valid JSON: {exc}")
            continue
        if not isinstance(row, dict):
            yield Record(where, None, "not a JSON object")
            continue
        yield _row_record(row, where, options)


def _read_csv(stream: IO[bytes], name: str, options: BatchOptions) -> Iterator[Record]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")  # type: ignore[type-var]
    try:
        yield from _csv_rows(csv.DictReader(text), name, options)
    finally:
        text.detach()  # the caller owns (and closes) the binary stream


def _csv_rows(reader: csv.DictReader[str], name: str, options: BatchOptions) -> Iterator[Record]:
    try:
        columns = reader.fieldnames or []
    except csv.Error as exc:
        yield Record(name, None, f"not valid CSV: {exc}")
        return
    if options.text_column not in columns:
        yield Record(name, None, f"no {options.text_column!r} column (found {sorted(columns)}); see --text-column")
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Record(f"{name}:{reader.line_num}", None, f"not valid CSV: {exc}")
            continue
        yield _row_record(row, f"{name}:{reader.line_num}", options)


def _row_record(row: dict[str, Any], where: str, options: BatchOptions) -> Record:
    """A CSV or JSONL row -> a record; its text column must be there, a string, and valid UTF-8."""
    record_id = where
    if options.id_column is not None:
        if row.get(options.id_column) in (None, ""):
            return Record(where, None, f"no {options.id_column!r} value; see --id-column")
        record_id = str(row[options.id_column])
    text = row.get(options.text_column)
    if text is None:
        return Record(record_id, None, f"no {options.text_column!r} value; see --text-column")
    if not isinstance(text, str):
        return Record(record_id, None, f"{options.text_column!r} is a {type(text).__name__}, not a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # CSV is decoded with surrogateescape, so bad bytes arrive as lone surrogates
        return Record(record_id, None, "not valid UTF-8")
    return Record(record_id, text)


def _read_s3(uri: str, options: BatchOptions) -> Iterator[Record]:
    """Every object under ``s3://bucket/prefix``, sorted by key; each spooled to disk past 8 MB, then read as a file."""
    from .store.s3 import make_s3_client

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = make_s3_client()
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", ())]
    except Exception as exc:  # noqa: BLE001 - botocore's errors are not importable without boto3
        raise ConfigurationError(f"{uri}: cannot list the objects: {exc}; check the URI, the credentials and "
                                 "AWS_ENDPOINT_URL_S3") from None
    for key in sorted(keys):
        if key.endswith("/"):
            continue
        name = f"s3://{bucket}/{key}"
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
            try:
                client.download_fileobj(bucket, key, spool)
            except Exception as exc:  # noqa: BLE001 - one unreadable object is an error row, not the end of the run
                yield Record(name, None, f"cannot read: {exc}")
                continue
            spool.seek(0)
            yield from _read_stream(spool, name, _file_format(spool, key, options.input_format), options)  # type: ignore[arg-type]


def _chunks(records: Iterator[Record], stop: threading.Event) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    size = 0
    for record in records:
        chunk.append(record)
        size += len(record.content or "")
        if len(chunk) >= CHUNK_RECORDS or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        if stop.is_set():
            break
    if chunk:
        yield chunk


# --- scoring (in the workers) -------------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start_worker(model_uri: str | None, cache_dir: str | None, output_format: OutputFormat, version: str) -> None:
    """Pool initializer: the model once per process (a forked worker has the parent's); Ctrl-C is the parent's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inherited = _worker.get("model")
    if inherited is None or inherited.version != version:
        _worker["model"] = _load_model(model_uri, cache_dir)
    _worker["format"] = output_format


def _load_model(model_uri: str | None, cache_dir: str | None) -> Model:
    from .source import ModelSource

    source = ModelSource(model_uri, reload_seconds=0, cache_dir=None if cache_dir is None else Path(cache_dir))
    if source.model is None:
        raise SpamClassifierError(source.error or f"cannot load the model {model_uri!r}")
    return source.model


def _score_chunk(chunk: list[Record]) -> tuple[str, int, int, int]:
    """Rows for a chunk, already formatted (the parent only writes them), and its spam, ham and error counts."""
    model: Model = _worker["model"]
    texts = [record.content.decode("utf-8", errors="replace") if isinstance(record.content, bytes)
             else record.content for record in chunk]
    rows: list[tuple[str, str | None, float | None, str | None]] = []
    for record, text in zip(chunk, texts, strict=True):
        if record.error is not None or text is None:
            rows.append((record.id, None, None, record.error or "no content"))
            continue
        prediction = model.score([text])[0]
        rows.append((record.id, prediction.label, prediction.spam_probability, None))
    spam = sum(1 for row in rows if row[1] == "spam")
    errors = sum(1 for row in rows if row[3] is not None)
    return _format_rows(rows, model.version, _worker["format"]), spam, len(rows) - spam - errors, errors


def _format_rows(rows: list[tuple[str, str | None, float | None, str | None]], version: str,
                 output_format: OutputFormat) -> str:
    if output_format == "jsonl":
        return "".join(json.dumps(dict(zip(OUTPUT_COLUMNS, (row[0], row[1], row[2], version, row[3]), strict=True)))
                       + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows((row[0], row[1] or "", "" if row[2] is None else repr(row[2]), version, row[3] or "")
                     for row in rows)
    return buffer.getvalue()


# --- the run ------------------------------------------------------------------------------------------------------


def run_batch(inputs: Iterable[str], out: IO[str], model: Model, options: BatchOptions = BatchOptions(), *,
              model_uri: str | None = None, progress: Callable[[BatchSummary], None] | None = None,
              stdin: IO[bytes] | None = None) -> BatchSummary:
    """Score every record of `inputs` with `model` and write one row per record to `out`.

    `model_uri` is what the workers load (`model` is used in-process when ``jobs == 1``); give the same URI
    `model` came from. Returns the summary; see its `exit_code`. Installs a SIGINT handler for the run when
    called from the main thread: the first Ctrl-C stops reading and finishes the chunks in flight, a second
    one raises KeyboardInterrupt.
    """
    summary = BatchSummary()
    stop = threading.Event()
    started = time.perf_counter()
    if options.output_format == "csv":
        out.write(",".join(OUTPUT_COLUMNS) + "\n")

    def write(result: tuple[str, int, int, int]) -> None:
        text, spam, ham, errors = result
        out.write(text)
        out.flush()
        summary.spam += spam
        summary.ham += ham
        summary.errors += errors
        summary.scored += spam + ham
        summary.read += spam + ham + errors
        summary.seconds = time.perf_counter() - started
        if progress is not None:
            progress(summary)

    chunks = _chunks(read_records(inputs, options, stdin=stdin), stop)
    with _StopOnSigint(stop):
        if options.jobs <= 1:
            _worker.update(model=model, format=options.output_format)
            for chunk in chunks:
                write(_score_chunk(chunk))
        else:
            _run_pool(chunks, write, options, model, model_uri)
    summary.seconds = time.perf_counter() - started
    summary.interrupted = stop.is_set()
    return summary


def _run_pool(chunks: Iterator[list[Record]], write: Callable[[tuple[str, int, int, int]], None],
              options: BatchOptions, model: Model, model_uri: str | None) -> None:
    """Fan chunks out to `jobs` processes with at most ``4 * jobs`` in flight; write results in order or as done.

    Where processes fork (Linux), workers inherit the loaded model; elsewhere each loads the version the parent
    resolved (pinned, from a cache the parent fills), so an alias moving mid-run cannot mix two models.
    """
    import multiprocessing

    from .source import parse_model_uri

    _worker.update(model=model, format=options.output_format)
    forks = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forks else None)
    store_uri, _ = parse_model_uri(model_uri)
    pinned = model_uri if store_uri is None else f"{store_uri}@{model.version}"
    cache_dir = tempfile.mkdtemp(prefix="spam-classifier-batch-") if store_uri is not None and not forks else None
    limit = 4 * options.jobs
    try:
        if cache_dir is not None:
            _load_model(pinned, cache_dir)  # fetch once into the cache the workers read
        with ProcessPoolExecutor(options.jobs, mp_context=context, initializer=_start_worker,
                                 initargs=(pinned, cache_dir, options.output_format, model.version)) as pool:
            pending: deque[Future[tuple[str, int, int, int]]] = deque()
            for chunk in chunks:
                pending.append(pool.submit(_score_chunk, chunk))
                _drain(pending, write, options.ordered, keep=limit - 1)
            _drain(pending, write, options.ordered, keep=0)
    finally:
        if cache_dir is not None:
            shutil.rmtree(cache_dir, ignore_errors=True)


def _drain(pending: deque[Future[tuple[str, int, int, int]]], write: Callable[[tuple[str, int, int, int]], None],
           ordered: bool, *, keep: int) -> None:
    """Write finished chunks, waiting until at most `keep` are in flight."""
    if ordered:
        while pending and (len(pending) > keep or pending[0].done()):
            write(pending.popleft().result())
        return
    while pending:
        done = [future for future in pending if future.done()]
        if not done and len(pending) <= keep:
            return
        if not done:
            done = list(wait(pending, return_when=FIRST_COMPLETED).done)
        for future in done:
            pending.remove(future)
            write(future.result())


class _StopOnSigint:
    """While active (main thread only), the first SIGINT sets `stop`; the second one raises KeyboardInterrupt."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._previous: Any = None

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self._stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
