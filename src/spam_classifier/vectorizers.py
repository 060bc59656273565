"""The default model's TF-IDF vectorizers, and counting their n-grams once for many fits.

Training fits the feature step many times on overlapping rows: once per CV fold and once on all the
data, and cross-corpus evaluation does that again for every left-out corpus. Counting n-grams is
nearly all of that cost, and a message's counts do not depend on which rows a fit sees. So
`count_texts` counts every message once, and a `CountedTexts` (or a row subset of one) given to
these vectorizers' `fit_transform` or `transform` stands for the texts themselves: its counts go
through scikit-learn's own sorting, min_df/max_features and tf-idf, so the fitted vectorizer and its
matrix are the ones the texts would give (tests compare them). Fitted, they are TfidfVectorizers
like any other: the compiler, the scorer and `model.joblib` see no difference.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

try:  # what scikit-learn's own _count_vocab returns its matrix through (sparse array or matrix, as configured)
    from sklearn.utils._sparse import _align_api_if_sparse
except ImportError:  # scikit-learn < 1.9 returns a csr_matrix
    _align_api_if_sparse = sp.csr_matrix

__all__ = ["CountedTexts", "PrecountableTfidfVectorizer", "WordGramTfidfVectorizer", "count_texts"]

#: Parameters that act after counting (which terms to keep, how to weigh them): fits that differ only
#: in these share one count.
_AFTER_COUNTING = frozenset({"min_df", "max_df", "max_features", "norm", "use_idf", "smooth_idf", "sublinear_tf",
                             "dtype"})


def _counting_key(vectorizer: CountVectorizer) -> str:
    return repr(sorted((name, value) for name, value in vectorizer.get_params().items()
                       if name not in _AFTER_COUNTING))


class CountedTexts:
    """Texts whose n-grams are counted once per vectorizer, standing for them in fits and transforms.

    Index it like a numpy array (`counted[train]`) to get the same counts for a subset of the rows.
    """

    def __init__(self, counts: dict[str, tuple[np.ndarray, Any]], rows: np.ndarray | None = None) -> None:
        #: Per counting key: every term of the texts (alphabetical, as scikit-learn sorts) and the count matrix.
        self._counts = counts
        self._rows = rows

    def __len__(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        return next(iter(self._counts.values()))[1].shape[0]

    def __getitem__(self, rows: Any) -> CountedTexts:
        index = np.arange(len(self))[rows]
        return CountedTexts(self._counts, index if self._rows is None else self._rows[index])

    @classmethod
    def stack(cls, parts: Sequence[CountedTexts]) -> CountedTexts:
        """The rows of `parts` one after another, as if their texts had been counted together.

        Exactly so where `count_texts` cut no term (min_df=1); with a larger min_df, a term that reaches
        it only across parts was cut from each and stays out.
        """
        counts = {}
        for key in parts[0]._counts:
            pieces = [part._counted(key) for part in parts]
            terms = pieces[0][0]
            for other, _ in pieces[1:]:
                terms = np.union1d(terms, other)
            matrices = []
            for own_terms, matrix in pieces:
                column = np.searchsorted(terms, own_terms)  # both sorted: the remapped rows stay sorted
                matrices.append(sp.csr_matrix((matrix.data, column[matrix.indices], matrix.indptr),
                                              shape=(matrix.shape[0], len(terms))))
            counts[key] = (terms.astype(object), sp.vstack(matrices, format="csr"))
        return cls(counts)

    def _counted(self, key: str) -> tuple[np.ndarray, Any]:
        terms, matrix = self._counts[key]
        return terms, sp.csr_matrix(matrix if self._rows is None else matrix[self._rows])

    def vocabulary_and_counts(self, vectorizer: CountVectorizer,
                              vocabulary: dict[str, int] | None) -> tuple[dict[str, int], Any]:
        """What `vectorizer._count_vocab` returns for these texts: fitting (no vocabulary) or transforming."""
        try:
            terms, matrix = self._counts[_counting_key(vectorizer)]
        except KeyError:
            raise ValueError("these texts were counted for vectorizers with other counting parameters") from None
        if self._rows is not None:
            matrix = matrix[self._rows]
        if vocabulary is None:
            present = np.flatnonzero(np.bincount(matrix.indices, minlength=matrix.shape[1]))
            return dict(zip(terms[present].tolist(), range(len(present)), strict=True)), matrix[:, present]
        wanted = np.asarray(sorted(vocabulary, key=vocabulary.__getitem__), dtype=object)
        columns = np.searchsorted(terms, wanted)
        if np.any(columns >= len(terms)) or np.any(terms[np.minimum(columns, len(terms) - 1)] != wanted):
            raise ValueError("the vocabulary holds terms these texts were not counted for")
        return vocabulary, matrix[:, columns]


class PrecountableTfidfVectorizer(TfidfVectorizer):
    """A TfidfVectorizer that also accepts `CountedTexts` wherever it takes raw documents."""

    def _count_vocab(self, raw_documents: Any, fixed_vocab: bool) -> tuple[dict[str, int], Any]:
        if isinstance(raw_documents, CountedTexts):
            vocabulary, matrix = raw_documents.vocabulary_and_counts(self, self.vocabulary_ if fixed_vocab else None)
            return vocabulary, _align_api_if_sparse(sp.csr_matrix(matrix, dtype=self.dtype))
        return super()._count_vocab(raw_documents, fixed_vocab)


class WordGramTfidfVectorizer(PrecountableTfidfVectorizer):
    """A TfidfVectorizer whose char_wb counting works word by word: the same matrix, several times faster.

    char_wb n-grams never cross a word, so a document's counts are its distinct words' n-grams times
    how often each word occurs, and a word's n-grams need computing once per fit, not once per
    occurrence; the counting itself runs in C (`Counter.update`). scikit-learn counts n-gram by
    n-gram in Python, which made fitting on a few thousand emails take minutes. Parameters, fitted
    attributes and results are TfidfVectorizer's (tests compare the two), so the compiler and the
    scorer treat it as one.
    """

    _MEMO_WORDS = 200_000  # distinct words whose term indexes are kept per call: tens of MB at most
    _MEMO_WORD_CHARS = 40

    def _count_vocab(self, raw_documents: Iterable[Any], fixed_vocab: bool) -> tuple[dict[str, int], Any]:
        plain = self.preprocessor is None and self.tokenizer is None and self.strip_accents is None
        if isinstance(raw_documents, CountedTexts) or self.analyzer != "char_wb" or not plain:
            return super()._count_vocab(raw_documents, fixed_vocab)
        vocabulary: Any = self.vocabulary_ if fixed_vocab else defaultdict()
        if not fixed_vocab:
            vocabulary.default_factory = vocabulary.__len__
        low, high = self.ngram_range
        memo: dict[str, list[int]] = {}
        j_indices: list[int] = []
        indptr = [0]
        values = array("i")
        for raw in raw_documents:
            doc = self.decode(raw)
            counts: Counter[int] = Counter()
            for word, times in Counter((doc.lower() if self.lowercase else doc).split()).items():
                indexes = memo.get(word)
                if indexes is None:
                    grams = _char_wb_grams(word, low, high)
                    indexes = ([vocabulary[gram] for gram in grams if gram in vocabulary] if fixed_vocab
                               else [vocabulary[gram] for gram in grams])
                    if len(word) <= self._MEMO_WORD_CHARS:
                        if len(memo) >= self._MEMO_WORDS:
                            memo.clear()
                        memo[word] = indexes
                counts.update(indexes if times == 1 else indexes * times)
            j_indices.extend(counts.keys())
            values.extend(counts.values())
            indptr.append(len(j_indices))
        if not fixed_vocab:
            vocabulary = dict(vocabulary)
            if not vocabulary:
                raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        index_type = np.int64 if indptr[-1] > np.iinfo(np.int32).max else np.int32
        matrix = sp.csr_array((np.frombuffer(values, dtype=np.intc), np.asarray(j_indices, dtype=index_type),
                               np.asarray(indptr, dtype=index_type)),
                              shape=(len(indptr) - 1, len(vocabulary)), dtype=self.dtype)
        matrix.sort_indices()
        return vocabulary, _align_api_if_sparse(matrix)


def _char_wb_grams(word: str, low: int, high: int) -> list[str]:
    """scikit-learn's char_wb n-grams of one word, in its order (`_VectorizerMixin._char_wb_ngrams`)."""
    padded = f" {word} "
    length = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if n >= length:  # the padded word is shorter than n: counted once, whole, and no longer n-grams
            grams.append(padded)
            break
        grams += [padded[start : start + n] for start in range(length - n + 1)]
    return grams


def count_texts(texts: Sequence[str], vectorizers: Iterable[PrecountableTfidfVectorizer]) -> CountedTexts:
    """Count the n-grams of `texts` once for each of `vectorizers` (unfitted; they are not changed).

    Terms in fewer documents than a vectorizer's integer min_df can never be kept by a fit on a subset
    of the texts, so they are dropped here already: that keeps the counts to a fraction of all n-grams.
    """
    counts = {}
    for vectorizer in vectorizers:
        if not isinstance(vectorizer, PrecountableTfidfVectorizer):
            raise TypeError(f"cannot count texts for a {type(vectorizer).__name__}")
        key = _counting_key(vectorizer)
        if key in counts:
            continue
        min_df = vectorizer.min_df if isinstance(vectorizer.min_df, Integral) else 1
        counter = clone(vectorizer).set_params(min_df=min_df, max_df=1.0, max_features=None)
        matrix = CountVectorizer.fit_transform(counter, texts)  # the counts, not tf-idf
        terms = np.empty(len(counter.vocabulary_), dtype=object)
        for term, column in counter.vocabulary_.items():
            terms[column] = term
        counts[key] = (terms, sp.csr_matrix(matrix))
    return CountedTexts(counts)
