"""`spam-classifier import`: the article's model and other scikit-learn pipelines become verified artifacts.

Each model is trained here on the SMS Spam Collection the way its author would have, pickled with
joblib, imported through the CLI, and then compared with its own ``predict_proba`` on every SMS message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC, LinearSVC

from conftest import HAM_DOCS, SMS_PATH, SPAM_DOCS
from spam_classifier.cli import cli
from spam_classifier.compiler import CompileError, compile_imported
from spam_classifier.scorer import load_model

pytestmark = pytest.mark.skipif(not SMS_PATH.is_file(), reason="needs the SMS Spam Collection in ../shared/data")


@pytest.fixture(scope="module")
def sms() -> tuple[list[str], list[str]]:
    rows = [line.split("\t", 1) for line in SMS_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [text for _, text in rows], [label for label, _ in rows]


@pytest.fixture(scope="module")
def models(sms: tuple[list[str], list[str]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Pickles as users have them: the article's pipeline in one file and in two, and a logistic regression."""
    messages, labels = sms
    root = tmp_path_factory.mktemp("pickles")
    article = make_pipeline(TfidfVectorizer(stop_words="english"), MultinomialNB()).fit(messages, labels)
    vectorizer = TfidfVectorizer(stop_words="english")
    numbers = [int(label == "spam") for label in labels]  # the two-file layout, trained on 0/1 labels
    classifier = MultinomialNB().fit(vectorizer.fit_transform(messages), numbers)
    regression = make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=2), LogisticRegression(C=30, max_iter=1000))
    counts = make_pipeline(CountVectorizer(lowercase=False), ComplementNB())
    present = make_pipeline(CountVectorizer(binary=True), MultinomialNB())  # words counted once: Bernoulli-like
    svc = make_pipeline(TfidfVectorizer(), CalibratedClassifierCV(LinearSVC(), ensemble=False, cv=3))
    files = {"article": [article], "two-file": [classifier, vectorizer], "logistic": [regression.fit(messages, labels)],
             "counts": [counts.fit(messages, labels)], "binary-counts": [present.fit(messages, labels)],
             "calibrated-svc": [svc.fit(messages, labels)]}
    paths = {}
    for name, objects in files.items():
        paths[name] = [root / f"{name}-{index}.joblib" for index in range(len(objects))]
        for obj, path in zip(objects, paths[name], strict=True):
            joblib.dump(obj, path)
    return paths


def _original_spam_probability(paths: list[Path], messages: list[str]) -> np.ndarray:
    estimator = joblib.load(paths[0])
    if len(paths) == 2:
        return estimator.predict_proba(joblib.load(paths[1]).transform(messages))[:, 1]
    return estimator.predict_proba(messages)[:, list(estimator.classes_).index("spam")]


def _import(paths: list[Path], out: Path, *extra: str) -> Any:
    arguments = ["import", str(paths[0]), "--out", str(out), *extra]
    if len(paths) == 2:
        arguments += ["--vectorizer", str(paths[1])]
    return CliRunner().invoke(cli, arguments)


@pytest.mark.parametrize("name", ["article", "two-file", "logistic", "counts", "binary-counts", "calibrated-svc"])
def test_import_matches_predict_proba_on_every_sms_message(name: str, models: dict[str, list[Path]],
                                                            sms: tuple[list[str], list[str]], tmp_path: Path) -> None:
    result = _import(models[name], tmp_path / "imported", "--trust")
    assert result.exit_code == 0, result.output
    assert "Warning: importing unpickles the file" in result.stderr
    messages, _ = sms
    scored = np.asarray(load_model(str(tmp_path / "imported")).predict_proba(messages))
    assert np.max(np.abs(scored - _original_spam_probability(models[name], messages))) <= 1e-9
    manifest = json.loads((tmp_path / "imported" / "manifest.json").read_text())
    assert manifest["model_kind"] == "imported"
    assert {entry["sha256"] for entry in manifest["imported"]["source_files"].values()} == {
        hashlib.sha256(path.read_bytes()).hexdigest() for path in models[name]}
    assert manifest["imported"]["parity"]["max_abs_difference"] <= 1e-9
    assert manifest["libraries"]["scikit-learn"]


