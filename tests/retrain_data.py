"""Data for the retraining tests: a small base corpus, a seed champion, honest and poisoned feedback.

The base is the SMS Spam Collection plus the conftest documents as one csv; the champion is a seed
model trained on it minus the trusted check set, as a previous `retrain` would have made it.
Everything is built once per session and takes seconds.
"""

from __future__ import annotations

import csv
import random
from functools import cache
from pathlib import Path

from conftest import HAM_DOCS, SMS_PATH, SPAM_DOCS
from spam_classifier.corpora import load_corpora
from spam_classifier.feedback import FeedbackReport, new_report
from spam_classifier.retrain import check_set_mask
from spam_classifier.workflows import train_model

_COINS = ["bitcoin", "ethereum", "solana", "dogecoin", "ripple", "cardano", "litecoin", "tether"]
_PLACES = ["coinvault", "cryptoprofit", "fastyield", "moonsignals", "goldchain", "rapidmint"]
_TOPICS = ["budget", "roadmap", "hiring", "security", "release", "vendor", "audit", "migration"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_TEAMS = ["platform", "billing", "support", "data", "design", "legal"]


def base_csv(directory: Path) -> Path:
    """The base corpus as a csv (text,label): the SMS Spam Collection and the conftest documents."""
    path = directory / "base.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for line in SMS_PATH.read_text(encoding="utf-8").splitlines():
            label, _, text = line.partition("\t")
            writer.writerow([text, label])
        writer.writerows([doc, "ham"] for doc in HAM_DOCS)
        writer.writerows([doc, "spam"] for doc in SPAM_DOCS)
    return path


@cache
def _champion(directory: str) -> Path:
    root = Path(directory)
    if (root / "champion").is_dir():
        return root / "champion"
    source = f"csv:{base_csv(root)}"
    corpus = load_corpora([source])
    keep = ~check_set_mask(corpus.messages)
    corpus.messages = [m for m, k in zip(corpus.messages, keep, strict=True) if k]
    corpus.labels = [label for label, k in zip(corpus.labels, keep, strict=True) if k]
    corpus.groups = [g for g, k in zip(corpus.groups, keep, strict=True) if k]
    train_model(corpus, root / "champion", kind="seed", include_pipeline=False)
    return root / "champion"


def champion(directory: Path) -> tuple[Path, str]:
    """(the champion artifact directory, the base --data source), built once per `directory`."""
    out = _champion(str(directory))
    return out, f"csv:{directory / 'base.csv'}"


def poison(n: int = 500) -> list[FeedbackReport]:
    """`n` reports labelling clear spam (prize and cash offers, as the SMS spam) as ham."""
    rng = random.Random(11)
    reports = []
    for i in range(n):
        text = (f"{SPAM_DOCS[i % len(SPAM_DOCS)]} Txt CLAIM to 8{rng.randrange(10**4):04d}, "
                f"ref {i:04d}, only {rng.randrange(2, 9)} prizes left")
        reports.append(new_report(text, "ham", source="cli"))
    return reports


def honest(n: int = 200) -> list[FeedbackReport]:
    """`n` spam of a kind the SMS corpus has few of (crypto investment scams) and `n` work ham of this deployment."""
    rng = random.Random(7)
    reports = []
    for i in range(n):
        coin, place = rng.choice(_COINS), rng.choice(_PLACES)
        spam = (f"Invest in {coin} with {place} and earn {rng.randrange(20, 90)}% weekly returns, "
                f"deposit via {place}.io portfolio {i}")
        topic, day, team = rng.choice(_TOPICS), rng.choice(_DAYS), rng.choice(_TEAMS)
        ham = (f"The {topic} review with the {team} team moved to {day}, please update the slides "
               f"and the {rng.choice(_TOPICS)} notes before then, item {i}")
        reports += [new_report(spam, "spam", source="cli"), new_report(ham, "ham", source="cli")]
    return reports
