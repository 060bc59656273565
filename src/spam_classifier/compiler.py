"""Fitted scikit-learn pipeline -> the plain-data model the scorer runs.

This is the only module that reads scikit-learn's fitted attributes. It accepts exactly the
pipelines the trainer builds and refuses anything else with a message saying what it cannot
compile, so the scorer never silently computes something different from scikit-learn.
"""

from __future__ import annotations

import base64
import io
import platform
import sys
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from .artifact import BINARY_FORMAT_VERSION, FORMAT_VERSION, PIPELINE_FILE, Artifact, write_artifact
from .preprocess import CHANNELS, preprocess_messages

__all__ = ["IMPORTABLE", "CompileError", "compile_imported", "compile_pipeline", "save_model", "spam_class_index"]

_LABELS = ["ham", "spam"]


class CompileError(ValueError):
    """Raised when a pipeline uses something the plain-Python scorer cannot reproduce exactly."""


def compile_pipeline(pipeline: Pipeline, *, kind: str = "custom") -> dict[str, Any]:
    """The model.json content for a fitted pipeline."""
    if not isinstance(pipeline, Pipeline):
        raise CompileError(f"expected a fitted sklearn Pipeline, got {type(pipeline).__name__}")
    steps = [step for _, step in pipeline.steps]
    preprocessed = False
    if steps and isinstance(steps[0], FunctionTransformer):
        if steps[0].func is not preprocess_messages or steps[0].inverse_func is not None:
            raise CompileError("the only function step the scorer knows is spam_classifier.preprocess_messages")
        preprocessed, steps = True, steps[1:]
    if len(steps) != 2:
        raise CompileError("expected [preprocess], features (TfidfVectorizer or FeatureUnion of them), classifier")
    features, classifier = steps
    vectorizers = _vectorizers(features)
    thresholds = dict.fromkeys(CHANNELS, 0.5)  # what a plain Pipeline's predict does
    stored = getattr(pipeline, "thresholds", None)  # train.SpamPipeline's: one per channel
    if stored:
        thresholds = {channel: float(stored[channel]) for channel in CHANNELS}
    intercept, weights = _linear_form(classifier)
    width = sum(len(vectorizer.vocabulary_) for vectorizer in vectorizers)
    if weights.shape != (width,):
        raise CompileError(f"the classifier has {weights.shape[0]} weights for {width} features")
    compiled, offset = [], 0
    for vectorizer in vectorizers:
        size = len(vectorizer.vocabulary_)
        compiled.append(_compile_vectorizer(vectorizer, weights[offset : offset + size]))
        offset += size
    return {
        "format_version": _format_version(compiled),
        "kind": kind,
        "labels": _LABELS,
        "preprocess": preprocessed,
        "thresholds": thresholds,
        "intercept": intercept,
        "vectorizers": compiled,
    }


def _vectorizers(features: Any) -> list[TfidfVectorizer]:
    if isinstance(features, TfidfVectorizer):
        return [features]
    if isinstance(features, FeatureUnion):
        if features.transformer_weights:
            raise CompileError("FeatureUnion transformer_weights are not supported")
        parts = [part for _, part in features.transformer_list if part not in ("drop", None)]
        if parts and all(isinstance(part, TfidfVectorizer) for part in parts):
            return parts
    raise CompileError(f"features must be a TfidfVectorizer or a FeatureUnion of them, not {type(features).__name__}")


