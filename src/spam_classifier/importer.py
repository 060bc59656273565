"""Bring an existing scikit-learn spam model into our artifact: load, compile, prove parity, write.

The article's ``model.joblib`` (a TfidfVectorizer and a MultinomialNB, in one Pipeline or pickled as
two files) and similar pipelines compile to the same plain data as our own models (`compiler.compile_imported`).
Before anything is written the compiled model must reproduce the original's ``predict_proba`` within
`PARITY_TOLERANCE` on every sample message, so an import never silently changes what the model says.

Unpickling runs code, so a file is loaded only with ``trust=True``, unless it is the ``model.joblib``
of one of our own artifacts whose manifest pins its sha256.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .artifact import MANIFEST_FILE, PIPELINE_FILE, Artifact, sha256_file, write_artifact
from .compiler import CompileError, compile_imported, spam_class_index
from .errors import ConfigurationError
from .scorer import Model

if TYPE_CHECKING:
    from .corpora import Corpus

__all__ = ["PARITY_TOLERANCE", "ImportedModel", "import_model", "parity_sample", "written_by_us"]

#: The largest |scorer - scikit-learn| spam probability an import accepts, as for our own models.
PARITY_TOLERANCE = 1e-9

#: Messages every parity check includes besides the vocabulary-built ones: casing, punctuation,
#: digits, non-ASCII, empty, an email.
_BUILT_IN_SAMPLE = (
    "",
    "WINNER!! As a valued network customer you have been selected to receive a £900 prize reward!",
    "Ok lar... Joking wif u oni...",
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121",
    "Are we still on for lunch tomorrow? Café at 12:30, naïve question I know",
    "URGENT!!! Call 09061701461 NOW to claim your FREE ringtone – reply STOP to end",
    "Subject: Re: meeting\nFrom: Alice <alice@example.com>\n\nSee you at 10. Thanks, Bob\n",
    "   spaces\tand\nnew lines   ",
    "ÀÉÎÕÜ ñ ß 東京 😀 http://example.com/x?y=1",
)


@dataclass(frozen=True)
class ImportedModel:
    """What `import_model` wrote and how far the compiled model is from the original."""

    artifact: Artifact
    n_checked: int
    max_difference: float


def written_by_us(path: str | Path) -> bool:
    """Whether `path` is the model.joblib of one of our artifacts, pinned by the manifest beside it."""
    path = Path(path)
    manifest_path = path.parent / MANIFEST_FILE
    if path.name != PIPELINE_FILE or not manifest_path.is_file():
        return False
    try:
        listed = json.loads(manifest_path.read_text(encoding="utf-8"))["files"][PIPELINE_FILE]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return listed == sha256_file(path)


def parity_sample(spec: dict[str, Any], *, extra: Sequence[str] = (), per_message: int = 40) -> list[str]:
    """Messages that exercise every term of the compiled vectorizer, plus the built-in ones and `extra`.

    Terms are joined `per_message` at a time in vocabulary order, each group twice (as is, and upper-cased),
    so every weight, its idf and the tf and normalisation arithmetic are all compared.
    """
    terms = [term for vectorizer in spec["vectorizers"] for term in vectorizer["terms"]]
    groups = [" ".join(terms[start : start + per_message]) for start in range(0, len(terms), per_message)]
    return [*_BUILT_IN_SAMPLE, *groups, *(group.upper() + " " + group for group in groups), *extra]


def import_model(
    path: str | Path,
    out: str | Path,
    *,
    vectorizer_path: str | Path | None = None,
    trust: bool = False,
    spam_label: str | None = None,
    corpus: Corpus | None = None,
) -> ImportedModel:
    """Load a scikit-learn model, compile it, prove parity on built-in messages and `corpus`, write `out`.

    With a `corpus`, the manifest's metrics are the compiled model's on it, at its 0.5 threshold.
    Raises ConfigurationError without `trust` for a pickle we did not write, CompileError for anything
    the scorer cannot reproduce exactly, including a failed parity check; nothing is written then.
    """
    sources = [Path(path), *([Path(vectorizer_path)] if vectorizer_path is not None else [])]
    untrusted = [str(source) for source in sources if not written_by_us(source)]
    if untrusted and not trust:
        raise ConfigurationError(
            f"loading {', '.join(untrusted)} unpickles it, which runs any code it holds; pass --trust only "
            "if you trust where it came from"
        )
    import joblib

    estimator = joblib.load(sources[0])
    vectorizer = joblib.load(sources[1]) if vectorizer_path is not None else None
    spec = compile_imported(estimator, vectorizer=vectorizer, spam_label=spam_label)
    messages = parity_sample(spec, extra=corpus.messages if corpus is not None else ())
    n_checked, difference = _check_parity(estimator, vectorizer, spec, messages, spam_label)
    pipeline = estimator if vectorizer is None else _two_file_pipeline(vectorizer, estimator)
    manifest = {
        "model_kind": "imported",
        "imported": {
            "source_files": {source.name: {"sha256": sha256_file(source), "bytes": source.stat().st_size}
                             for source in sources},
            "steps": [f"{name}: {type(step).__name__}" for name, step in pipeline.steps],
            "spam_label": spam_label,
            "parity": {"messages": n_checked, "max_abs_difference": difference, "tolerance": PARITY_TOLERANCE},
        },
        "metrics": _evaluate(spec, corpus) if corpus is not None else {},
        "libraries": _libraries(),
        "platform": sys.platform,
    }
    import io

    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    artifact = write_artifact(out, model=spec, manifest=manifest, extra_files={PIPELINE_FILE: buffer.getvalue()})
    return ImportedModel(artifact, n_checked, difference)


def _check_parity(estimator: Any, vectorizer: Any, spec: dict[str, Any], messages: list[str],
                  spam_label: str | None) -> tuple[int, float]:
    """(messages compared, max |difference|); CompileError if any spam probability differs by more than the bar."""
    import numpy as np

    classifier = estimator if vectorizer is not None else estimator.steps[-1][1]
    column = spam_class_index([c.item() if hasattr(c, "item") else c for c in classifier.classes_], spam_label)
    features = messages if vectorizer is None else vectorizer.transform(messages)
    expected = np.asarray(estimator.predict_proba(features))[:, column]
    model = Model(Artifact(manifest={"version": "parity-check"}, model=spec, files={}))
    actual = np.asarray(model.predict_proba(messages))
    differences = np.abs(actual - expected)
    worst = int(np.argmax(differences))
    if differences[worst] > PARITY_TOLERANCE:
        raise CompileError(
            f"the compiled model differs from scikit-learn's predict_proba by {differences[worst]:.3g} "
            f"(> {PARITY_TOLERANCE}) on message {worst} ({messages[worst][:60]!r}); nothing was written"
        )
    return len(messages), float(differences[worst])


def _evaluate(spec: dict[str, Any], corpus: Corpus) -> dict[str, Any]:
    """The compiled model's metrics on `corpus` (what serving it would score), via `evaluate.metrics`."""
    from .evaluate import metrics

    scores = Model(Artifact(manifest={"version": "evaluation"}, model=spec, files={})).score(corpus.messages)
    found = metrics(corpus.labels, [row.spam_probability for row in scores], [row.label for row in scores])
    return {"protocol": f"evaluated at import on {', '.join(corpus.sources)} (it may overlap the training data)",
            "n": len(corpus.messages), "n_spam": corpus.n_spam, **found}


def _two_file_pipeline(vectorizer: Any, classifier: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("vectorizer", vectorizer), ("classifier", classifier)])


def _libraries() -> dict[str, str]:
    libraries = {name: package_version(name) for name in ("scikit-learn", "numpy", "scipy", "joblib")}
    libraries["python"] = platform.python_version()
    libraries["spam-classifier"] = package_version("spam-classifier")
    return libraries
