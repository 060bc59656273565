"""The scorer reproduces scikit-learn: real messages of both corpora, every model kind, |difference| <= 1e-9.

The models are the session's shared ones (tests/trained.py), saved as artifacts and scored on the
held-out messages of both corpora, duplicates and all; the shipped model on every tenth message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spam_classifier import load_model
from spam_classifier.artifact import read_artifact
from spam_classifier.compiler import CompileError, compile_pipeline, save_model
from spam_classifier.corpora import load_corpus
from spam_classifier.scorer import DEFAULT_MODEL_DIR
from spam_classifier.train import MODEL_KINDS, SpamPipeline
from trained import split, trained

joblib = pytest.importorskip("joblib")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def training_sample() -> tuple[list[str], list[str]]:
    data = split()
    return data.train_messages, data.train_labels


def _assert_parity(artifact_dir: Path, messages: list[str], expected: np.ndarray | None = None) -> None:
    pipeline = joblib.load(artifact_dir / "model.joblib")
    X = np.asarray(messages, dtype=object)
    if expected is None:
        expected = pipeline.predict_proba(X)[:, list(pipeline.classes_).index("spam")]
    model = load_model(artifact_dir)
    got = np.asarray(model.predict_proba(messages))
    worst = int(np.argmax(np.abs(got - expected)))
    assert abs(got[worst] - expected[worst]) <= 1e-9, f"message {worst}: {got[worst]!r} != {expected[worst]!r}"
    assert model.predict(messages) == pipeline.labels(X, expected).tolist()


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_parity_every_model_kind_on_both_corpora(kind, tmp_path):
    model = trained(kind)
    save_model(model.pipeline, tmp_path / kind, kind=kind, manifest={"metrics": {}})
    messages = [m for name in split().test for m in split().test[name][0]]
    expected = np.concatenate([model.test_probability[name] for name in split().test])
    _assert_parity(tmp_path / kind, messages, expected)


def test_parity_shipped_default_model_on_both_corpora():
    read_artifact(DEFAULT_MODEL_DIR, include_pipeline=True)  # verified, model.joblib included
    pairs = load_corpus("sms") + load_corpus("spamassassin")
    _assert_parity(DEFAULT_MODEL_DIR, [message for message, _ in pairs[::10]])


def test_compile_pipeline_refuses_what_the_scorer_cannot_reproduce(training_sample):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    messages, labels = training_sample
    svm = make_pipeline(TfidfVectorizer(), LinearSVC()).fit(messages[:500], labels[:500])
    with pytest.raises(CompileError, match="cannot compile a LinearSVC"):
        compile_pipeline(svm)


def test_parity_binary_tfidf_in_model_format_2(training_sample, tmp_path):
    """Terms counted as present or absent (binary=True): the same probabilities, in model.json format 2,
    which a release reading only format 1 refuses instead of scoring the counts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion

    messages, labels = training_sample
    union = FeatureUnion([("words", TfidfVectorizer(sublinear_tf=True)),
                          ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), binary=True,
                                                    sublinear_tf=True, min_df=2))])
    pipeline = SpamPipeline([("features", union), ("classifier", LogisticRegression(C=100, max_iter=1000))])
    pipeline.fit(messages[:800], labels[:800])
    save_model(pipeline, tmp_path / "binary", kind="custom", manifest={"metrics": {}})
    compiled = compile_pipeline(pipeline)
    assert compiled["format_version"] == 2
    assert [part["binary"] for part in compiled["vectorizers"]] == [False, True]
    messages = [*messages[800:], "free free free FREE!!! win win win", "aaaaaaaaaa " * 50, ""]
    _assert_parity(tmp_path / "binary", messages)


def _hostile_emails() -> list[str]:
    head = "From: Prize Team <prizes@lottery.test>\nTo: you@inbox.test\nSubject: you won\n"
    parts = "".join(f"--b\nContent-Type: text/html\n\n<p>prize {n} <a href='http://10.0.0.{n % 250}/'>x</a>\n"
                    for n in range(10_000))
    return [
        head + "\n" + "claim your free prize now " * 40_000,  # 1 MB body
        head + "\n" + "x" * 1_000_000,  # 1 MB single line
        head + 'Content-Type: multipart/mixed; boundary="b"\n\n' + parts + "--b--\n",  # 10,000 MIME parts
        "From: a@b.test\nSubject: " + "free " * 50_000 + "\n\nlunch?",  # 250 KB header
        "WINNER!! " * 120_000,  # 1 MB text message
    ]


def test_parity_holds_on_hostile_messages_with_the_caps(tmp_path):
    """The size caps live in preprocess, which runs inside the pipeline and the scorer alike (issue #10)."""
    from conftest import HAM_DOCS, SPAM_DOCS
    from spam_classifier.train import build_pipeline

    messages = (HAM_DOCS + SPAM_DOCS) * 3
    labels = (["ham"] * len(HAM_DOCS) + ["spam"] * len(SPAM_DOCS)) * 3
    pipeline = build_pipeline("default", C=10.0, thresholds={"text": 0.5, "email": 0.5}).fit(messages, labels)
    save_model(pipeline, tmp_path / "tiny", kind="default", manifest={"metrics": {}})
    _assert_parity(tmp_path / "tiny", _hostile_emails())