def _compile_vectorizer(vectorizer: TfidfVectorizer, weights: np.ndarray) -> dict[str, Any]:
    problems = [
        name for name, ok in (
            ("analyzer must be 'word' or 'char_wb'", vectorizer.analyzer in ("word", "char_wb")),
            ("input must be 'content'", vectorizer.input == "content"),
            ("custom preprocessor/tokenizer", vectorizer.preprocessor is None and vectorizer.tokenizer is None),
            ("strip_accents", vectorizer.strip_accents is None),
            ("norm must be 'l2' or None", vectorizer.norm in ("l2", None)),
            ("dtype must be float64", np.dtype(vectorizer.dtype) == np.float64),
        ) if not ok
    ]
    if problems:
        raise CompileError(f"cannot compile this TfidfVectorizer: {', '.join(problems)}")
    terms = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    idf = vectorizer.idf_ if vectorizer.use_idf else np.ones(len(terms))
    stop_words = vectorizer.get_stop_words()
    return {
        "analyzer": vectorizer.analyzer,
        "ngram_range": list(vectorizer.ngram_range),
        "lowercase": bool(vectorizer.lowercase),
        "token_pattern": vectorizer.token_pattern,
        "stop_words": sorted(stop_words) if stop_words else None,
        "sublinear_tf": bool(vectorizer.sublinear_tf),
        "binary": bool(vectorizer.binary),
        "norm": vectorizer.norm,
        "terms": terms,
        "idf": _float_array(idf),
        "weights": _float_array(weights),
    }


def _format_version(vectorizers: list[dict[str, Any]]) -> int:
    """model.json's format: 2 as soon as a vectorizer is binary, which a format-1 reader would score as counts."""
    return BINARY_FORMAT_VERSION if any(vectorizer["binary"] for vectorizer in vectorizers) else FORMAT_VERSION


