"""train.py's pieces that the end-to-end tests only see through their results (issue #10)."""

from __future__ import annotations

import numpy as np

from spam_classifier import train
from spam_classifier.corpora.retype import retyped
from spam_classifier.evaluate import corpus_weights
from spam_classifier.train import (
    CORPUS_HAM_FPR,
    _channel_thresholds,
    _held_out_whole,
    _retyped,
    _splits,
    copies_of,
    fit_pipeline,
)


def test_corpus_weights_cap_each_corpus_and_label_cell() -> None:
    groups = ["big"] * 8 + ["small"] * 3
    labels = ["ham"] * 8 + ["ham", "spam", "spam"]
    weights = corpus_weights(groups, labels, cap=4)
    assert weights.tolist() == [0.5] * 8 + [1.0, 1.0, 1.0]
    assert sum(weights[:8]) == 4


def _fold_corpora(groups: list[str], y: np.ndarray, channels: np.ndarray) -> list[set[str]]:
    return [set(np.asarray(groups)[test]) for _, test in _splits(y, channels, groups, 3, 0)]


def test_splits_keep_corpora_whole_where_a_channel_has_three_ham_corpora() -> None:
    groups = [name for name in ("a", "b", "c") for _ in range(400)] + ["spam-trap"] * 300
    y = np.asarray((["ham"] * 300 + ["spam"] * 100) * 3 + ["spam"] * 300, dtype=object)
    folds = _fold_corpora(groups, y, np.asarray(["text"] * len(y), dtype=object))
    assert sum(len(corpora) for corpora in folds) == 4  # each corpus in exactly one fold


def test_splits_spread_a_channels_ham_when_it_has_fewer_corpora() -> None:
    """Two ham corpora (a public one and the feedback) would leave a fold learning from one alone."""
    groups = ["public"] * 900 + ["feedback:store"] * 400
    y = np.asarray(["ham"] * 600 + ["spam"] * 300 + ["ham"] * 300 + ["spam"] * 100, dtype=object)
    folds = _fold_corpora(groups, y, np.asarray(["text"] * len(y), dtype=object))
    assert all(corpora == {"public", "feedback:store"} for corpora in folds)


def test_splits_spread_each_part_over_every_fold_beside_whole_corpora() -> None:
    """Whole text corpora (one of them large) must not pull a spread email corpus into one fold."""
    sizes = {"chats": (6000, 0, "text"), "sms": (700, 100, "text"), "comments": (300, 300, "text"),
             "smish": (0, 150, "text"), "mailbox": (600, 300, "email"), "office": (250, 150, "email")}
    groups = np.asarray([name for name, (ham, spam, _) in sizes.items() for _ in range(ham + spam)], dtype=object)
    labels = [label for ham, spam, _ in sizes.values() for label in ["ham"] * ham + ["spam"] * spam]
    y = np.asarray(labels, dtype=object)
    channels = np.asarray([channel for ham, spam, channel in sizes.values() for _ in range(ham + spam)], dtype=object)
    splits = _splits(y, channels, groups.tolist(), 3, 0)
    assert len(splits) == 3
    for corpus in ("mailbox", "office"):
        shares = [np.sum(groups[test] == corpus) / np.sum(groups == corpus) for _, test in splits]
        assert min(shares) > 0.25, (corpus, shares)  # about a third in each fold
    for corpus in ("chats", "sms", "comments", "smish"):
        assert sum(corpus in set(groups[test]) for _, test in splits) == 1


def test_channel_thresholds_meet_the_target_on_each_sizeable_corpus() -> None:
    easy = np.linspace(0.0, 0.10, 10_000)  # a large, easy ham corpus
    hard = np.linspace(0.0, 0.90, 1_000)  # newsletters: ham that looks like spam
    scores = np.concatenate([easy, hard])
    corpora = np.asarray(["easy"] * len(easy) + ["hard"] * len(hard), dtype=object)
    is_ham = np.ones(len(scores), dtype=bool)
    channels = np.asarray(["text"] * len(scores), dtype=object)
    thresholds = _channel_thresholds(scores, is_ham, channels, corpora, 0.01)
    assert np.mean(hard >= thresholds["text"]) <= 0.01  # pooled, the easy corpus would set ~0.1
    assert thresholds["text"] > 0.85


