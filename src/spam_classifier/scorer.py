"""The runtime scorer: a compiled model evaluated in plain Python.

It reproduces, operation for operation, what the fitted scikit-learn pipeline computes:

    preprocess -> for each vectorizer: analyze, count, (1 + log tf), * idf, l2-normalise
               -> z = intercept + sum(tfidf * weight)  ->  spam_probability = 1 / (1 + exp(-z))

Multinomial Naive Bayes compiles to the same linear form (weight = log P(term|spam) - log P(term|ham)).
Only the standard library is imported, so loading it costs a few milliseconds, not scikit-learn's second.
"""

from __future__ import annotations

import base64
import math
import os
import re
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

from .artifact import Artifact, read_artifact
from .errors import ArtifactError
from .preprocess import CHANNELS, Channel, MessageFormat, message_channel, preprocess

__all__ = ["DEFAULT_MODEL_DIR", "Label", "Model", "Prediction", "load_model"]

Label = Literal["ham", "spam"]

#: The model that ships inside the package, used when no path is given.
DEFAULT_MODEL_DIR = Path(__file__).parent / "models" / "default"


class _Vectorizer:
    """One compiled TfidfVectorizer: its analyzer plus ``{term: (idf, weight)}``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        terms, idf, weights = spec["terms"], _float_array(spec["idf"]), _float_array(spec["weights"])
        if not len(terms) == len(idf) == len(weights):
            raise ArtifactError("model.json: a vectorizer's terms, idf and weights differ in length")
        self._table: dict[str, tuple[float, float]] = dict(zip(terms, zip(idf, weights)))  # noqa: B905 - checked
        self._sublinear_tf = bool(spec["sublinear_tf"])
        self._l2 = spec["norm"] == "l2"
        self._analyze = _build_analyzer(spec)

    def contribution(self, text: str) -> float:
        """sum(tfidf * weight) for one preprocessed text."""
        get = self._table.get
        sublinear = self._sublinear_tf
        dot = squares = 0.0
        for term, count in Counter(self._analyze(text)).items():
            entry = get(term)
            if entry is None:
                continue
            idf, weight = entry
            # count 1 is the common case, and its tf is exactly 1.0 with or without sublinear tf
            value = idf if count == 1 else (1.0 + math.log(count) if sublinear else float(count)) * idf
            dot += value * weight
            squares += value * value
        if self._l2 and squares > 0.0:
            return dot / math.sqrt(squares)
        return dot


def _float_array(encoded: str) -> array:
    """Decode the compiler's base64 little-endian float64 array."""
    values = array("d")
    try:
        values.frombytes(base64.b64decode(encoded, validate=True))
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"model.json: a float array is not valid base64 float64 data: {exc}") from None
    if sys.byteorder != "little":
        values.byteswap()
    return values


def _build_analyzer(spec: dict[str, Any]) -> Callable[[str], list[str]]:
    lowercase = bool(spec["lowercase"])
    low, high = spec["ngram_range"]
    if spec["analyzer"] == "char_wb":

        def char_wb(text: str) -> list[str]:
            # scikit-learn's _char_wb_ngrams, statement for statement (tests compare the two).
            if lowercase:
                text = text.lower()
            grams: list[str] = []
            append = grams.append
            for word in text.split():  # what sklearn's white-space folding followed by split() yields
                word = f" {word} "
                length = len(word)
                for n in range(low, high + 1):
                    offset = 0
                    append(word[offset : offset + n])
                    while offset + n < length:
                        offset += 1
                        append(word[offset : offset + n])
                    if offset == 0:  # a word shorter than n counts once, as scikit-learn does
                        break
            return grams

        return char_wb
    if spec["analyzer"] == "word":
        token_pattern = re.compile(spec["token_pattern"])
        stop_words = frozenset(spec.get("stop_words") or ())

        def word(text: str) -> list[str]:
            if lowercase:
                text = text.lower()
            tokens = [token for token in token_pattern.findall(text) if token not in stop_words]
            if high == 1:
                return tokens
            grams = list(tokens) if low == 1 else []
            for n in range(max(low, 2), min(high, len(tokens)) + 1):
                grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
            return grams

        return word
    raise ArtifactError(f"model.json: unknown analyzer {spec['analyzer']!r}")


