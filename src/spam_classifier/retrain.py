"""Gated retraining: a challenger trained on the base corpora plus the feedback must beat the champion to serve.

The feedback can be wrong or hostile (a burst of reports labelling spam as ham), so its own held-out
slice cannot be trusted to judge a model trained on the rest of it. The gate therefore also scores
both models on a *trusted check set*: a fixed fifth of the base corpora, chosen by the hash of each
folded message (so the same messages whatever the order or the other sources), never used to train a
challenger. The challenger is always published, so it can be inspected, and the alias moves only when

1. on the trusted check set it loses no more than the margins: ham FPR at most ``fpr_margin`` higher and
   spam recall at most ``recall_margin`` lower than the champion's (this is what stops poisoning), and
2. on the feedback's held-out slice its ham FPR is at most ``fpr_margin`` higher, and
3. it is better, by more than ``min_gain``, on spam recall or ROC-AUC, on the feedback slice or the check set.

Both models are scored by the runtime scorer (`scorer.Model`), at their own stored thresholds: the
figures are what a server would do. The champion is whatever the alias points at; when it was trained
on the check set itself (a model not made by `retrain`), its check-set figures are optimistic, which
makes the gate stricter, never looser.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .corpora import Corpus, LoadOptions, load_corpora
from .corpora.catalog import CATALOG
from .errors import ConfigurationError
from .evaluate import rates
from .feedback import FeedbackReport, latest_reports, message_key, read_feedback
from .scorer import Model, load_model
from .store import open_store
from .train import ModelKind, Progress
from .workflows import LOCAL_WEIGHT, train_model

__all__ = [
    "CHECK_EVERY",
    "EXIT_REFUSED",
    "FEEDBACK_HOLDOUT",
    "GateRule",
    "RetrainResult",
    "base_sources",
    "check_set_mask",
    "retrain",
    "scores",
]

#: Every CHECK_EVERY-th base message (by message hash) is in the trusted check set.
CHECK_EVERY = 5
#: The share of feedback held out (stratified, fixed seed) to measure both models on.
FEEDBACK_HOLDOUT = 0.25
#: `spam-classifier retrain`'s exit code when the gate refuses the challenger.
EXIT_REFUSED = 4


@dataclass(frozen=True)
class GateRule:
    """The margins of the gate (absolute differences of rates)."""

    fpr_margin: float = 0.001
    recall_margin: float = 0.01
    min_gain: float = 0.001

    def describe(self) -> list[str]:
        """The rule as printed lines."""
        return [
            f"1. trusted check set: challenger ham FPR <= champion + {self.fpr_margin:g} and "
            f"spam recall >= champion - {self.recall_margin:g}",
            f"2. feedback held-out slice: challenger ham FPR <= champion + {self.fpr_margin:g}",
            f"3. challenger better by more than {self.min_gain:g} on spam recall or ROC-AUC "
            "(feedback slice or trusted set)",
        ]


@dataclass
class RetrainResult:
    """What `retrain` decided and why, with every figure the report holds."""

    promote: bool
    reasons: list[str]
    champion: str
    challenger: str | None
    published: bool
    figures: dict[str, dict[str, dict[str, Any]]]
    counts: dict[str, Any]
    rule: GateRule
    base_sources: list[str]
    dry_run: bool
    alias: str
    store: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": "promote" if self.promote else "refuse",
            "promoted": self.promote and not self.dry_run,
            "dry_run": self.dry_run,
            "reasons": self.reasons,
            "store": self.store,
            "alias": self.alias,
            "champion": self.champion,
            "challenger": self.challenger,
            "published": self.published,
            "rule": {**asdict(self.rule), "text": self.rule.describe()},
            "figures": self.figures,
            "counts": self.counts,
            "base_sources": self.base_sources,
            "notes": self.notes,
        }


def base_sources(champion: Model | None, given: Sequence[str]) -> list[str]:
    """`given`, else the champion's own training sources without feedback, else the shippable catalog corpora."""
    if given:
        return list(dict.fromkeys(given))
    sources = []
    if champion is not None:
        recorded = champion.manifest.get("training_data", {}).get("sources", [])
        sources = [s for s in recorded if isinstance(s, str) and not s.startswith("feedback:")]
    return sources or [name for name, entry in CATALOG.items() if entry.may_train_shipped]