def test_import_with_data_evaluates_and_serves_through_the_api(models: dict[str, list[Path]],
                                                              tmp_path: Path) -> None:
    import httpx

    from spam_classifier.app import create_app
    from spam_classifier.config import Settings
    from spam_classifier.source import ModelSource

    result = _import(models["article"], tmp_path / "imported", "--trust", "--data", f"sms:{SMS_PATH}")
    assert result.exit_code == 0, result.output
    assert "f1 0.9" in result.stdout
    metrics = json.loads((tmp_path / "imported" / "manifest.json").read_text())["metrics"]
    assert metrics["n"] == 5159 and 0.85 < metrics["f1"] <= 1.0

    async def ask() -> list[dict[str, Any]]:
        app = create_app(ModelSource(str(tmp_path / "imported"), reload_seconds=0), Settings())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            replies = [await client.post("/predict", json={"message": text}) for text in (SPAM_DOCS[1], HAM_DOCS[0])]
        return [reply.json() for reply in replies]

    spam, ham = asyncio.run(ask())
    assert (spam["prediction"], ham["prediction"]) == ("spam", "ham")
    expected = _original_spam_probability(models["article"], [SPAM_DOCS[1]])[0]
    assert abs(spam["spam_probability"] - expected) <= 1e-9


def test_import_without_trust_is_refused_and_writes_nothing(models: dict[str, list[Path]], tmp_path: Path) -> None:
    result = _import(models["article"], tmp_path / "imported")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (f"Error: {models['article'][0]} was not written by spam-classifier; "
                                              "pass --trust to load it anyway")
    assert not (tmp_path / "imported").exists()


def test_import_of_our_own_model_joblib_needs_no_trust(models: dict[str, list[Path]], tmp_path: Path) -> None:
    assert _import(models["article"], tmp_path / "first", "--trust").exit_code == 0
    result = _import([tmp_path / "first" / "model.joblib"], tmp_path / "second")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr


_TINY = [*HAM_DOCS, *SPAM_DOCS]
_TINY_LABELS = ["ham"] * len(HAM_DOCS) + ["spam"] * len(SPAM_DOCS)


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        (make_pipeline(TfidfVectorizer(tokenizer=str.split, token_pattern=None), MultinomialNB()),
         "cannot compile this TfidfVectorizer: a custom tokenizer callable"),
        (make_pipeline(TfidfVectorizer(preprocessor=str.lower), MultinomialNB()),
         "cannot compile this TfidfVectorizer: a custom preprocessor callable"),
        (make_pipeline(TfidfVectorizer(norm="l1"), MultinomialNB()),
         "cannot compile this TfidfVectorizer: norm='l1' (supported: 'l2', None)"),
        (make_pipeline(TfidfVectorizer(analyzer="char"), MultinomialNB()),
         "cannot compile this TfidfVectorizer: analyzer='char' (supported: 'word', 'char_wb')"),
        (make_pipeline(TfidfVectorizer(), SVC(kernel="rbf")), "cannot compile a SVC as the classifier"),
        (make_pipeline(TfidfVectorizer(), CalibratedClassifierCV(SVC(kernel="rbf"), cv=2, ensemble=False)),
         "CalibratedClassifierCV around a SVC is not supported; only around a LinearSVC"),
        (make_pipeline(CountVectorizer(), BernoulliNB()), "cannot compile a BernoulliNB as the classifier"),
        (make_pipeline(TfidfVectorizer(), CalibratedClassifierCV(LinearSVC(), cv=2)),
         "CalibratedClassifierCV averages 2 calibrated classifiers"),
        (make_pipeline(TfidfVectorizer(), CalibratedClassifierCV(LinearSVC(), cv=2, method="isotonic", ensemble=False)),
         "CalibratedClassifierCV(method='isotonic') is not supported"),
        (make_pipeline(FunctionTransformer(), TfidfVectorizer(), MultinomialNB()),
         "expected exactly two steps (vectorizer, classifier), got [functiontransformer=FunctionTransformer"),
    ],
    ids=["tokenizer", "preprocessor", "l1", "char", "svc-rbf", "calibrated-svc-rbf", "bernoulli", "ensemble",
         "isotonic",
         "extra-step"],
)
def test_import_refuses_what_the_scorer_cannot_reproduce(pipeline: Pipeline, message: str) -> None:
    pipeline.fit(_TINY, _TINY_LABELS)
    with pytest.raises(CompileError, match=re.escape(message)):
        compile_imported(pipeline)


def test_import_refusal_is_one_line_on_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "svc.joblib"
    joblib.dump(make_pipeline(TfidfVectorizer(), SVC(kernel="rbf")).fit(_TINY, _TINY_LABELS), path)
    result = CliRunner().invoke(cli, ["import", str(path), "--out", str(tmp_path / "out"), "--trust"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("Error: cannot compile a SVC as the classifier")
    assert not (tmp_path / "out").exists()
