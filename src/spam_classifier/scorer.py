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
import operator
import os
import re
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from itertools import chain
from operator import itemgetter
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
    """One compiled TfidfVectorizer: a term index, idf and weights, and a counter of in-vocabulary terms."""

    def __init__(self, spec: dict[str, Any]) -> None:
        terms, idf, weights = spec["terms"], _float_array(spec["idf"]), _float_array(spec["weights"])
        if not len(terms) == len(idf) == len(weights):
            raise ArtifactError("model.json: a vectorizer's terms, idf and weights differ in length")
        # Per term, idf * weight and idf ** 2 in float lists (faster to index than arrays or a dict of
        # tuples), so that a text's score is two sums over its counted terms, each computed in C.
        self._idf_weight: list[float] = list(map(operator.mul, idf, weights))
        self._idf_squared: list[float] = list(map(operator.mul, idf, idf))
        sublinear = bool(spec["sublinear_tf"])
        self._tf, self._tf_squared = _TermFrequency(sublinear), _TermFrequency(sublinear, squared=True)
        self._l2 = spec["norm"] == "l2"
        self._binary = bool(spec.get("binary", False))
        index = dict(zip(terms, range(len(terms))))  # noqa: B905 - checked
        self._count: Callable[[str], Any] = _build_counter(spec, index, distinct=self._binary)

    def contribution(self, text: str) -> float:
        """sum(tfidf * weight) for one preprocessed text.

        scikit-learn's (tf * idf / norm) * weight, regrouped as tf * (idf * weight) / norm: equal up to
        rounding (about 1e-16 relative), and it lets `map` run the per-term loop in C. A binary
        vectorizer's tf is 1 for every term present.
        """
        counts = self._count(text)
        terms = _picker(counts)
        if self._binary:
            dot = sum(terms(self._idf_weight))
            squares = sum(terms(self._idf_squared)) if self._l2 else 0.0
        else:
            tfs = _picker(counts.values())
            dot = sum(map(operator.mul, tfs(self._tf), terms(self._idf_weight)))
            if not self._l2:
                return dot
            squares = sum(map(operator.mul, tfs(self._tf_squared), terms(self._idf_squared)))
        return dot / math.sqrt(squares) if squares > 0.0 else dot


def _picker(keys: Collection[int]) -> Callable[[Any], Sequence[float]]:
    """table -> ``table[key]`` for each key, looked up in C: `itemgetter` (a fifth faster than `map`
    over ``__getitem__``), whose single key would return the bare value rather than a 1-tuple."""
    if len(keys) > 1:
        return itemgetter(*keys)
    return lambda table: [table[key] for key in keys]


class _TermFrequency(dict[int, float]):
    """count -> tf (or tf ** 2), memoised: 1 + log(count) with sublinear tf, else count."""

    def __init__(self, sublinear: bool, *, squared: bool = False) -> None:
        super().__init__()
        self._sublinear, self._squared = sublinear, squared

    def __missing__(self, count: int) -> float:
        tf = 1.0 + math.log(count) if self._sublinear else float(count)
        if self._squared:
            tf *= tf
        if len(self) < 100_000:  # counts are bounded by the text length; this only bounds memory
            self[count] = tf
        return tf


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


#: The char_wb memo keeps at most this many words, each at most `_MEMO_WORD_CHARS` long, then starts
#: over: about 30 MB when full of made-up 32-letter words (measured: 11.9 MB for 20,000), however
#: hostile the traffic. A SpamAssassin test fold has 47,000 distinct words of that length; at 10,000
#: the memo started over every 150 emails and recomputing words took a third of the scoring time.
_MEMO_WORDS = 50_000
_MEMO_WORD_CHARS = 32
#: The n-gram slices of every padded word length up to this are kept (5.8 MB). Making a word's slices
#: takes as long as looking its n-grams up, and a SpamAssassin email has about five words of 33-128
#: characters (links, base64, text without spaces) that the memo does not keep: A/B on its test fold,
#: mean 5.12 -> 4.79 ms per email with the memo cold, p99 25.8 -> 22.9 ms warm.
_SPAN_WORD_CHARS = 128


def _build_counter(spec: dict[str, Any], index: dict[str, int], *,
                   distinct: bool = False) -> Callable[[str], Counter[int] | set[int]]:
    """text -> {term index: count} over the in-vocabulary terms `_build_analyzer` would produce.

    With `distinct`, the set of those term indexes (all a binary vectorizer needs). The counting itself
    runs in C (`Counter` or `set` over `map`/`chain`): a Python loop per n-gram is what made long emails
    slow. char_wb n-grams never cross a word, so each distinct word's in-vocabulary n-grams are computed
    once and memoised; a text is then the concatenation of its words' n-grams.
    """
    collect: Callable[[Iterable[int | None]], Counter[int] | set[int]] = set if distinct else Counter
    if spec["analyzer"] == "char_wb":
        lowercase = bool(spec["lowercase"])
        lookup = _WordGramMemo(*spec["ngram_range"], index).__getitem__

        def count_char_wb(text: str) -> Counter[int] | set[int]:
            return collect(chain.from_iterable(map(lookup, (text.lower() if lowercase else text).split())))

        return count_char_wb
    analyze, get = _build_analyzer(spec), index.get

    def count_words(text: str) -> Counter[int] | set[int]:
        terms: Any = collect(map(get, analyze(text)))
        if distinct:  # None: the out-of-vocabulary terms
            terms.discard(None)
        else:
            terms.pop(None, None)
        return terms

    return count_words