def _float_array(values: np.ndarray) -> str:
    """Little-endian float64s in base64: exact, a third the size of decimal JSON, and decoded at memcpy speed."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def _linear_form(classifier: Any) -> tuple[float, np.ndarray]:
    """(intercept, weights) with spam_probability = sigmoid(intercept + weights . x)."""
    classes = list(getattr(classifier, "classes_", []))
    if classes != _LABELS:
        raise CompileError(f"the classifier must be fitted on labels {_LABELS}, not {classes}")
    if isinstance(classifier, LogisticRegression):
        return float(classifier.intercept_[0]), np.asarray(classifier.coef_[0], dtype=float)
    if isinstance(classifier, MultinomialNB):
        # Two-class NB: P(spam|x) = sigmoid(log-prior difference + x . log-likelihood difference).
        log_prob = classifier.feature_log_prob_
        return float(classifier.class_log_prior_[1] - classifier.class_log_prior_[0]), log_prob[1] - log_prob[0]
    raise CompileError(
        f"cannot compile a {type(classifier).__name__}; supported: LogisticRegression, MultinomialNB"
    )


def save_model(pipeline: Pipeline, directory: str | Path, *, kind: str, manifest: dict[str, Any],
               include_pipeline: bool = True) -> Artifact:
    """Compile `pipeline` and write the artifact directory (model.json, manifest.json, model.joblib)."""
    model = compile_pipeline(pipeline, kind=kind)
    extra = {}
    if include_pipeline:
        buffer = io.BytesIO()
        joblib.dump(pipeline, buffer, compress=3)
        extra[PIPELINE_FILE] = buffer.getvalue()
    libraries = {name: package_version(name) for name in ("scikit-learn", "numpy", "scipy", "joblib")}
    libraries["python"] = platform.python_version()
    libraries["spam-classifier"] = package_version("spam-classifier")
    return write_artifact(directory, model=model, manifest={**manifest, "libraries": libraries,
                                                           "platform": sys.platform}, extra_files=extra)


# -- importing models this package did not train (additive: the functions above are untouched) --------------------

#: What `compile_imported` accepts, for its refusals.
IMPORTABLE = ("a Pipeline of TfidfVectorizer or CountVectorizer and MultinomialNB, ComplementNB, LogisticRegression "
              "or CalibratedClassifierCV(LinearSVC, method='sigmoid', ensemble=False)")


def compile_imported(estimator: Any, *, vectorizer: Any = None, spam_label: str | None = None) -> dict[str, Any]:
    """The model.json content for a scikit-learn spam model trained elsewhere, or CompileError naming the step.

    `estimator` is a fitted Pipeline (vectorizer, classifier), or the classifier alone with its fitted
    `vectorizer` (the two-file layout). It reads raw text, as it did in scikit-learn. `spam_label` names
    the spam class; by default ``"spam"``, or ``1`` when the classes are 0 and 1.
    """
    if vectorizer is None:
        if not isinstance(estimator, Pipeline):
            raise CompileError(f"expected a fitted Pipeline (or --vectorizer with a classifier), not "
                               f"{type(estimator).__name__}; supported: {IMPORTABLE}")
        if estimator.memory is not None or getattr(estimator, "transform_input", None):
            raise CompileError("a Pipeline with memory or transform_input is not supported")
        steps = [(name, step) for name, step in estimator.steps if step not in ("passthrough", None)]
        if len(steps) != 2:
            names = ", ".join(f"{name}={type(step).__name__}" for name, step in steps)
            raise CompileError(f"expected exactly two steps (vectorizer, classifier), got [{names}]; "
                               f"supported: {IMPORTABLE}")
        (_, vectorizer), (_, estimator) = steps
    spec = _compile_imported_vectorizer(vectorizer)
    intercept, weights = _imported_linear_form(estimator, spam_label)
    if weights.shape != (len(spec["terms"]),):
        raise CompileError(f"the classifier has {weights.shape[0]} weights for {len(spec['terms'])} features; "
                           "are the vectorizer and the classifier from the same training run?")
    spec["weights"] = _float_array(weights)
    return {
        "format_version": _format_version([spec]),
        "kind": "imported",
        "labels": _LABELS,
        "preprocess": False,
        "thresholds": dict.fromkeys(CHANNELS, 0.5),  # what its own predict does with two classes
        "intercept": intercept,
        "vectorizers": [spec],
    }


def _compile_imported_vectorizer(vectorizer: Any) -> dict[str, Any]:
    """A fitted Tfidf/CountVectorizer as the scorer's vectorizer spec (weights filled in by the caller)."""
    from sklearn.feature_extraction.text import CountVectorizer

    if not isinstance(vectorizer, CountVectorizer):  # TfidfVectorizer is a CountVectorizer
        raise CompileError(f"cannot compile a {type(vectorizer).__name__} as the vectorizer; "
                           f"supported: {IMPORTABLE}")
    name = type(vectorizer).__name__
    if type(vectorizer) not in (CountVectorizer, TfidfVectorizer):
        raise CompileError(f"cannot compile {name}, a subclass of {CountVectorizer.__name__} whose analysis may "
                           "differ; supported: TfidfVectorizer, CountVectorizer")
    if not hasattr(vectorizer, "vocabulary_"):
        raise CompileError(f"the {name} is not fitted")
    is_tfidf = isinstance(vectorizer, TfidfVectorizer)
    problems = [
        problem for problem, ok in (
            ("a custom analyzer callable", not callable(vectorizer.analyzer)),
            (f"analyzer={vectorizer.analyzer!r} (supported: 'word', 'char_wb')",
             callable(vectorizer.analyzer) or vectorizer.analyzer in ("word", "char_wb")),
            ("a custom preprocessor callable", vectorizer.preprocessor is None),
            ("a custom tokenizer callable", vectorizer.tokenizer is None),
            (f"input={vectorizer.input!r} (supported: 'content')", vectorizer.input == "content"),
            (f"strip_accents={vectorizer.strip_accents!r}", vectorizer.strip_accents is None),
            (f"norm={getattr(vectorizer, 'norm', None)!r} (supported: 'l2', None)",
             not is_tfidf or vectorizer.norm in ("l2", None)),
            (f"dtype={np.dtype(vectorizer.dtype).name} (supported: float64, or an integer type for counts)",
             np.dtype(vectorizer.dtype) == np.float64 or (not is_tfidf and np.dtype(vectorizer.dtype).kind in "iu")),
        ) if not ok
    ]
    if problems:
        raise CompileError(f"cannot compile this {name}: {'; '.join(problems)}")
    if is_tfidf:
        return _compile_vectorizer(vectorizer, np.zeros(len(vectorizer.vocabulary_)))
    terms = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    stop_words = vectorizer.get_stop_words()
    return {  # raw counts: tf as is, no idf, no normalisation
        "analyzer": vectorizer.analyzer,
        "ngram_range": list(vectorizer.ngram_range),
        "lowercase": bool(vectorizer.lowercase),
        "token_pattern": vectorizer.token_pattern,
        "stop_words": sorted(stop_words) if stop_words else None,
        "sublinear_tf": False,
        "binary": bool(vectorizer.binary),
        "norm": None,
        "terms": terms,
        "idf": _float_array(np.ones(len(terms))),
        "weights": _float_array(np.zeros(len(terms))),
    }