def check_set_mask(messages: Sequence[str]) -> np.ndarray:
    """True for the messages of the trusted check set: every `CHECK_EVERY`-th by message hash."""
    return np.asarray([int(message_key(m)[:8], 16) % CHECK_EVERY == 0 for m in messages], dtype=bool)


def scores(model: Model, messages: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """`evaluate.rates` of `model` (runtime scorer, its own thresholds): counts, ROC-AUC, spam recall, ham FPR."""
    predictions = model.score(messages)
    return rates(labels, [p.spam_probability for p in predictions], [p.label for p in predictions])


def retrain(
    store_uri: str,
    *,
    alias: str = "production",
    sources: Sequence[str] = (),
    weights: dict[str, float] | None = None,
    feedback_weight: float = LOCAL_WEIGHT,
    kind: ModelKind = "default",
    rule: GateRule | None = None,
    dry_run: bool = False,
    options: LoadOptions | None = None,
    target_ham_fpr: float = 0.001,
    n_jobs: int | None = None,
    progress: Progress | None = None,
    say: Progress | None = None,
) -> RetrainResult:
    """Train a challenger on base corpora + feedback, score it against the alias's champion, publish, gate, promote.

    `weights` are `--weight SOURCE=FACTOR` factors of base sources; the feedback counts `feedback_weight`
    times. `say` gets one line per step (what the CLI prints on stderr).
    """
    rule = rule or GateRule()
    tell = say or (lambda _: None)
    store = open_store(store_uri)
    champion_version = store.resolve(alias)
    champion = Model(store.fetch(champion_version))
    base = base_sources(champion, sources)
    feedback_source = f"feedback:{store_uri}"

    corpus = load_corpora(base, options)
    in_check = check_set_mask(corpus.messages)
    check = ([m for m, c in zip(corpus.messages, in_check, strict=True) if c],
             [label for label, c in zip(corpus.labels, in_check, strict=True) if c])
    tell(f"Base: {len(corpus.messages)} messages from {', '.join(base)}; trusted check set {len(check[0])} "
         f"(every {CHECK_EVERY}th by message hash), never trained on.")

    latest, conflicts = latest_reports(read_feedback(store))
    base_keys = {message_key(m) for m in corpus.messages}
    overlapping = [r for r in latest if r.key in base_keys]
    reports = [r for r in latest if r.key not in base_keys]
    held_out, used = _holdout(reports)
    tell(f"Feedback: {len(latest)} messages ({conflicts} reported both ways, latest label kept), "
         f"{len(overlapping)} already in the base corpora (ignored), {len(used)} to train on, "
         f"{len(held_out)} held out.")
    if not used:
        raise ConfigurationError(f"no feedback to retrain on in {store.uri}; collect reports first "
                                 "(POST /feedback or spam-classifier feedback add)")

    train_corpus = _training_corpus(corpus, ~in_check, used, base, feedback_source)
    factors = {**(weights or {}), feedback_source: feedback_weight}
    with tempfile.TemporaryDirectory(prefix="spam-classifier-retrain-") as work:
        out = Path(work) / "challenger"
        artifact = train_model(train_corpus, out, kind=kind, target_ham_fpr=target_ham_fpr, n_jobs=n_jobs,
                               progress=progress, source_weight=factors,
                               folds_by_source=False)
        challenger = load_model(out)
        held = ([r.message for r in held_out], [r.label for r in held_out])
        figures = {
            name: {"trusted_check_set": scores(model, *check), "feedback_held_out": scores(model, *held)}
            for name, model in (("champion", champion), ("challenger", challenger))
        }
        promote, reasons = _gate(figures, rule)
        published = False
        if not dry_run:
            store.publish(out)
            published = True
            if promote:
                store.promote(artifact.version, alias=alias)
    counts = {
        "feedback_messages": len(latest),
        "conflicts": conflicts,
        "feedback_in_base": len(overlapping),
        "feedback_used": len(used),
        "feedback_used_spam": sum(r.label == "spam" for r in used),
        "feedback_held_out": len(held_out),
        "feedback_held_out_spam": sum(r.label == "spam" for r in held_out),
        "base_messages": len(corpus.messages),
        "base_trained": int((~in_check).sum()),
        "trusted_check_set": len(check[0]),
        "feedback_weight": feedback_weight,
    }
    return RetrainResult(promote, reasons, champion_version, artifact.version, published, figures, counts, rule,
                         base, dry_run, alias, store.uri)


def _holdout(reports: Sequence[FeedbackReport]) -> tuple[list[FeedbackReport], list[FeedbackReport]]:
    """(held out, used): `FEEDBACK_HOLDOUT` of each label, drawn with a fixed seed from the reports sorted by key."""
    rng = np.random.default_rng(0)
    held_out: list[FeedbackReport] = []
    used: list[FeedbackReport] = []
    for label in ("ham", "spam"):
        group = sorted((r for r in reports if r.label == label), key=lambda r: r.key)
        order = rng.permutation(len(group))
        n_held = round(len(group) * FEEDBACK_HOLDOUT)
        held_out.extend(group[i] for i in order[:n_held])
        used.extend(group[i] for i in order[n_held:])
    return held_out, used


def _training_corpus(corpus: Corpus, keep: np.ndarray, feedback: Sequence[FeedbackReport], base: list[str],
                     feedback_source: str) -> Corpus:
    """The base corpus minus the check set, plus the feedback to train on, as one `Corpus` with its groups."""
    pick = [i for i, k in enumerate(keep) if k]
    messages = [corpus.messages[i] for i in pick] + [r.message for r in feedback]
    labels = [corpus.labels[i] for i in pick] + [r.label for r in feedback]
    groups = [corpus.groups[i] for i in pick] + [feedback_source] * len(feedback)
    digest = hashlib.sha256()
    for message, label in zip(messages, labels, strict=True):
        digest.update(f"{label}\t{message}\n".encode("utf-8", "surrogatepass"))
    return Corpus(messages, labels, [*base, feedback_source], corpus.duplicates_removed, digest.hexdigest(),
                  groups)


def _gate(figures: dict[str, dict[str, dict[str, Any]]], rule: GateRule) -> tuple[bool, list[str]]:
    """(promote?, one line per check): the rule of the module docstring."""
    old, new = figures["champion"], figures["challenger"]
    reasons: list[str] = []
    ok = True
    for data, checks in (("trusted_check_set", (("ham_fpr", rule.fpr_margin), ("recall", -rule.recall_margin))),
                         ("feedback_held_out", (("ham_fpr", rule.fpr_margin),))):
        for metric, margin in checks:
            before, after = old[data][metric], new[data][metric]
            if before is None or after is None:
                reasons.append(f"{data} {metric}: not measurable (no such messages), not checked")
                continue
            passed = after <= before + margin if margin >= 0 else after >= before + margin
            ok &= passed
            sign = "<=" if margin >= 0 else ">="
            verdict = "ok" if passed else "REGRESSION"
            reasons.append(f"{data} {metric}: challenger {after:.4f} {sign} champion {before:.4f} "
                           f"{'+' if margin >= 0 else '-'} {abs(margin):g}: {verdict}")
    gains = []
    for data in ("feedback_held_out", "trusted_check_set"):
        for metric in ("recall", "roc_auc"):
            before, after = old[data][metric], new[data][metric]
            if before is not None and after is not None and after > before + rule.min_gain:
                gains.append(f"{data} {metric} {before:.4f} -> {after:.4f}")
    if gains:
        reasons.append("better on: " + "; ".join(gains))
    else:
        reasons.append(f"not better by more than {rule.min_gain:g} on spam recall or ROC-AUC anywhere")
    return ok and bool(gains), reasons