def test_channel_thresholds_meet_the_target_pooled_and_allow_each_corpus_at_most_one_percent() -> None:
    easy = np.linspace(0.0, 0.10, 10_000)
    odd = np.linspace(0.0, 1.0, 1_000)  # comments a model never saw: ham scored all over the range
    scores = np.concatenate([easy, odd])
    corpora = np.asarray(["easy"] * len(easy) + ["odd"] * len(odd), dtype=object)
    is_ham = np.ones(len(scores), dtype=bool)
    channels = np.asarray(["text"] * len(scores), dtype=object)
    threshold = _channel_thresholds(scores, is_ham, channels, corpora, 0.001)["text"]
    assert np.mean(scores >= threshold) <= 0.001 + 1e-12  # the target, on the channel's ham pooled
    assert np.mean(odd >= threshold) <= CORPUS_HAM_FPR
    assert threshold < 0.995  # the target on the odd corpus alone would be 0.999


def test_held_out_whole_names_the_sizeable_ham_corpora_one_fold_holds_entirely() -> None:
    corpora = np.asarray(["a"] * 300 + ["b"] * 300 + ["c"] * 100, dtype=object)
    is_ham = np.ones(len(corpora), dtype=bool)
    whole_a = (np.arange(300, 700), np.arange(0, 300))  # fold 1 tests all of "a"
    split_b = (np.arange(0, 450), np.arange(450, 700))  # fold 2 tests half of "b" and all of the small "c"
    assert _held_out_whole([whole_a, split_b], corpora, is_ham) == ["a"]


def test_each_email_gets_one_retyped_copy_the_forms_taken_in_turn() -> None:
    emails = [f"From: a@b.test\nSubject: Offer {n}\n\nBuy it, see www.x{n}.com now!" for n in range(4)]
    messages = np.asarray([emails[0], "an sms", *emails[1:]], dtype=object)
    rows, copies = _retyped(messages)
    assert rows.tolist() == [0, 2, 3, 4]
    forms = ["subject and body", "lower-cased", "tokenised", "subject and body"]
    assert copies == [retyped(messages[row], form) for row, form in zip(rows, forms, strict=True)]  # type: ignore[arg-type]


def test_copies_of_a_subset_are_numbered_as_its_rows() -> None:
    copies = (np.asarray([0, 2, 3, 4]), np.asarray(["c0", "c2", "c3", "c4"], dtype=object))
    subset = np.asarray([True, True, False, True, True])
    found = copies_of(copies, subset)
    assert found is not None
    rows, texts = found
    assert rows.tolist() == [0, 2, 3]  # messages 0, 3 and 4 are rows 0, 2 and 3 of messages[subset]
    assert texts.tolist() == ["c0", "c3", "c4"]
    assert copies_of(copies, np.flatnonzero(subset))[0].tolist() == rows.tolist()  # type: ignore[index]
    assert copies_of(copies, np.asarray([False, True, False, False, False])) is None  # no email among them
    assert copies_of(None, subset) is None
    unsorted = copies_of(copies, np.asarray([4, 1, 0]))  # messages[[4, 1, 0]]: copies of 4 and 0 are rows 0 and 2
    assert unsorted is not None
    assert unsorted[0].tolist() == [2, 0] and unsorted[1].tolist() == ["c0", "c4"]


def test_a_model_of_emails_also_learns_their_retyped_copies(monkeypatch) -> None:
    ham = [f"From: Ann <ann@corp.test>\nSubject: Minutes {n}\n\nThe <b>minutes</b> of meeting {n} are attached."
           for n in range(12)]
    spam = [f"From: x{n}@win.test\nSubject: WIN {n}\nContent-Type: text/html\n\n<p>Claim your PRIZE now at "
            f"www.prize{n}.test!</p>" for n in range(12)]
    messages, labels = ham + spam, ["ham"] * 12 + ["spam"] * 12
    said: list[str] = []
    with_copies = fit_pipeline(messages, labels, folds=2, n_jobs=1, progress=said.append)
    assert said[-1] == "fitted the final model on 24 messages and 24 re-typed copies"
    monkeypatch.setattr(train, "RETYPED_COPY_WEIGHT", 0.0)
    without = fit_pipeline(messages, labels, folds=2, n_jobs=1)
    coefficients = [model.pipeline.steps[-1][1].coef_ for model in (with_copies, without)]
    assert coefficients[0].shape != coefficients[1].shape or np.abs(coefficients[0] - coefficients[1]).max() > 1e-3
    # "prize" as re-typed mail reads it (tags stripped, lower-cased) is a spam term only the copies teach
    text = "Subject: win 3\nclaim your prize now at www.prize3.test!"
    assert with_copies.pipeline.predict_proba([text])[0][1] > without.pipeline.predict_proba([text])[0][1]
