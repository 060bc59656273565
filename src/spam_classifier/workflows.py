"""The orchestration the CLI calls: train -> evaluate -> compile -> write.

The stages below (`train`, `evaluate`, `compiler`) know nothing of each other's callers; this module
sits above them, so the data's path reads one way: corpora -> preprocess -> train -> evaluate ->
compiler -> artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .artifact import Artifact
from .compiler import save_model
from .corpora import Corpus
from .corpora.catalog import CATALOG
from .evaluate import DEFAULT_WEIGHT_CAP, corpus_weights, metrics
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
    weight_cap: int | None = DEFAULT_WEIGHT_CAP,
    random_state: int = 0,
    include_pipeline: bool = True,
    n_jobs: int | None = None,
    progress: Progress | None = None,
    cross_corpus: dict[str, Any] | None = None,
) -> Artifact:
    """Fit on `corpus` and write the artifact to `out`, with a manifest that says how it was made.

    The manifest names each catalog corpus with its licence and counts, and carries `cross_corpus`
    (a `make quality` cross-corpus result of this design) when given, so `info` and `GET /model`
    show how the design fared on corpora it never saw.
    """
    weights = None if weight_cap is None else corpus_weights(corpus.groups, corpus.labels, cap=weight_cap)
    trained = fit_pipeline(corpus.messages, corpus.labels, kind=kind, target_ham_fpr=target_ham_fpr, folds=folds,
                           random_state=random_state, n_jobs=n_jobs, progress=progress, sample_weight=weights,
                           groups=corpus.groups)
    flagged = ["spam" if p >= trained.thresholds[message_channel(m)] else "ham"
               for p, m in zip(trained.oof_probability, corpus.messages, strict=True)]
    manifest: dict[str, Any] = {
        "model_kind": kind,
        "training_data": {**corpus.summary(), "corpora": _provenance(corpus)},
        "training": {"target_ham_fpr": target_ham_fpr, "folds": folds, "random_state": random_state,
                     "weight_cap": weight_cap, "params": trained.params, "selection": trained.selection,
                     "thresholds": trained.thresholds},
        "metrics": {"protocol": f"out-of-fold ({folds}-fold CV) on the training data",
                    **metrics(corpus.labels, trained.oof_probability, flagged)},
    }
    if cross_corpus is not None:
        manifest["cross_corpus"] = cross_corpus
    return save_model(trained.pipeline, out, kind=kind, manifest=manifest, include_pipeline=include_pipeline)


def _provenance(corpus: Corpus) -> list[dict[str, Any]]:
    """Each source with its counts after de-duplication and, for catalog corpora, licence and citation."""
    rows = []
    for source, counts in corpus.by_source().items():
        entry = CATALOG.get(source)
        row: dict[str, Any] = {"source": source, **counts}
        if entry is not None:
            row.update(title=entry.title, licence=entry.licence, may_train_shipped=entry.may_train_shipped,
                       citation=entry.citation)
        rows.append(row)
    return rows
