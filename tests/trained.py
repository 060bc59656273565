"""One real model per test session, trained once on fixed parts of the real corpora and shared.

Tests that only need *a* trained model (quality guards, parity) use these instead of training their
own: the SMS Spam Collection and SpamAssassin, de-duplicated, every third message held out. The
full cross-validated and cross-corpus figures are `make quality`'s (reports/quality.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from spam_classifier.corpora import load_corpora
from spam_classifier.evaluate import DEFAULT_WEIGHT_CAP, corpus_weights
from spam_classifier.train import ModelKind, SpamPipeline, fit_pipeline

CORPORA = ("sms", "spamassassin")


@dataclass(frozen=True)
class Split:
    train_messages: list[str]
    train_labels: list[str]
    train_groups: list[str]
    #: Held-out messages and labels of each corpus.
    test: dict[str, tuple[list[str], list[str]]]


@dataclass(frozen=True)
class TrainedKind:
    pipeline: SpamPipeline
    #: scikit-learn's spam probability of each held-out message, per corpus.
    test_probability: dict[str, np.ndarray]


@cache
def split() -> Split:
    messages: list[str] = []
    labels: list[str] = []
    groups: list[str] = []
    test = {}
    for name in CORPORA:
        corpus = load_corpora([name])
        held = [i % 3 == 0 for i in range(len(corpus.messages))]
        test[name] = ([m for m, h in zip(corpus.messages, held, strict=True) if h],
                      [label for label, h in zip(corpus.labels, held, strict=True) if h])
        for message, label, h in zip(corpus.messages, corpus.labels, held, strict=True):
            if not h:
                messages.append(message)
                labels.append(label)
                groups.append(name)
    return Split(messages, labels, groups, test)


@cache
def trained(kind: ModelKind) -> TrainedKind:
    """The `kind` model fitted on the training part the way `train` fits one (folds, weights, thresholds)."""
    data = split()
    weights = corpus_weights(data.train_groups, data.train_labels, cap=DEFAULT_WEIGHT_CAP)
    model = fit_pipeline(data.train_messages, data.train_labels, kind=kind, folds=3, n_jobs=2,
                         sample_weight=weights, groups=data.train_groups)
    spam = list(model.pipeline.classes_).index("spam")
    probability = {name: model.pipeline.predict_proba(np.asarray(messages, dtype=object))[:, spam]
                   for name, (messages, _) in data.test.items()}
    return TrainedKind(model.pipeline, probability)