class Prediction(NamedTuple):
    """One message's verdict: the label, the spam probability and the threshold that decided it."""

    label: Label
    spam_probability: float
    threshold: float


class Model:
    """A loaded, verified spam model.

    Text (SMS) and email each have a threshold of their own (`thresholds`), chosen in training for
    the same target ham false-positive rate; a message's channel is decided as preprocessing reads it.

    >>> model = load_model()
    >>> model.predict(["WINNER!! Claim your free iPhone now", "See you at lunch tomorrow?"])
    ['spam', 'ham']
    """

    def __init__(self, artifact: Artifact) -> None:
        spec = artifact.model
        try:
            self._vectorizers = [_Vectorizer(vectorizer) for vectorizer in spec["vectorizers"]]
            self._intercept = float(spec["intercept"])
            raw = spec["thresholds"] if "thresholds" in spec else dict.fromkeys(CHANNELS, spec["threshold"])
            self.thresholds: dict[str, float] = {channel: float(raw[channel]) for channel in CHANNELS}
            self._preprocess = bool(spec.get("preprocess", True))
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"model.json is malformed: {type(exc).__name__}: {exc}") from None
        for channel, threshold in self.thresholds.items():
            if not 0.0 <= threshold <= 1.0:
                raise ArtifactError(f"model.json: {channel} threshold {threshold!r} is not a probability")
        self.manifest: dict[str, Any] = artifact.manifest
        self.version: str = artifact.version
        self.kind: str = str(spec.get("kind", "unknown"))

    @property
    def threshold(self) -> float:
        """The threshold for plain text (SMS); emails use ``thresholds["email"]``."""
        return self.thresholds["text"]

    def score(self, messages: Sequence[str], *, format: MessageFormat = "auto") -> list[Prediction]:
        """Label, spam probability and deciding threshold for each message."""
        predictions = []
        for message in _check_messages(messages):
            text = preprocess(message, format=format) if self._preprocess else message
            probability = self._probability(text)
            threshold = self.thresholds[message_channel(message, format=format)]
            predictions.append(Prediction("spam" if probability >= threshold else "ham", probability, threshold))
        return predictions

    def predict_proba(self, messages: Sequence[str], *, format: MessageFormat = "auto") -> list[float]:
        """The spam probability of each message."""
        if not self._preprocess:  # the seed model reads raw text, as the article's pipeline does
            return [self._probability(message) for message in _check_messages(messages)]
        return [self._probability(preprocess(message, format=format)) for message in _check_messages(messages)]

    def predict(self, messages: Sequence[str], *, format: MessageFormat = "auto") -> list[Label]:
        """``"spam"`` or ``"ham"`` for each message, at its channel's stored threshold."""
        return [prediction.label for prediction in self.score(messages, format=format)]

    def label(self, spam_probability: float, *, channel: Channel = "text") -> Label:
        """The label a probability gets in `channel`."""
        return "spam" if spam_probability >= self.thresholds[channel] else "ham"

    def _probability(self, text: str) -> float:
        z = self._intercept
        for vectorizer in self._vectorizers:
            z += vectorizer.contribution(text)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def __repr__(self) -> str:
        thresholds = ", ".join(f"{channel}={value:.6g}" for channel, value in self.thresholds.items())
        return f"<Model {self.kind} version={self.version!r} thresholds({thresholds})>"


def load_model(path: str | os.PathLike[str] | None = None) -> Model:
    """Load and verify the artifact directory at `path` (by default, the model shipped in the package)."""
    return Model(read_artifact(DEFAULT_MODEL_DIR if path is None else path))


def _check_messages(messages: Iterable[str]) -> list[str]:
    if isinstance(messages, (str, bytes)):
        raise TypeError("messages must be a list of strings, not a single string; wrap it: [message]")
    checked = list(messages)
    for message in checked:
        if not isinstance(message, str):
            raise TypeError(f"each message must be a str, not {type(message).__name__}")
    return checked
