"""scorer: Model from a compiled artifact: input checks, odd input, bad specs, exact arithmetic, sklearn parity."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import HAM_DOCS, SPAM_DOCS, encode_floats, heavy_modules, make_test_artifact, tiny_model_spec
from spam_classifier import scorer
from spam_classifier.artifact import write_artifact
from spam_classifier.errors import ArtifactError
from spam_classifier.scorer import Model, _build_analyzer, _WordGramMemo, load_model


def _model(tmp_path: Path, spec: dict[str, Any], *, name: str = "a") -> Model:
    return load_model(_write(tmp_path, spec, name=name))


def _write(tmp_path: Path, spec: dict[str, Any], *, name: str = "a") -> Path:
    write_artifact(tmp_path / name, model=spec, manifest={"version": "v1"})
    return tmp_path / name


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@pytest.fixture
def model(test_artifact_dir: Path) -> Model:
    return load_model(test_artifact_dir)


# --- predictions -------------------------------------------------------------------------------------------------


def test_model_predict_proba_separates_ham_from_spam(model: Model) -> None:
    ham, spam = model.predict_proba(HAM_DOCS), model.predict_proba(SPAM_DOCS)
    assert [p < 0.5 for p in ham] == [True] * len(HAM_DOCS)
    assert [p > 0.5 for p in spam] == [True] * len(SPAM_DOCS)


def test_model_predict_labels_ham_and_spam(model: Model) -> None:
    assert model.predict([*HAM_DOCS, *SPAM_DOCS]) == ["ham"] * len(HAM_DOCS) + ["spam"] * len(SPAM_DOCS)


def test_model_attributes_come_from_the_artifact(model: Model) -> None:
    assert (model.version, model.kind, model.threshold) == ("v1", "test", 0.5)
    assert model.manifest["model_kind"] == "test"
    assert repr(model) == "<Model test version='v1' thresholds(text=0.5, email=0.5)>"


def test_model_predict_proba_matches_a_hand_computed_probability(model: Model) -> None:
    # tokens (lowercased, 2+ word chars): free x2, prize x2, claim, your, now; only free/prize/claim are known
    tf_free = tf_prize = 1.0 + math.log(2)  # sublinear tf, idf 1
    tf_claim = 1.0
    dot = 3.0 * tf_free + 3.0 * tf_prize + 3.0 * tf_claim
    norm = math.sqrt(tf_free**2 + tf_prize**2 + tf_claim**2)
    expected = _sigmoid(-1.0 + dot / norm)
    [probability] = model.predict_proba(["Free prize! Claim your FREE prize now"])
    assert abs(probability - expected) <= 1e-12
    assert 0.98 < probability < 0.99


def test_model_predict_proba_of_one_known_term_is_its_weight(model: Model) -> None:
    # one term's l2-normalised tf-idf is 1 whatever its count: z = intercept + weight (a lone key is
    # also the scorer's special case of looking values up)
    assert model.predict_proba(["free", "FREE free free"]) == pytest.approx([_sigmoid(-1.0 + 3.0)] * 2, abs=1e-12)


def test_model_predict_proba_of_unknown_words_is_the_intercept(model: Model) -> None:
    assert model.predict_proba(["", "zzz qqq", "x"]) == [_sigmoid(-1.0)] * 3


def test_model_label_at_the_threshold_is_spam(model: Model) -> None:
    below = math.nextafter(0.5, 0.0)
    assert [model.label(p) for p in (0.5, below, 1.0, 0.0)] == ["spam", "ham", "spam", "ham"]


def test_model_predict_uses_the_stored_threshold_inclusively(tmp_path: Path) -> None:
    intercept_only = math.exp(-1.0) / (1.0 + math.exp(-1.0))  # the probability of a message with no known word
    at = _model(tmp_path, tiny_model_spec(threshold=intercept_only), name="at")
    above = _model(tmp_path, tiny_model_spec(threshold=math.nextafter(intercept_only, 1.0)), name="above")
    assert at.predict_proba(["nothing known"]) == [intercept_only]
    assert (at.predict(["nothing known"]), above.predict(["nothing known"])) == (["spam"], ["ham"])


def test_model_predict_proba_empty_list(model: Model) -> None:
    assert (model.predict_proba([]), model.predict([])) == ([], [])


def test_model_predict_proba_accepts_any_iterable_of_str(model: Model) -> None:
    expected = model.predict_proba(SPAM_DOCS)
    assert model.predict_proba(tuple(SPAM_DOCS)) == model.predict_proba(iter(SPAM_DOCS)) == expected


@pytest.mark.parametrize("messages", ["free prize", b"free prize"])
def test_model_predict_proba_refuses_a_bare_string(model: Model, messages: Any) -> None:
    with pytest.raises(TypeError, match=r"messages must be a list of strings, not a single string; wrap it"):
        model.predict_proba(messages)
    with pytest.raises(TypeError, match=r"not a single string"):
        model.predict(messages)


@pytest.mark.parametrize(("item", "type_name"), [(None, "NoneType"), (b"free", "bytes"), (3, "int"), (["x"], "list")])
def test_model_predict_proba_refuses_a_non_str_message(model: Model, item: object, type_name: str) -> None:
    with pytest.raises(TypeError, match=rf"^each message must be a str, not {type_name}$"):
        model.predict_proba(["fine", item])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("", id="empty"),
        pytest.param("free prize " * 100_000, id="1MB"),
        pytest.param("".join(map(chr, range(256))) * 50, id="binary-looking"),
        pytest.param("\x00\x01\x02\x7f\xff" * 1000, id="control-chars"),
        pytest.param("WIN 🎉🎉 free 💰 prize 🏆", id="emoji"),
        pytest.param("مجاني جائزة اربح الآن free", id="rtl"),
        pytest.param("fre\u0301e pri\u0308ze cla\u0300im", id="combining-marks"),
        pytest.param("free \ud800 prize \udfff", id="lone-surrogates"),
        pytest.param("\u202efree\u202c \u200bprize\ufeff", id="bidi-and-zero-width"),
        pytest.param("From: a@b.test\nSubject: \ud800\n\n\x00", id="email-with-junk"),
    ],
)
def test_model_predict_proba_on_odd_input_is_a_probability(model: Model, message: str) -> None:
    [probability] = model.predict_proba([message])
    assert 0.0 <= probability <= 1.0
    assert model.predict([message]) == [model.label(probability)]


def test_model_predict_proba_passes_format_through(model: Model) -> None:
    message = "Subject: lunch\nReceived: from win by mx.test\n\nfree"
    # as email: the subject "lunch" (-3) and the body "free" (+3); the Received: header is dropped
    # as text: every word, so "win" (+3) counts as well
    as_email = _sigmoid(-1.0 + (-3.0 + 3.0) / math.sqrt(2))
    as_text = _sigmoid(-1.0 + (-3.0 + 3.0 + 3.0) / math.sqrt(3))
    assert model.predict_proba([message] * 3, format="email") == [as_email] * 3
    assert model.predict_proba([message]) == [as_email]  # auto: it starts with a header block
    [probability] = model.predict_proba([message], format="text")
    assert abs(probability - as_text) <= 1e-12
    with pytest.raises(ValueError, match=r"format must be 'auto', 'text' or 'email', not 'mime'"):
        model.predict_proba([message], format="mime")  # type: ignore[arg-type]


# --- preprocess: false -------------------------------------------------------------------------------------------


def test_model_without_preprocess_reads_the_raw_text(tmp_path: Path) -> None:
    message = "&#102;ree &#112;rize"  # "free prize" once HTML entities are decoded
    with_preprocess = _model(tmp_path, tiny_model_spec(), name="with")
    without_preprocess = _model(tmp_path, {**tiny_model_spec(), "preprocess": False}, name="without")
    assert with_preprocess.predict_proba([message]) == [_sigmoid(-1.0 + 6.0 / math.sqrt(2))]
    assert without_preprocess.predict_proba([message]) == [_sigmoid(-1.0)]  # tokens 102, ree, 112, rize: unknown
    assert without_preprocess.predict_proba(["free prize"]) == with_preprocess.predict_proba(["free prize"])


# --- malformed model.json ----------------------------------------------------------------------------------------


def _vectorizer_change(**changes: Any) -> dict[str, Any]:
    spec = tiny_model_spec()
    spec["vectorizers"] = [{**spec["vectorizers"][0], **changes}]
    return spec


def _without(key: str) -> dict[str, Any]:
    spec = tiny_model_spec()
    del spec[key]
    return spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(_without("vectorizers"), r"^model\.json is malformed: KeyError: 'vectorizers'$", id="no-vect"),
        pytest.param(_without("intercept"), r"^model\.json is malformed: KeyError: 'intercept'$", id="no-intercept"),
        pytest.param(_without("threshold"), r"^model\.json is malformed: KeyError: 'threshold'$", id="no-threshold"),
        pytest.param({**tiny_model_spec(), "vectorizers": None}, r"malformed: TypeError", id="vectorizers-null"),
        pytest.param({**tiny_model_spec(), "intercept": "high"}, r"malformed: ValueError", id="intercept-text"),
        pytest.param(_vectorizer_change(idf=encode_floats([1.0])), r"idf and weights differ in length", id="short-idf"),
        pytest.param(
            _vectorizer_change(weights=encode_floats([])), r"idf and weights differ in length", id="no-weights"
        ),
        pytest.param(
            _vectorizer_change(idf=[1.0] * 13), r"float array is not valid base64 float64 data", id="idf-list"
        ),
        pytest.param(_vectorizer_change(weights="not base64!"), r"not valid base64 float64 data", id="bad-base64"),
        pytest.param(_vectorizer_change(weights="AAAA"), r"not valid base64 float64 data", id="partial-float"),
        pytest.param(_vectorizer_change(analyzer="char"), r"^model\.json: unknown analyzer 'char'$", id="bad-analyzer"),
        pytest.param(_vectorizer_change(ngram_range=None), r"malformed: TypeError", id="ngram-range-null"),
        pytest.param(tiny_model_spec(threshold=1.5), r"^model\.json: text threshold 1\.5 is not a probability$",
                     id="t-1.5"),
        pytest.param(tiny_model_spec(threshold=-0.1), r"threshold -0\.1 is not a probability", id="t-negative"),
    ],
)
def test_model_refuses_a_malformed_spec(tmp_path: Path, spec: dict[str, Any], message: str) -> None:
    directory = _write(tmp_path, spec)
    with pytest.raises(ArtifactError, match=message):
        load_model(directory)


def test_load_model_missing_directory(tmp_path: Path) -> None:
    from spam_classifier.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match=r"no model artifact at "):
        load_model(tmp_path / "missing")


# --- analyzer parity with scikit-learn ---------------------------------------------------------------------------

_TRICKY = [
    "",
    "   ",
    "a",
    "I a x y z",
    "Hello   world  with   multiple    spaces",
    "tabs\tand\t\ttabs",
    "new\nlines\r\nand\rreturns\n\n",
    "  leading and trailing  ",
    "unicode café naïve Straße ΑΒΓΔ déjà-vu",
    "İstanbul ǅemal ﬁsh",  # lowercasing changes length; a titlecase digraph; a ligature
    "non\u00a0breaking\u2003em\u2028line\x0bvt\x0cff",
    "emoji 😀😀 ok 👍🏽",
    "combining e\u0301 and a\u0308",
    "hyphen-ated under_score it's don't o'clock",
    "The cat is on the mat and the dog is in the fog to be or not to be",
    "12 345 6789 £100 $5.99 www.example.com bob@example.org",
    "WINNER!! You have won a free prize, claim now",
    "ab cd ef gh",
]


def _spec_like(**vectorizer: Any) -> dict[str, Any]:
    return {"lowercase": True, "token_pattern": r"(?u)\b\w\w+\b", **vectorizer}


@pytest.mark.parametrize("text", _TRICKY)
def test_char_wb_analyzer_matches_scikit_learn(text: str) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    expected = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5)).build_analyzer()(text)
    ours = _build_analyzer(_spec_like(analyzer="char_wb", ngram_range=[1, 5]))(text)
    assert Counter(ours) == Counter(expected)


@pytest.mark.parametrize("text", _TRICKY)
@pytest.mark.parametrize("stop_words", [None, "english", ["the", "is", "to", "and", "be"]])
@pytest.mark.parametrize("ngram_range", [(1, 2), (2, 3)])
def test_word_analyzer_matches_scikit_learn(text: str, stop_words: Any, ngram_range: tuple[int, int]) -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    expected = TfidfVectorizer(analyzer="word", ngram_range=ngram_range, stop_words=stop_words).build_analyzer()(text)
    words = sorted(ENGLISH_STOP_WORDS) if stop_words == "english" else stop_words
    ours = _build_analyzer(_spec_like(analyzer="word", ngram_range=list(ngram_range), stop_words=words))(text)
    assert Counter(ours) == Counter(expected)


@pytest.mark.parametrize("text", [*_TRICKY, "", "the the the the", "x" * 500 + " " + "ab " * 40])
def test_term_counts_equal_the_analyzers_terms_counted_cold_and_memoised(text: str) -> None:
    # the counters behind contribution() must count exactly the in-vocabulary terms the reference analyzer yields
    # (a binary vectorizer's: the set of them), for the shipped model's vectorizers and a binary one
    specs = json.loads((scorer.DEFAULT_MODEL_DIR / "model.json").read_text())["vectorizers"]
    for spec in [*specs, {**specs[-1], "binary": not specs[-1].get("binary", False)}]:
        vectorizer = scorer._Vectorizer(spec)
        index = {term: number for number, term in enumerate(spec["terms"])}
        expected: Counter[int] | set[int] = Counter(index[term] for term in _build_analyzer(spec)(text)
                                                    if term in index)
        if spec.get("binary"):
            expected = set(expected)
        assert vectorizer._count(text) == expected  # cold
        assert vectorizer._count(text) == expected  # every word now memoised


def test_word_gram_memo_is_bounded_in_words_and_word_length(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scorer, "_MEMO_WORDS", 3)
    grams = scorer._char_wb_word_grams(1, 3)
    index = {gram: number for number, gram in enumerate(sorted(set(grams("abcdefgh")) | set(grams("zz"))))}
    memo = _WordGramMemo(1, 3, index)
    for word in ("ab", "bc", "cd", "de", "ef", "zz"):
        assert memo[word] == tuple(index[gram] for gram in grams(word) if gram in index)
        assert len(memo) <= 3
    long_word = "abcdefgh" * 5
    assert len(long_word) > scorer._MEMO_WORD_CHARS
    assert memo[long_word] == tuple(index[gram] for gram in grams(long_word) if gram in index)
    assert long_word not in memo
    very_long = "abcdefgh" * 20  # its slices are not kept either
    assert len(very_long) > scorer._SPAN_WORD_CHARS
    assert memo[very_long] == tuple(index[gram] for gram in grams(very_long) if gram in index)
    assert max(memo._spans) == len(long_word) + 2


# --- import boundary ---------------------------------------------------------------------------------------------

_CHILD = """
import json, sys
import spam_classifier
model = spam_classifier.load_model(sys.argv[1])
probabilities = model.predict_proba(["WINNER!! free prize", "lunch tomorrow?"])
assert probabilities[0] > 0.5 > probabilities[1], probabilities
print(json.dumps(sorted(sys.modules)))
"""


def test_load_model_and_predict_import_no_heavy_dependencies(tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "a")
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "a")], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    assert "spam_classifier.scorer" in modules
    assert heavy_modules(modules) == []


_COLD_START_DEFERRED = ("email.parser", "html.parser", "html.entities", "tempfile", "shutil")

_CHILD_TEXT_THEN_EMAIL = """
import json, sys
import spam_classifier
model = spam_classifier.load_model()
model.predict_proba(["WINNER!! free prize, call 0800 123 4567", "lunch tomorrow?"])
after_text = sorted(sys.modules)
model.predict_proba(["Awesome song<br />best part: <a href=\\"https://youtu.be/x\\">2:19</a>"])
after_markup = sorted(sys.modules)
model.predict_proba(["From: a@b.test\\nSubject: hi\\nContent-Type: text/html\\n\\n<p>lunch &amp; tea?</p>"])
print(json.dumps([after_text, after_markup, sorted(sys.modules)]))
"""


def test_scoring_text_leaves_the_email_and_write_modules_unimported() -> None:
    # they cost about 20 ms of a Lambda cold start, and an SMS-only function never needs them
    result = subprocess.run(
        [sys.executable, "-c", _CHILD_TEXT_THEN_EMAIL], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    after_text, after_markup, after_email = (set(modules) for modules in json.loads(result.stdout))
    assert after_text.isdisjoint(_COLD_START_DEFERRED)
    assert "html.parser" in after_markup and "email.parser" not in after_markup  # a comment's HTML is no email
    assert {"email.parser", "html.parser", "spam_classifier.email_text"} <= after_email
