"""Build and fit the scikit-learn pipelines, choose hyper-parameters and the operating threshold.

Two model kinds, both of which compile to the plain-Python scorer:

- ``seed``: the article's baseline, exactly: ``TfidfVectorizer(min_df=1, stop_words="english",
  lowercase=True)`` + ``MultinomialNB()`` on the raw text.
- ``default``: our preprocessing, word 1-2-gram and char_wb 1-5-gram TF-IDF (sublinear tf) and a
  logistic regression whose C is chosen by stratified CV on the training data.

Thresholds are chosen from out-of-fold predictions on the training data so that about
``target_ham_fpr`` of ham would be flagged, one per channel (text, email), and are kept in the
pipeline (`SpamPipeline.thresholds`), so ``model.joblib``'s ``predict`` and the scorer's label agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from .artifact import Artifact
from .corpora import Corpus
from .preprocess import CHANNELS, message_channel, preprocess_messages

__all__ = [
    "C_GRID",
    "MAX_CHAR_FEATURES",
    "MAX_WORD_FEATURES",
    "MODEL_KINDS",
    "ModelKind",
    "Progress",
    "SpamPipeline",
    "TrainedModel",
    "build_pipeline",
    "choose_threshold",
    "fit_pipeline",
    "fit_steps",
    "train_model",
]

ModelKind = Literal["default", "seed"]
MODEL_KINDS: tuple[ModelKind, ...] = ("default", "seed")

#: Candidate inverse regularisation strengths for the default model's logistic regression. What
#: matters is spam recall at a 0.1 % ham false-positive rate, and on SpamAssassin that keeps rising
#: with weaker regularisation (out-of-fold recall 0.953 at C=100, 0.956 at 300, 0.957 at 1000, and
#: 1-2 more spam of 1,824 at 3000); SMS is flat from 100 to 1000. Two values keep the CV cost low.
C_GRID = (1000.0, 3000.0)
#: Vocabulary caps keep the shipped artifact small and its load fast; quality holds (see README).
MAX_WORD_FEATURES = 20_000
MAX_CHAR_FEATURES = 30_000
#: A channel needs this much training ham to get a threshold of its own.
_MIN_CHANNEL_HAM = 200

Progress = Callable[[str], None]


@dataclass
class TrainedModel:
    """A fitted pipeline plus how it was chosen."""

    pipeline: Pipeline
    kind: ModelKind
    threshold: float
    target_ham_fpr: float
    params: dict[str, Any] = field(default_factory=dict)
    selection: list[dict[str, float]] = field(default_factory=list)
    #: Out-of-fold spam probabilities of the chosen setting, one per training message.
    oof_probability: list[float] = field(default_factory=list)
    #: The threshold of each channel ("text", "email"); `threshold` is the one of the data's main channel.
    thresholds: dict[str, float] = field(default_factory=dict)


class SpamPipeline(Pipeline):
    """A scikit-learn Pipeline whose `predict` applies the stored threshold of each message's channel.

    Text (SMS) and email ham score differently, so one shared threshold would either flag too much
    email ham or let through SMS spam; each channel gets the threshold that meets the target ham
    false-positive rate on its own out-of-fold scores. This is what `model.joblib` holds.
    """

    def __init__(self, steps: list[tuple[str, Any]], *, thresholds: dict[str, float] | None = None,
                 transform_input: Any = None, memory: Any = None, verbose: bool = False) -> None:
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.thresholds = thresholds

    def predict(self, X: Any, **params: Any) -> np.ndarray:
        return self.labels(X, self.predict_proba(X, **params)[:, list(self.classes_).index("spam")])

    def labels(self, X: Any, spam_probability: Any) -> np.ndarray:
        """The label of each message of `X` given its spam probability (what `predict` returns)."""
        thresholds = self.thresholds or dict.fromkeys(CHANNELS, 0.5)
        pairs = zip(spam_probability, X, strict=True)
        return np.asarray(["spam" if p >= thresholds[message_channel(m)] else "ham" for p, m in pairs], dtype=object)


def build_pipeline(kind: ModelKind = "default", *, C: float = 30.0,
                   thresholds: dict[str, float] | None = None) -> SpamPipeline:
    """An unfitted pipeline of the given kind: raw messages in, ``predict_proba`` out."""
    if kind == "seed":
        features: Any = TfidfVectorizer(min_df=1, stop_words="english", lowercase=True)
        classifier: Any = MultinomialNB()
        steps: list[tuple[str, Any]] = [("features", features)]
    elif kind == "default":
        features = FeatureUnion(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                                          max_features=MAX_WORD_FEATURES)),
                ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, min_df=2,
                                          max_features=MAX_CHAR_FEATURES)),
            ]
        )
        classifier = LogisticRegression(C=C, solver="liblinear", max_iter=1000)
        steps = [("preprocess", FunctionTransformer(preprocess_messages)), ("features", features)]
    else:
        raise ValueError(f"model kind must be one of {MODEL_KINDS}, not {kind!r}")
    return SpamPipeline([*steps, ("classifier", classifier)], thresholds=thresholds)


def fit_steps(folds: int) -> int:
    """How many times `fit_pipeline` calls its progress callback: once per fold, once for the final fit."""
    return folds + 1


def choose_threshold(ham_scores: Sequence[float], target_ham_fpr: float) -> float:
    """The (1 - target) quantile of these ham scores: flagging at or above it hits the target rate.

    Linear interpolation between order statistics (numpy's default quantile) aims at the target
    instead of always undershooting it, which on a few thousand ham would waste recall.
    """
    if not 0.0 <= target_ham_fpr < 1.0:
        raise ValueError(f"target ham false-positive rate must be in [0, 1), not {target_ham_fpr!r}")
    if len(ham_scores) == 0:
        raise ValueError("no ham scores to choose a threshold from")
    quantile = float(np.quantile(np.asarray(ham_scores, dtype=float), 1.0 - target_ham_fpr))
    return min(1.0, math.nextafter(quantile, math.inf))


def fit_pipeline(
    messages: Sequence[str],
    labels: Sequence[str],
    *,
    kind: ModelKind = "default",
    target_ham_fpr: float = 0.001,
    folds: int = 5,
    random_state: int = 0,
    n_jobs: int | None = None,
    progress: Progress | None = None,
) -> TrainedModel:
    """Choose hyper-parameters and threshold by CV on this data only, then fit on all of it."""
    say = progress or (lambda _: None)
    X = np.asarray(messages, dtype=object)
    y = np.asarray(labels, dtype=object)
    if set(y) != {"ham", "spam"}:
        raise ValueError("labels must contain both 'ham' and 'spam' (and nothing else)")
    if folds < 2:
        raise ValueError(f"folds must be at least 2, not {folds}")
    grid = C_GRID if kind == "default" else (None,)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=random_state).split(X, y))
    # The final model's features do not depend on the grid, so they are fitted alongside the folds.
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        [delayed(_fold_scores)(kind, grid, X, y, train, test) for train, test in splits]
        + [delayed(_fit_features)(kind, X)]
    )
    oof = {c: np.empty(len(y)) for c in grid}
    for number, (_, test) in enumerate(splits, start=1):
        scores = next(results)
        for c in grid:
            oof[c][test] = scores[c]
        say(f"cross-validated fold {number}/{folds}")
    head, features = next(results)
    is_ham = y == "ham"
    channels = np.asarray([message_channel(message) for message in X], dtype=object)
    selection = []
    for c in grid:
        thresholds = _channel_thresholds(oof[c], is_ham, channels, target_ham_fpr)
        flagged = oof[c] >= np.asarray([thresholds[channel] for channel in channels])
        selection.append({"C": c or 0.0, **{f"threshold_{k}": v for k, v in thresholds.items()},
                          "oof_spam_recall": float(np.mean(flagged[~is_ham]))})
    best_index = max(range(len(grid)), key=lambda i: (selection[i]["oof_spam_recall"], -selection[i]["C"]))
    best = selection[best_index]
    thresholds = {channel: best[f"threshold_{channel}"] for channel in CHANNELS}
    params = {"C": best["C"]} if kind == "default" else {}
    classifier = build_pipeline(kind, **params).steps[-1][1]
    pipeline = SpamPipeline([*head.steps, ("classifier", classifier.fit(features, y))], thresholds=thresholds)
    say(f"fitted the final model on {len(y)} messages")
    main_channel = "email" if np.mean(channels == "email") > 0.5 else "text"
    return TrainedModel(pipeline, kind, thresholds[main_channel], target_ham_fpr, params, selection,
                        oof[grid[best_index]].tolist(), thresholds)


def _channel_thresholds(scores: np.ndarray, is_ham: np.ndarray, channels: np.ndarray,
                        target_ham_fpr: float) -> dict[str, float]:
    """The target-rate threshold of each channel's ham; a channel with too little ham borrows the overall one."""
    overall = choose_threshold(scores[is_ham].tolist(), target_ham_fpr)
    thresholds = {}
    for channel in CHANNELS:
        ham = scores[is_ham & (channels == channel)]
        enough = len(ham) >= _MIN_CHANNEL_HAM
        thresholds[channel] = choose_threshold(ham.tolist(), target_ham_fpr) if enough else overall
    return thresholds


def train_model(
    corpus: Corpus,
    out: str | Path,
    *,
    kind: ModelKind = "default",
    target_ham_fpr: float = 0.001,
    folds: int = 5,
    random_state: int = 0,
    include_pipeline: bool = True,
    n_jobs: int | None = None,
    progress: Progress | None = None,
) -> Artifact:
    """Fit on `corpus` and write the artifact to `out`, with a manifest that says how it was made."""
    from .compiler import save_model
    from .evaluate import metrics

    trained = fit_pipeline(corpus.messages, corpus.labels, kind=kind, target_ham_fpr=target_ham_fpr, folds=folds,
                           random_state=random_state, n_jobs=n_jobs, progress=progress)
    flagged = ["spam" if p >= trained.thresholds[message_channel(m)] else "ham"
               for p, m in zip(trained.oof_probability, corpus.messages, strict=True)]
    manifest = {
        "model_kind": kind,
        "training_data": corpus.summary(),
        "training": {"target_ham_fpr": target_ham_fpr, "folds": folds, "random_state": random_state,
                     "params": trained.params, "selection": trained.selection, "thresholds": trained.thresholds},
        "metrics": {"protocol": f"out-of-fold ({folds}-fold CV) on the training data",
                    **metrics(corpus.labels, trained.oof_probability, flagged)},
    }
    return save_model(trained.pipeline, out, kind=kind, manifest=manifest, include_pipeline=include_pipeline)


def _fit_features(kind: ModelKind, X: np.ndarray) -> tuple[Pipeline, Any]:
    """The fitted feature steps of a `kind` pipeline and the features of `X`."""
    head = Pipeline(build_pipeline(kind).steps[:-1])
    features = head.fit_transform(X)
    for estimator in _leaves(head):
        if isinstance(estimator, TfidfVectorizer):
            # The terms cut by min_df/max_features: only needed for introspection, and they would
            # make model.joblib several times larger.
            estimator.stop_words_ = None
    return head, features


def _fold_scores(kind: ModelKind, grid: Sequence[float | None], X: np.ndarray, y: np.ndarray,
                 train: np.ndarray, test: np.ndarray) -> dict[float | None, np.ndarray]:
    """Spam probabilities on one held-out fold for every grid setting, sharing one feature fit."""
    head, features_train = _fit_features(kind, X[train])
    features_test = head.transform(X[test])
    scores = {}
    for c in grid:
        classifier = clone(build_pipeline(kind).steps[-1][1])
        if c is not None:
            classifier.set_params(C=c)
        classifier.fit(features_train, y[train])
        scores[c] = classifier.predict_proba(features_test)[:, list(classifier.classes_).index("spam")]
    return scores


def _leaves(estimator: Any) -> list[Any]:
    if isinstance(estimator, Pipeline):
        return [leaf for _, step in estimator.steps for leaf in _leaves(step)]
    if isinstance(estimator, FeatureUnion):
        return [leaf for _, part in estimator.transformer_list for leaf in _leaves(part)]
    return [estimator]
