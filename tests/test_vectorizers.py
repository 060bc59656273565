"""vectorizers.py: the default model's vectorizers give scikit-learn's results, counted texts or not."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer

from conftest import HAM_DOCS, SPAM_DOCS
from spam_classifier.corpora import load_corpus
from spam_classifier.preprocess import preprocess_messages
from spam_classifier.train import build_pipeline
from spam_classifier.vectorizers import CountedTexts, PrecountableTfidfVectorizer, WordGramTfidfVectorizer, count_texts

_DOCS = [
    *HAM_DOCS, *SPAM_DOCS, "", "a", "  x \t y\n\nz  ", "ÄÖÜ straße ÉCOLE", "win win win WIN win", "x" * 300,
    "http://www.free-prizes.example.com/claim?id=123 zurl free-prizes.example.com", "£1000 cash!!! £1000",
]


@pytest.mark.parametrize("options", [
    {"ngram_range": (1, 5)},
    {"ngram_range": (2, 4), "lowercase": False},
    {"ngram_range": (1, 5), "sublinear_tf": True, "min_df": 2, "max_features": 40},
    {"ngram_range": (1, 5), "binary": True, "sublinear_tf": True, "min_df": 2, "max_features": 40},
])
def test_word_gram_vectorizer_equals_scikit_learns_char_wb(options: dict) -> None:
    ours, theirs = (cls(analyzer="char_wb", **options) for cls in (WordGramTfidfVectorizer, TfidfVectorizer))
    ours_matrix, theirs_matrix = ours.fit_transform(_DOCS), theirs.fit_transform(_DOCS)
    assert ours.vocabulary_ == theirs.vocabulary_
    assert np.array_equal(ours.idf_, theirs.idf_)
    assert abs(ours_matrix - theirs_matrix).max() == 0.0
    unseen = ["brand new words here", "win a prize", ""]
    assert abs(ours.transform(unseen) - theirs.transform(unseen)).max() == 0.0


def test_word_gram_vectorizer_leaves_word_analysis_to_scikit_learn() -> None:
    ours, theirs = WordGramTfidfVectorizer(ngram_range=(1, 2)), TfidfVectorizer(ngram_range=(1, 2))
    assert abs(ours.fit_transform(_DOCS) - theirs.fit_transform(_DOCS)).max() == 0.0



@pytest.fixture(scope="module")
def texts() -> np.ndarray:
    """Real messages as the default model reads them: SMS, and emails of SpamAssassin (long, HTML, headers)."""
    sms = [message for message, _ in load_corpus("sms")[:1500]]
    emails = [message for message, _ in load_corpus("spamassassin")[::40]]
    return np.asarray(preprocess_messages([*sms, *emails, *_DOCS]), dtype=object)


#: The matrices may differ in the last bits: scikit-learn sums a row's squares for the L2 norm in the
#: order it stored the row's terms, which its own term sorting leaves unsorted.
_ROUNDING = 1e-14


def _assert_same_fit(counted_fit: TfidfVectorizer, text_fit: TfidfVectorizer, counted_matrix, text_matrix) -> None:
    assert counted_fit.vocabulary_ == text_fit.vocabulary_
    assert np.array_equal(counted_fit.idf_, text_fit.idf_)
    assert counted_matrix.shape == text_matrix.shape and abs(counted_matrix - text_matrix).max() <= _ROUNDING


@pytest.mark.parametrize("vectorizer", [
    PrecountableTfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=3_000),
    WordGramTfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, min_df=2, max_features=5_000),
    WordGramTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), min_df=3),
    WordGramTfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), binary=True, min_df=2, max_features=5_000),
], ids=["words", "chars", "chars-min-df-3", "chars-binary"])
def test_a_fit_on_counted_rows_is_the_fit_on_their_texts(vectorizer, texts) -> None:
    counted = count_texts(texts, [vectorizer])
    rng = np.random.default_rng(0)
    for rows in (rng.random(len(texts)) < 0.67, np.flatnonzero(rng.random(len(texts)) < 0.5), slice(None, -300)):
        on_counts, on_texts = clone(vectorizer), clone(vectorizer)
        matrices = on_counts.fit_transform(counted[rows]), on_texts.fit_transform(texts[rows])
        _assert_same_fit(on_counts, on_texts, *matrices)
        others = np.setdiff1d(np.arange(len(texts)), np.arange(len(texts))[rows])[:300]
        assert abs(on_counts.transform(counted[others]) - on_texts.transform(texts[others])).max() <= _ROUNDING
        assert abs(on_counts.transform(texts[others]) - on_texts.transform(texts[others])).max() == 0.0


def test_the_default_feature_union_fits_alike_on_counted_texts(texts) -> None:
    features = build_pipeline("default").named_steps["features"]
    parts = [part for _, part in features.transformer_list]
    counted = count_texts(texts, parts)
    rows = np.arange(len(texts)) % 3 != 0
    on_counts, on_texts = clone(features), clone(features)
    counted_matrix, text_matrix = on_counts.fit_transform(counted[rows]), on_texts.fit_transform(texts[rows])
    assert abs(counted_matrix - text_matrix).max() <= _ROUNDING
    for (_, ours), (_, theirs) in zip(on_counts.transformer_list, on_texts.transformer_list, strict=True):
        assert ours.vocabulary_ == theirs.vocabulary_
    assert abs(on_counts.transform(counted[~rows]) - on_texts.transform(texts[~rows])).max() <= _ROUNDING


@pytest.mark.parametrize("vectorizer", [
    PrecountableTfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=3_000),
    WordGramTfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, max_features=5_000),
], ids=["words", "chars"])
def test_stacked_counts_are_the_counts_of_the_texts_together(vectorizer, texts) -> None:
    """Exact where no term is cut before fitting (min_df=1): each part keeps every term it has."""
    first, second = texts[::2][:400], texts[1::2][:300]  # counted apart: each has terms the other lacks
    stacked = CountedTexts.stack([count_texts(first, [vectorizer])[50:], count_texts(second, [vectorizer])])
    on_stack, on_texts = clone(vectorizer), clone(vectorizer)
    matrices = on_stack.fit_transform(stacked), on_texts.fit_transform(np.concatenate([first[50:], second]))
    _assert_same_fit(on_stack, on_texts, *matrices)


def test_counted_texts_refuse_what_they_were_not_counted_for(texts) -> None:
    counted = count_texts(texts[:200], [PrecountableTfidfVectorizer(min_df=2)])
    with pytest.raises(ValueError, match="other counting parameters"):
        PrecountableTfidfVectorizer(ngram_range=(1, 2)).fit_transform(counted)
    fitted = PrecountableTfidfVectorizer().fit(["a word nobody counted", *texts[:200]])
    with pytest.raises(ValueError, match="terms these texts were not counted for"):
        fitted.transform(counted)
    with pytest.raises(TypeError, match="TfidfVectorizer"):
        count_texts(texts[:10], [TfidfVectorizer()])
