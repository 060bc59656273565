"""Honest evaluation: stratified k-fold CV on de-duplicated data, or a held-out test corpus.

Every fold reruns the whole training procedure (hyper-parameters, threshold, fit) on its training
part only, so the figures are what a user would see on unseen mail at the stored threshold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import StratifiedKFold

from .corpora import Corpus
from .train import ModelKind, Progress, fit_pipeline

__all__ = ["Evaluation", "cross_validate", "evaluate_on", "metrics", "write_report"]


class Evaluation:
    """Pooled held-out scores and labels, and the metrics computed from them."""

    def __init__(self, y_true: Sequence[str], spam_probability: Sequence[float], predicted: Sequence[str],
                 *, thresholds: Sequence[float], kind: str, corpus: dict[str, Any], protocol: str) -> None:
        self.y_true = np.asarray(y_true, dtype=object)
        self.spam_probability = np.asarray(spam_probability, dtype=float)
        self.predicted = np.asarray(predicted, dtype=object)
        self.thresholds = list(thresholds)
        self.kind = kind
        self.corpus = corpus
        self.protocol = protocol

    def metrics(self) -> dict[str, Any]:
        result = metrics(self.y_true, self.spam_probability, self.predicted)
        result["threshold"] = float(np.median(self.thresholds))
        return {"model": self.kind, "protocol": self.protocol, **_counts(self.corpus), **result}


def _counts(corpus: dict[str, Any]) -> dict[str, Any]:
    return {"n": corpus["n"], "n_spam": corpus["n_spam"], "duplicates_removed": corpus["duplicates_removed"]}


def metrics(y_true: Sequence[str], spam_probability: Sequence[float], predicted: Sequence[str]) -> dict[str, Any]:
    """Spam-class metrics, plus the ham false-positive rate that spam-filter users fear most."""
    truth = np.asarray(y_true) == "spam"
    flagged = np.asarray(predicted) == "spam"
    tn, fp, fn, tp = confusion_matrix(truth, flagged, labels=[False, True]).ravel().tolist()
    return {
        "accuracy": float(accuracy_score(truth, flagged)),
        "precision": float(precision_score(truth, flagged, zero_division=0)),
        "recall": float(recall_score(truth, flagged, zero_division=0)),
        "f1": float(f1_score(truth, flagged, zero_division=0)),
        "mcc": float(matthews_corrcoef(truth, flagged)),
        "roc_auc": float(roc_auc_score(truth, spam_probability)),
        "pr_auc": float(average_precision_score(truth, spam_probability)),
        "ham_fpr": fp / (fp + tn) if fp + tn else 0.0,
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


def cross_validate(corpus: Corpus, *, kind: ModelKind = "default", cv: int = 5, target_ham_fpr: float = 0.001,
                   random_state: int = 0, n_jobs: int | None = None, progress: Progress | None = None) -> Evaluation:
    """Stratified `cv`-fold CV; each fold trains from scratch on its own training part.

    `progress` is called ``cv * fit_steps(5)`` times.
    """
    X = np.asarray(corpus.messages, dtype=object)
    y = np.asarray(corpus.labels, dtype=object)
    probability = np.empty(len(y))
    predicted = np.empty(len(y), dtype=object)
    thresholds = []
    for train, test in StratifiedKFold(cv, shuffle=True, random_state=random_state).split(X, y):
        trained = fit_pipeline(X[train], y[train], kind=kind, target_ham_fpr=target_ham_fpr,
                               random_state=random_state, n_jobs=n_jobs, progress=progress)
        probability[test] = _spam_probability(trained.pipeline, X[test])
        predicted[test] = trained.pipeline.labels(X[test], probability[test])  # predict() would score them again
        thresholds.append(trained.threshold)
    return Evaluation(y, probability, predicted, thresholds=thresholds, kind=kind, corpus=corpus.summary(),
                      protocol=f"stratified {cv}-fold CV")


def evaluate_on(pipeline: Any, threshold: float, test: Corpus, *, kind: str) -> Evaluation:
    """Score a fitted pipeline on a separate test corpus."""
    X = np.asarray(test.messages, dtype=object)
    probability = _spam_probability(pipeline, X)
    return Evaluation(test.labels, probability, pipeline.labels(X, probability), thresholds=[threshold],
                      kind=kind, corpus=test.summary(), protocol="held-out test data")


def _spam_probability(pipeline: Any, X: np.ndarray) -> np.ndarray:
    return pipeline.predict_proba(X)[:, list(pipeline.classes_).index("spam")]


def write_report(evaluation: Evaluation, directory: str | Path) -> Path:
    """A Markdown summary plus ROC, precision-recall, confusion-matrix and score-histogram plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    result = evaluation.metrics()
    truth = evaluation.y_true == "spam"
    scores = evaluation.spam_probability

    fig, ax = plt.subplots(figsize=(5, 4.5))
    fpr, tpr, _ = roc_curve(truth, scores)
    ax.plot(fpr, tpr, label=f"ROC AUC {result['roc_auc']:.4f}")
    ax.axvline(result["ham_fpr"], color="grey", linestyle=":", label=f"operating ham FPR {result['ham_fpr']:.4f}")
    ax.set(xscale="log", xlim=(1e-4, 1), ylim=(0, 1.01), xlabel="ham false-positive rate (log)",
           ylabel="spam recall", title="ROC")
    ax.legend(loc="lower right")
    _save(fig, out / "roc.png")

    fig, ax = plt.subplots(figsize=(5, 4.5))
    precision, recall, _ = precision_recall_curve(truth, scores)
    ax.plot(recall, precision, label=f"PR AUC {result['pr_auc']:.4f}")
    ax.scatter([result["recall"]], [result["precision"]], color="red", zorder=3, label="operating point")
    ax.set(xlim=(0, 1.01), ylim=(0, 1.01), xlabel="spam recall", ylabel="spam precision", title="Precision-recall")
    ax.legend(loc="lower left")
    _save(fig, out / "precision_recall.png")

    fig, ax = plt.subplots(figsize=(4.5, 4))
    matrix = result["confusion_matrix"]
    cells = np.array([[matrix["tn"], matrix["fp"]], [matrix["fn"], matrix["tp"]]])
    ax.imshow(cells, cmap="Blues")
    for (row, column), value in np.ndenumerate(cells):
        ax.text(column, row, str(value), ha="center", va="center", fontsize=14,
                color="white" if value > cells.max() / 2 else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["ham", "spam"], yticklabels=["ham", "spam"],
           xlabel="predicted", ylabel="true", title="Confusion matrix")
    _save(fig, out / "confusion_matrix.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 51)
    ax.hist(scores[~truth], bins=bins, alpha=0.6, label="ham", log=True)
    ax.hist(scores[truth], bins=bins, alpha=0.6, label="spam", log=True)
    ax.axvline(result["threshold"], color="red", linestyle="--", label=f"threshold {result['threshold']:.3f}")
    ax.set(xlabel="spam probability", ylabel="messages (log)", title="Score distribution")
    ax.legend()
    _save(fig, out / "score_histogram.png")

    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "README.md").write_text(_markdown(result, evaluation.corpus))
    return out


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)


def _markdown(result: dict[str, Any], corpus: dict[str, Any]) -> str:
    matrix = result["confusion_matrix"]
    rows = "\n".join(
        f"| {name} | {result[name]:.4f} |"
        for name in ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc", "pr_auc", "ham_fpr", "threshold")
    )
    return f"""# Evaluation: {result['model']} model

Data: {', '.join(corpus['sources'])}: {result['n']} messages after removing {result['duplicates_removed']} duplicates,
{result['n_spam']} spam. Protocol: {result['protocol']}; each fold chooses its own hyper-parameters and threshold
from its training part only.

| metric | value |
|---|---|
{rows}

Confusion matrix (spam is positive): {matrix['tp']} spam caught, {matrix['fn']} missed;
{matrix['fp']} ham wrongly flagged out of {matrix['fp'] + matrix['tn']}.

![ROC](roc.png) ![Precision-recall](precision_recall.png)

![Confusion matrix](confusion_matrix.png) ![Scores](score_histogram.png)
"""
