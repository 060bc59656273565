"""The orchestration the CLI calls: train -> evaluate -> compile -> write.

The stages below (`train`, `evaluate`, `compiler`) know nothing of each other's callers; this module
sits above them, so the data's path reads one way: corpora -> preprocess -> train -> evaluate ->
compiler -> artifact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .artifact import Artifact
from .compiler import save_model
from .corpora import Corpus
from .corpora.catalog import CATALOG
from .errors import CorpusError
from .evaluate import DEFAULT_WEIGHT_CAP, metrics, sample_weights
from .preprocess import message_channel
from .train import ModelKind, Progress, fit_pipeline

__all__ = ["LOCAL_WEIGHT", "parse_source_weights", "train_model", "training_weights"]

#: The weight `retrain` gives feedback, and the one docs/feedback.md suggests for local data: a few hundred of a
#: deployment's own messages must count against tens of thousands of public ones. Measured in issue #11: 50
#: messages of a new organisation weighted 5x raised ROC-AUC on the rest of its mail from 0.73 to 0.91.
LOCAL_WEIGHT = 5.0


def parse_source_weights(specs: Iterable[str], sources: Sequence[str]) -> dict[str, float]:
    """``["feedback:./models=5", ...]`` -> ``{source: factor}``; CorpusError names a spec that does not fit.

    A spec must name one of the `--data` `sources` exactly, so a typo cannot silently weigh nothing.
    """
    factors: dict[str, float] = {}
    for spec in specs:
        source, equals, value = spec.rpartition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = -1.0
        if not equals or not source or not factor > 0 or factor == float("inf"):
            raise CorpusError(f"--weight {spec!r}: expected SOURCE=FACTOR with a positive factor, e.g. "
                              f"feedback:./models=5")
        if source not in sources:
            raise CorpusError(f"--weight {spec!r}: {source!r} is not one of the --data sources "
                              f"({', '.join(sources)})")
        factors[source] = factor
    return factors


def training_weights(corpus: Corpus, *, weight_cap: int | None = DEFAULT_WEIGHT_CAP,
                     factors: Mapping[str, float] | None = None) -> np.ndarray | None:
    """The sample weight `train` fits `corpus` with (`evaluate.sample_weights`)."""
    return sample_weights(corpus.groups, corpus.labels, cap=weight_cap, factors=factors)


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
    source_weight: Mapping[str, float] | None = None,
    folds_by_source: bool = True,
) -> Artifact:
    """Fit on `corpus` and write the artifact to `out`, with a manifest that says how it was made.

    The manifest names each catalog corpus with its licence and counts, and carries `cross_corpus`
    (a `make quality` cross-corpus result of this design) when given, so `info` and `GET /model`
    show how the design fared on corpora it never saw. `source_weight` multiplies the weight of each
    message of a `--data` source (`--weight SOURCE=FACTOR`). `folds_by_source=False` draws stratified
    folds over all sources instead of keeping each source whole: `retrain` needs it, since a fold trained
    on the feedback alone would set the thresholds of the public corpora.
    """
    weights = training_weights(corpus, weight_cap=weight_cap, factors=source_weight)
    trained = fit_pipeline(corpus.messages, corpus.labels, kind=kind, target_ham_fpr=target_ham_fpr, folds=folds,
                           random_state=random_state, n_jobs=n_jobs, progress=progress, sample_weight=weights,
                           groups=corpus.groups if folds_by_source else None)
    flagged = ["spam" if p >= trained.thresholds[message_channel(m)] else "ham"
               for p, m in zip(trained.oof_probability, corpus.messages, strict=True)]
    manifest: dict[str, Any] = {
        "model_kind": kind,
        "training_data": {**corpus.summary(), "corpora": _provenance(corpus)},
        "training": {"target_ham_fpr": target_ham_fpr, "folds": folds, "random_state": random_state,
                     "weight_cap": weight_cap, "source_weight": dict(source_weight or {}), "params": trained.params,
                     "selection": trained.selection,
                     "thresholds": trained.thresholds},
        "metrics": {"protocol": _oof_protocol(folds, trained.held_out_whole),
                    **metrics(corpus.labels, trained.oof_probability, flagged)},
    }
    if cross_corpus is not None:
        manifest["cross_corpus"] = cross_corpus
    return save_model(trained.pipeline, out, kind=kind, manifest=manifest, include_pipeline=include_pipeline)


def _oof_protocol(folds: int, held_out_whole: list[str]) -> str:
    if not held_out_whole:
        return f"out-of-fold ({folds}-fold CV) on the training data"
    return (f"out-of-fold ({folds}-fold CV) on the training data, {', '.join(held_out_whole)} each held out whole "
            "(their figures are those of a model meeting a corpus it never saw)")


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