def _imported_linear_form(classifier: Any, spam_label: str | None) -> tuple[float, np.ndarray]:
    """(intercept, weights) with P(spam) = sigmoid(intercept + weights . x), exactly as `predict_proba` computes it."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    classes = [item.item() if hasattr(item, "item") else item for item in getattr(classifier, "classes_", [])]
    if len(classes) != 2:
        raise CompileError(f"the classifier must be fitted on two classes (ham and spam), not {classes}")
    spam = spam_class_index(classes, spam_label)
    if type(classifier) is MultinomialNB:
        log_prob = classifier.feature_log_prob_
        intercept, weights = classifier.class_log_prior_[1] - classifier.class_log_prior_[0], log_prob[1] - log_prob[0]
    elif type(classifier) is ComplementNB:  # two classes: no prior in its joint log-likelihood
        log_prob = classifier.feature_log_prob_
        intercept, weights = 0.0, log_prob[1] - log_prob[0]
    elif type(classifier) is LogisticRegression:  # binary: predict_proba is expit(decision_function)
        intercept, weights = classifier.intercept_[0], np.asarray(classifier.coef_[0], dtype=float)
    elif type(classifier) is CalibratedClassifierCV:
        intercept, weights = _calibrated_linear_form(classifier, LinearSVC)
    else:
        raise CompileError(f"cannot compile a {type(classifier).__name__} as the classifier "
                           "(its predict_proba is not a sigmoid of a linear score the scorer can reproduce "
                           f"exactly); supported: {IMPORTABLE}")
    intercept, weights = float(intercept), np.asarray(weights, dtype=float)
    return (intercept, weights) if spam == 1 else (-intercept, -weights)


def _calibrated_linear_form(calibrated: Any, linear_svc: type) -> tuple[float, np.ndarray]:
    """A one-member sigmoid calibration of a LinearSVC: expit(-(a * (w . x + b0) + b))."""
    members = calibrated.calibrated_classifiers_
    if len(members) != 1:
        raise CompileError(f"CalibratedClassifierCV averages {len(members)} calibrated classifiers, which the "
                           "scorer cannot reproduce exactly; refit it with ensemble=False")
    member = members[0]
    if member.method != "sigmoid":
        raise CompileError(f"CalibratedClassifierCV(method={member.method!r}) is not supported; use 'sigmoid'")
    svc = getattr(member.estimator, "estimator", member.estimator)  # a FrozenEstimator wraps the prefit one
    if type(svc) is not linear_svc:
        raise CompileError(f"CalibratedClassifierCV around a {type(svc).__name__} is not supported; "
                           "only around a LinearSVC")
    (calibrator,) = member.calibrators
    a, b = float(calibrator.a_), float(calibrator.b_)
    return -(a * float(svc.intercept_[0]) + b), -a * np.asarray(svc.coef_[0], dtype=float)


def spam_class_index(classes: list[Any], spam_label: str | None) -> int:
    """The index of the spam class among a classifier's `classes`: `spam_label`, else "spam", else 1 of 0/1."""
    if spam_label is not None:
        matches = [index for index, label in enumerate(classes) if str(label) == spam_label]
        if not matches:
            raise CompileError(f"no class {spam_label!r} among the classifier's classes {classes}")
        return matches[0]
    if "spam" in classes:
        return classes.index("spam")
    if sorted(map(str, classes)) == ["0", "1"]:
        return [str(label) for label in classes].index("1")
    raise CompileError(f"cannot tell which of the classes {classes} is spam; name it with --spam-label")
