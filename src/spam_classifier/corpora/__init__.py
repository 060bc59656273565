"""Training corpora: `--data NAME` or `--data KIND:PATH` -> labelled messages, de-duplicated.

    NAME                 a catalog corpus (`spam-classifier corpora`): sms, spamassassin, nus-sms, youtube,
                         smishtank, phishing-pot, csdmc2010; files checked against their sha256
    sms:PATH             UCI SMS Spam Collection (`ham|spam<TAB>text` per line)
    spamassassin:PATH    a copy of the SpamAssassin npm package (`spamassassin` alone is the catalog's)
    csv:PATH, jsonl:PATH text and label columns (`--text-column`, `--label-column`)
    mbox:PATH, maildir:PATH, eml:DIR
                         mail; the label is the folder name (`spam`/`ham`) or a suffix: `mbox:inbox.mbox@ham`
    feedback:STORE_URI   the reports collected in a model store (POST /feedback, `feedback add`), latest label wins

Every loader follows one protocol (`CorpusLoader`) and sits in the `LOADERS` registry; `load_corpus`
picks the loader whose `kind` matches, or the catalog for a bare corpus name. Duplicates are judged
on what the model reads (the extracted text of an email, the raw text of anything else; case and
white space folded), so no message can sit on both sides of a split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from ..errors import CorpusError
from ..preprocess import fold_message
from ..scorer import Label
from .catalog import CATALOG, CatalogLoader
from .feedback import FeedbackLoader
from .mailbox import EmlLoader, MaildirLoader, MboxLoader
from .sms import SmsLoader
from .spamassassin import SpamAssassinLoader
from .tabular import CsvLoader, JsonlLoader

__all__ = ["LOADERS", "Corpus", "CorpusLoader", "LoadOptions", "load_corpora", "load_corpus", "parse_source"]


@dataclass(frozen=True)
class LoadOptions:
    """Options shared by loaders that need them."""

    text_column: str = "text"
    label_column: str = "label"


class CorpusLoader(Protocol):
    kind: ClassVar[str]

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        """Return ``(message, label)`` pairs; raise CorpusError when the source cannot be read."""
        ...


LOADERS: list[type[CorpusLoader]] = [
    CatalogLoader,
    SmsLoader,
    SpamAssassinLoader,
    CsvLoader,
    JsonlLoader,
    MboxLoader,
    MaildirLoader,
    EmlLoader,
    FeedbackLoader,
]


@dataclass
class Corpus:
    """De-duplicated labelled messages, with the provenance a model card needs."""

    messages: list[str]
    labels: list[Label]
    sources: list[str] = field(default_factory=list)
    duplicates_removed: int = 0
    sha256: str = ""
    #: The `--data` source each message came from (its first occurrence, when it was in several).
    groups: list[str] = field(default_factory=list)

    @property
    def n_spam(self) -> int:
        return sum(label == "spam" for label in self.labels)

    def summary(self) -> dict[str, object]:
        return {
            "sources": self.sources,
            "n": len(self.messages),
            "n_spam": self.n_spam,
            "n_ham": len(self.messages) - self.n_spam,
            "duplicates_removed": self.duplicates_removed,
            "sha256": self.sha256,
            "by_source": self.by_source(),
        }

    def by_source(self) -> dict[str, dict[str, int]]:
        """Ham and spam counts of each source, after de-duplication."""
        counts: dict[str, dict[str, int]] = {source: {"ham": 0, "spam": 0} for source in self.sources}
        for group, label in zip(self.groups, self.labels, strict=True):
            counts[group][label] += 1
        return counts


def parse_source(source: str) -> tuple[type[CorpusLoader], str | None, Label | None]:
    """``"KIND:PATH[@ham|@spam]"`` or a catalog name -> (loader class, path or name, label or None)."""
    kind, _, location = source.partition(":")
    if not location and kind in CATALOG:
        kind, location = CatalogLoader.kind, kind
    loader = next((candidate for candidate in LOADERS if candidate.kind == kind), None)
    if loader is None:
        kinds = ", ".join(candidate.kind for candidate in LOADERS if candidate is not CatalogLoader)
        raise CorpusError(f"unknown corpus kind {kind!r} in {source!r}; expected a corpus name "
                          f"({', '.join(CATALOG)}) or KIND:PATH with KIND one of: {kinds}")
    label: Label | None = None
    for suffix in ("@spam", "@ham"):
        if location.endswith(suffix):
            location, label = location[: -len(suffix)], suffix[1:]  # type: ignore[assignment]
    return loader, location or None, label


def load_corpus(source: str, options: LoadOptions | None = None) -> list[tuple[str, Label]]:
    """The raw (not de-duplicated) labelled messages of one `--data` source."""
    loader, location, label = parse_source(source)
    pairs = loader().load(location, label=label, options=options or LoadOptions())
    if not pairs:
        raise CorpusError(f"{source}: no messages found")
    return pairs


def load_corpora(sources: Sequence[str], options: LoadOptions | None = None, *, require_both: bool = True) -> Corpus:
    """Load every source, then drop exact duplicates (first occurrence kept) across all of them.

    A corpus to train on needs both labels; one to measure on (`require_both=False`) may hold one.
    """
    if not sources:
        raise CorpusError("no training data given; pass --data KIND:PATH (e.g. --data sms:SMSSpamCollection)")
    triples: list[tuple[str, Label, str]] = []
    for source in dict.fromkeys(sources):
        triples.extend((message, label, source) for message, label in load_corpus(source, options))
    messages, labels, groups, removed = _deduplicate(triples)
    if require_both and len(set(labels)) < 2:
        raise CorpusError(f"the training data holds only {labels[0]!r} messages; a classifier needs both ham and spam")
    return Corpus(messages, labels, list(dict.fromkeys(sources)), removed, _fingerprint(messages, labels), groups)


def _deduplicate(triples: Iterable[tuple[str, Label, str]]) -> tuple[list[str], list[Label], list[str], int]:
    seen: set[str] = set()
    messages: list[str] = []
    labels: list[Label] = []
    groups: list[str] = []
    removed = 0
    for message, label, group in triples:
        key = fold_message(message)
        if key in seen:
            removed += 1
            continue
        seen.add(key)
        messages.append(message)
        labels.append(label)
        groups.append(group)
    return messages, labels, groups, removed


def _fingerprint(messages: list[str], labels: list[Label]) -> str:
    digest = hashlib.sha256()
    for message, label in zip(messages, labels, strict=True):
        digest.update(label.encode())
        digest.update(b"\t")
        digest.update(message.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()
