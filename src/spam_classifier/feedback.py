"""Labelled feedback: one report -> one object in the model store's ``feedback/`` area.

A report is a message, the label a person gave it (``"spam"`` or ``"ham"``), optionally the
`model_version` and `spam_probability` the client was shown, and when it was received. It is stored as

    feedback/<sha256 of the folded message>/<label>.json

where the folded message is `preprocess.fold_message` (the extracted text, case and white space folded:
the same key training de-duplicates on). So:

- the same report twice is one object (the second write replaces the first, with a later ``received``);
- a changed label is another object beside it, and readers take the one received last: the latest wins,
  and a message with both objects is a *conflict* a retraining can count;
- a writer never reads or lists (`ModelStore.put_feedback`), so a server whose role may only write
  ``feedback/*`` can record reports, and two servers recording at once cannot lose one.

Reading (`read_feedback`, `latest_reports`), exporting and purging are for operators and training jobs,
which may list the store. Stdlib only: this module sits on the serving path.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from .errors import ConfigurationError, StoreError
from .preprocess import fold_message
from .scorer import Label
from .source import parse_model_uri
from .store import ModelStore

__all__ = [
    "FEEDBACK_FORMAT",
    "LABELS",
    "FeedbackReport",
    "feedback_store_uri",
    "latest_reports",
    "message_key",
    "new_report",
    "purge_feedback",
    "read_feedback",
    "record_feedback",
]

#: The version of a stored report's JSON layout.
FEEDBACK_FORMAT = 1
LABELS: tuple[Label, ...] = get_args(Label)
_MAX_MODEL_VERSION_CHARS = 128


@dataclass(frozen=True)
class FeedbackReport:
    """One labelled message as stored; `received` is an ISO 8601 UTC time with microseconds."""

    message: str
    label: Label
    received: str
    model_version: str | None = None
    spam_probability: float | None = None
    source: str = "api"

    @property
    def key(self) -> str:
        """The sha256 of the folded message: equal for every report of the same message."""
        return message_key(self.message)

    @property
    def name(self) -> str:
        """The object name under ``feedback/``: ``<key>/<label>.json``."""
        return f"{self.key}/{self.label}.json"

    def to_record(self) -> dict[str, Any]:
        """The report as an export row: its key, then every field."""
        return {"key": self.key, **asdict(self)}

    def to_json(self) -> bytes:
        return (json.dumps({"format": FEEDBACK_FORMAT, **asdict(self)}, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, *, where: str) -> FeedbackReport:
        """Parse a stored report; StoreError naming `where` if it is not one."""
        try:
            document = json.loads(data)
        except ValueError:
            document = None
        if (
            not isinstance(document, dict)
            or document.get("format") != FEEDBACK_FORMAT
            or not isinstance(document.get("message"), str)
            or document.get("label") not in LABELS
            or not isinstance(document.get("received"), str)
        ):
            raise StoreError(f"{where} is not a feedback report (format {FEEDBACK_FORMAT}); delete it or fix it")
        return cls(
            message=document["message"],
            label=document["label"],
            received=document["received"],
            model_version=document.get("model_version"),
            spam_probability=document.get("spam_probability"),
            source=str(document.get("source", "api")),
        )


def message_key(message: str) -> str:
    """The sha256 (hex) of `fold_message(message)`: a report's identity; no message text is needed to compare."""
    return hashlib.sha256(fold_message(message).encode("utf-8", "surrogatepass")).hexdigest()


def new_report(
    message: str,
    label: str,
    *,
    model_version: str | None = None,
    spam_probability: float | None = None,
    source: str = "api",
    now: datetime | None = None,
) -> FeedbackReport:
    """A checked report received `now` (default: the current time); ValueError says what is wrong."""
    if not isinstance(message, str) or not message.strip():
        raise ValueError("the message is empty; a report needs the message text")
    if label not in LABELS:
        raise ValueError(f"the label must be 'spam' or 'ham', not {label!r}")
    if model_version is not None and (
        not isinstance(model_version, str) or not 0 < len(model_version) <= _MAX_MODEL_VERSION_CHARS
    ):
        raise ValueError(f"model_version must be a string of 1 to {_MAX_MODEL_VERSION_CHARS} characters")
    if spam_probability is not None and (
        isinstance(spam_probability, bool)
        or not isinstance(spam_probability, int | float)
        or not math.isfinite(spam_probability)
        or not 0 <= spam_probability <= 1
    ):
        raise ValueError("spam_probability must be a number from 0 to 1")
    received = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    probability = None if spam_probability is None else float(spam_probability)
    return FeedbackReport(message, label, received, model_version, probability, source)  # type: ignore[arg-type]


def record_feedback(store: ModelStore, reports: Iterable[FeedbackReport]) -> list[tuple[str, bool]]:
    """Store each report; ``(name, new)`` for each, in order. Writes only: never reads or lists the store."""
    return [(report.name, store.put_feedback(report.name, report.to_json())) for report in reports]


def read_feedback(store: ModelStore) -> list[FeedbackReport]:
    """Every stored report (both labels of a conflicting message), newest first."""
    reports = []
    for name in store.list_feedback():
        data = store.read_feedback(name)
        if data is not None:  # purged between the listing and the read
            reports.append(FeedbackReport.from_json(data, where=f"{store.uri}/feedback/{name}"))
    return sorted(reports, key=lambda report: (report.received, report.name), reverse=True)


def latest_reports(reports: Iterable[FeedbackReport]) -> tuple[list[FeedbackReport], int]:
    """``(one report per message, the latest received; conflicts)``, newest first.

    `conflicts` counts messages that were reported with both labels (the older label lost).
    """
    latest: dict[str, FeedbackReport] = {}
    labels: dict[str, set[str]] = {}
    for report in reports:
        key = report.key
        labels.setdefault(key, set()).add(report.label)
        current = latest.get(key)
        if current is None or (report.received, report.label) > (current.received, current.label):
            latest[key] = report
    conflicts = sum(len(found) > 1 for found in labels.values())
    return sorted(latest.values(), key=lambda report: (report.received, report.name), reverse=True), conflicts


def purge_feedback(store: ModelStore, *, received_before: datetime | None = None) -> int:
    """Delete reports received before `received_before` (every report when None); return how many."""
    cutoff = None
    if received_before is not None:
        cutoff = received_before.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    deleted = 0
    for name in store.list_feedback():
        if cutoff is not None:
            data = store.read_feedback(name)
            if data is None:
                continue
            if FeedbackReport.from_json(data, where=f"{store.uri}/feedback/{name}").received >= cutoff:
                continue
        store.delete_feedback(name)
        deleted += 1
    return deleted


def feedback_store_uri(model_uri: str | None, feedback_uri: str | None) -> str | None:
    """Where a server records feedback: FEEDBACK_URI, else the store MODEL_URI serves from; None if neither.

    A packaged model or an artifact directory is not a store, so it has nowhere to put feedback.
    """
    if feedback_uri:
        return feedback_uri
    try:
        store_uri, _ = parse_model_uri(model_uri)
    except ConfigurationError:
        return None
    return store_uri
