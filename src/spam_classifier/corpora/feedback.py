"""The feedback a deployment collected, as a training corpus: ``--data feedback:STORE_URI``.

Reads every report in the store's ``feedback/`` area (`spam_classifier.feedback`) and keeps one per
message, the one received last, so a label a person corrected trains with its correction. The
labels are the reporters' own: an ``@spam`` / ``@ham`` suffix is refused rather than silently applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..errors import CorpusError, StoreError

if TYPE_CHECKING:
    from ..scorer import Label
    from . import LoadOptions

__all__ = ["FeedbackLoader"]


class FeedbackLoader:
    kind: ClassVar[str] = "feedback"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        from ..feedback import latest_reports, read_feedback
        from ..store import open_store

        if location is None:
            raise CorpusError("feedback needs a store: --data feedback:STORE_URI (a folder path or s3://bucket/prefix)")
        if label is not None:
            raise CorpusError(f"feedback:{location}@{label}: feedback carries its own labels; drop the @{label}")
        try:
            latest, _conflicts = latest_reports(read_feedback(open_store(location)))
        except StoreError as exc:
            raise CorpusError(f"feedback:{location}: {exc}") from None
        return [(report.message, report.label) for report in reversed(latest)]  # oldest first: a stable order
