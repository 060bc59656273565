"""The orchestration the CLI calls: train -> evaluate -> compile -> write.

The stages below (`train`, `evaluate`, `compiler`) know nothing of each other's callers; this module
sits above them, so the data's path reads one way: corpora -> preprocess -> train -> evaluate ->
compiler -> artifact.
"""

from __future__ import annotations

from pathlib import Path

from .artifact import Artifact
from .compiler import save_model
from .corpora import Corpus
from .evaluate import corpus_weights, metrics
from .preprocess import message_channel
from .train import ModelKind, Progress, fit_pipeline

__all__ = ["train_model"]


def train_model(
    corpus: Corpus,
    out: str | Path,
    *,
    kind: ModelKind = "default",
    target_ham_fpr: float = 0.001,
    folds: int = 5,
    weight_cap: int | None = None,
    random_state: int = 0,
    include_pipeline: bool = True,
    n_jobs: int | None = None,
    progress: Progress | None = None,
) -> Artifact:
    """Fit on `corpus` and write the artifact to `out`, with a manifest that says how it was made."""
    weights = None if weight_cap is None else corpus_weights(corpus.groups, corpus.labels, cap=weight_cap)
    trained = fit_pipeline(corpus.messages, corpus.labels, kind=kind, target_ham_fpr=target_ham_fpr, folds=folds,
                           random_state=random_state, n_jobs=n_jobs, progress=progress, sample_weight=weights)
    flagged = ["spam" if p >= trained.thresholds[message_channel(m)] else "ham"
               for p, m in zip(trained.oof_probability, corpus.messages, strict=True)]
    manifest = {
        "model_kind": kind,
        "training_data": corpus.summary(),
        "training": {"target_ham_fpr": target_ham_fpr, "folds": folds, "random_state": random_state,
                     "weight_cap": weight_cap, "params": trained.params, "selection": trained.selection,
                     "thresholds": trained.thresholds},
        "metrics": {"protocol": f"out-of-fold ({folds}-fold CV) on the training data",
                    **metrics(corpus.labels, trained.oof_probability, flagged)},
    }
    return save_model(trained.pipeline, out, kind=kind, manifest=manifest, include_pipeline=include_pipeline)
