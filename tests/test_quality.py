"""A guard against quality regressions, on real data, cheap enough for every CI run.

The model kinds are trained once per session on two thirds of the SMS Spam Collection and of the
SpamAssassin corpus (tests/trained.py) and scored on the held-out third at their own thresholds. The
bars sit a little under what the committed code measures (see each test), so a real regression in
preprocessing, features or thresholds fails here; the headline figures (5-fold CV per corpus and
the cross-corpus table) are `make quality`'s, in reports/quality.json and the README.
"""

from __future__ import annotations

import numpy as np
import pytest

from spam_classifier.evaluate import metrics
from trained import split, trained

pytestmark = pytest.mark.slow


def _held_out(kind: str, corpus: str) -> dict:
    model = trained(kind)  # type: ignore[arg-type]
    messages, labels = split().test[corpus]
    probability = model.test_probability[corpus]
    return metrics(labels, probability, model.pipeline.labels(np.asarray(messages, dtype=object), probability))


def test_quality_default_model_on_held_out_sms() -> None:
    result = _held_out("default", "sms")
    assert result["f1"] >= SMS_F1 and result["ham_fpr"] <= SMS_HAM_FPR, result


def test_quality_default_model_on_held_out_spamassassin() -> None:
    result = _held_out("default", "spamassassin")
    assert result["f1"] >= SA_F1 and result["ham_fpr"] <= SA_HAM_FPR, result
    assert result["roc_auc"] >= 0.995, result


def test_quality_default_beats_the_seed_on_both_corpora() -> None:
    for corpus in ("sms", "spamassassin"):
        default, seed = _held_out("default", corpus), _held_out("seed", corpus)
        assert default["f1"] > seed["f1"] + 0.02, (corpus, seed, default)