class _WordGramMemo(dict[str, tuple[int, ...]]):
    """word -> the term indexes of its in-vocabulary char_wb n-grams, computed on first sight (bounded)."""

    def __init__(self, low: int, high: int, index: dict[str, int]) -> None:
        super().__init__()
        self._low, self._high = low, high
        self._get = index.get
        self._spans: dict[int, list[slice]] = {}  # padded word length -> its n-gram slices

    def __missing__(self, word: str) -> tuple[int, ...]:
        padded = f" {word} "
        spans = self._spans.get(len(padded))
        if spans is None:
            spans = _char_wb_spans(self._low, self._high, len(padded))
            if len(word) <= _SPAN_WORD_CHARS:
                self._spans[len(padded)] = spans
        ids = tuple([i for i in map(self._get, map(padded.__getitem__, spans)) if i is not None])
        if len(word) <= _MEMO_WORD_CHARS:
            if len(self) >= _MEMO_WORDS:
                self.clear()
            self[word] = ids
        return ids


def _char_wb_spans(low: int, high: int, length: int) -> list[slice]:
    """The slices of a padded word of `length` characters that scikit-learn's _char_wb_ngrams yields.

    n-grams shorter than the padded word are every slice of that length; once n reaches the padded
    length the whole word counts once and longer n-grams are skipped.
    """
    spans: list[slice] = []
    for n in range(low, high + 1):
        if n >= length:
            spans.append(slice(0, length))
            break
        spans += [slice(start, start + n) for start in range(length - n + 1)]
    return spans


def _char_wb_word_grams(low: int, high: int) -> Callable[[str], list[str]]:
    """One word's char_wb n-grams, as scikit-learn's _char_wb_ngrams yields them for that word."""

    def word_grams(word: str) -> list[str]:
        padded = f" {word} "
        return list(map(padded.__getitem__, _char_wb_spans(low, high, len(padded))))

    return word_grams


def _build_analyzer(spec: dict[str, Any]) -> Callable[[str], list[str]]:
    """text -> the terms scikit-learn's analyzer of this vectorizer yields (tests compare the two)."""
    lowercase = bool(spec["lowercase"])
    low, high = spec["ngram_range"]
    if spec["analyzer"] == "char_wb":
        word_grams = _char_wb_word_grams(low, high)

        def char_wb(text: str) -> list[str]:
            # what sklearn's white-space folding followed by split() yields, word by word
            return list(chain.from_iterable(map(word_grams, (text.lower() if lowercase else text).split())))

        return char_wb
    if spec["analyzer"] == "word":
        token_pattern = re.compile(spec["token_pattern"])
        stop_words = frozenset(spec.get("stop_words") or ())

        def word(text: str) -> list[str]:
            if lowercase:
                text = text.lower()
            tokens = token_pattern.findall(text)
            if stop_words:
                tokens = [token for token in tokens if token not in stop_words]
            if high == 1:
                return tokens
            grams = list(tokens) if low == 1 else []
            for n in range(max(low, 2), min(high, len(tokens)) + 1):
                grams.extend(map(" ".join, zip(*(tokens[k:] for k in range(n)), strict=False)))
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
            channel = message_channel(message, format=format)  # once: deciding it scans the header block
            text = preprocess(message, format=channel) if self._preprocess else message
            probability = self._probability(text)
            threshold = self.thresholds[channel]
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
    """Load and verify the model at `path` (by default, the model shipped in the package).

    `path` is an artifact directory or a model URI: ``store@alias``, ``s3://bucket/prefix@version``,
    ``hf://owner/repo[@revision]`` (the store modules load only for a URI).
    """
    if isinstance(path, str) and ("://" in path or "@" in path):
        from .source import fetch_artifact  # source imports this module

        return Model(fetch_artifact(path))
    return Model(read_artifact(DEFAULT_MODEL_DIR if path is None else path))


def _check_messages(messages: Iterable[str]) -> list[str]:
    if isinstance(messages, (str, bytes)):
        raise TypeError("messages must be a list of strings, not a single string; wrap it: [message]")
    checked = list(messages)
    for message in checked:
        if not isinstance(message, str):
            raise TypeError(f"each message must be a str, not {type(message).__name__}")
    return checked
