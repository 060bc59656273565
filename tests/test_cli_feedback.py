"""`spam-classifier feedback add|list|export|purge` with CliRunner, and `--data feedback:STORE` (issue #11)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import HAM_DOCS, SPAM_DOCS
from spam_classifier.cli import cli
from spam_classifier.corpora import load_corpora
from spam_classifier.errors import CorpusError
from spam_classifier.feedback import latest_reports, message_key, new_report, read_feedback, record_feedback
from spam_classifier.store import open_store

#: The fixture's reports are dated relative to now, so `purge --older-than` sees them at these ages.
NOW = datetime.now(UTC).replace(microsecond=0)
EMAIL = "From: Prize Team <win@example.com>\nSubject: You WON\n\nClaim your free prize now\n"


def _run(*arguments: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(arguments), prog_name="spam-classifier", input=stdin)


@pytest.fixture
def mail(tmp_path: Path) -> Path:
    """A folder like a mail client's Junk export: an .eml, a text file, a two-message mbox, a maildir, a dotfile."""
    root = tmp_path / "mail"
    (root / "junk").mkdir(parents=True)
    (root / "junk" / "1.eml").write_text(EMAIL)
    (root / "junk" / "2.txt").write_text(SPAM_DOCS[0])
    (root / "junk" / ".DS_Store").write_bytes(b"\x00junk")
    envelope = "From x@y Mon Jan  1 00:00:00 2026\nFrom: a@b.c\n"
    mbox = "".join(f"{envelope}Subject: s{n}\n\n{SPAM_DOCS[n]}\n\n" for n in (1, 2))
    (root / "junk" / "box.mbox").write_text(mbox)
    for sub in ("cur", "new", "tmp"):
        (root / "inbox" / sub).mkdir(parents=True)
    (root / "inbox" / "cur" / "1:2,S").write_text(f"From: f@g.h\nSubject: lunch\n\n{HAM_DOCS[0]}\n")
    return root


def test_feedback_add_reads_files_folders_mbox_maildir_and_stdin(mail: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")

    spam = _run("feedback", "add", "--spam", str(mail / "junk"), "--store", store)
    ham = _run("feedback", "add", "--ham", str(mail / "inbox"), "-", "--store", store, stdin=HAM_DOCS[1])
    again = _run("feedback", "add", "--spam", str(mail / "junk" / "2.txt"), "--store", store)

    assert (spam.exit_code, spam.stdout) == (0, f"Recorded 4 spam report(s) in {store}: 4 new, 0 already there.\n")
    assert (ham.exit_code, ham.stdout) == (0, f"Recorded 2 ham report(s) in {store}: 2 new, 0 already there.\n")
    assert again.stdout == f"Recorded 1 spam report(s) in {store}: 0 new, 1 already there.\n"
    latest, conflicts = latest_reports(read_feedback(open_store(store)))
    assert sorted((report.label, report.source) for report in latest) == [("ham", "cli")] * 2 + [("spam", "cli")] * 4
    assert conflicts == 0
    assert {message_key(SPAM_DOCS[0]), message_key(EMAIL), message_key(HAM_DOCS[1])} <= {r.key for r in latest}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["add", "X"], "Error: say what the messages are: feedback add --spam PATH... or --ham PATH...\n"),
        (["add", "--spam", "nowhere"], "Error: nowhere: no such file or folder\n"),
        (["add", "--ham", "-"], "Error: no messages found in -\n"),
        (["purge"], "Error: give exactly one of --older-than AGE (e.g. 90d) or --all --yes\n"),
        (["purge", "--all", "--older-than", "1d"], "Error: give exactly one of --older-than AGE (e.g. 90d) or --all"),
        (["purge", "--all"], "Error: --all deletes every report in the store; add --yes to confirm\n"),
        (["purge", "--older-than", "3 months"], "Error: --older-than '3 months' is not an age; use a number and d, h"),
        (["list"], "Error: no model store at STORE (no such folder); publish a model there to create it\n"),
    ],
)
def test_feedback_errors_are_one_line(tmp_path: Path, arguments: list[str], message: str) -> None:
    store = str(tmp_path / "nothing-here")
    result = _run("feedback", *arguments, "--store", store, stdin="  ")
    assert result.exit_code == 1
    assert result.stderr.startswith(message.replace("STORE", store))
    assert result.stderr.count("\n") == 1


@pytest.fixture
def reports(tmp_path: Path) -> str:
    """A folder store with four messages: one reported spam then ham (a conflict), one 100 days old."""
    store = open_store(str(tmp_path / "store"))
    now = NOW
    record_feedback(store, [
        new_report(SPAM_DOCS[0], "spam", model_version="v1", spam_probability=0.91, now=now - timedelta(days=100)),
        new_report(HAM_DOCS[0], "spam", now=now - timedelta(days=2)),
        new_report(HAM_DOCS[0], "ham", now=now - timedelta(days=1)),
        new_report(SPAM_DOCS[1], "spam", source="cli", now=now),
    ])  # fmt: skip
    return store.uri


def _received(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat(timespec="microseconds").replace("+00:00", "Z")


def test_feedback_list_counts_latest_labels_and_hides_text(reports: str) -> None:
    result = _run("feedback", "list", "--store", reports)

    assert result.exit_code == 0
    assert result.stdout == (
        f"3 message(s) with feedback in {reports}: 2 spam, 1 ham; 1 reported with both labels (the latest counts).\n"
        "RECEIVED                     LABEL  KEY           MODEL_VERSION  P(SPAM)  SOURCE\n"
        f"{_received(0)}  spam   {message_key(SPAM_DOCS[1])[:12]}  -              -        cli\n"
        f"{_received(1)}  ham    {message_key(HAM_DOCS[0])[:12]}  -              -        api\n"
        f"{_received(100)}  spam   {message_key(SPAM_DOCS[0])[:12]}  v1             0.9100   api\n"
    )
    assert "lunch" not in result.stdout


def test_feedback_list_show_text_and_limit(reports: str) -> None:
    result = _run("feedback", "list", "--store", reports, "--show-text", "--limit", "1")

    lines = result.stdout.splitlines()
    assert lines[1].endswith("SOURCE  TEXT")
    assert lines[2].endswith(f"cli     {SPAM_DOCS[1]}")
    assert lines[3:] == ["... and 2 older; --limit 3 shows them all."]


def test_feedback_export_writes_latest_reports_as_jsonl(reports: str, tmp_path: Path) -> None:
    out = tmp_path / "feedback.jsonl"
    result = _run("feedback", "export", "--store", reports, "--out", str(out))

    assert (result.exit_code, result.stderr) == (0, f"Exported 3 report(s) to {out}.\n")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(row["message"], row["label"]) for row in rows] == [
        (SPAM_DOCS[1], "spam"),
        (HAM_DOCS[0], "ham"),
        (SPAM_DOCS[0], "spam"),
    ]
    assert rows[2] == {
        "key": message_key(SPAM_DOCS[0]),
        "message": SPAM_DOCS[0],
        "label": "spam",
        "received": _received(100),
        "model_version": "v1",
        "spam_probability": 0.91,
        "source": "api",
    }
    everything = _run("feedback", "export", "--store", reports, "--all-reports")
    assert [json.loads(line)["label"] for line in everything.stdout.splitlines()] == ["spam", "ham", "spam", "spam"]


def test_feedback_purge_older_than_deletes_only_old_reports(reports: str) -> None:
    result = _run("feedback", "purge", "--store", reports, "--older-than", "90d")

    assert result.exit_code == 0
    assert result.stdout.startswith("Deleted 1 report(s) received before ")
    assert [report.message for report in read_feedback(open_store(reports))] == [SPAM_DOCS[1], HAM_DOCS[0], HAM_DOCS[0]]


def test_feedback_purge_all_deletes_everything(reports: str) -> None:
    result = _run("feedback", "purge", "--store", reports, "--all", "--yes")

    assert (result.exit_code, result.stdout) == (0, f"Deleted 4 report(s) from {reports}.\n")
    assert read_feedback(open_store(reports)) == []


# --- --data feedback:STORE ----------------------------------------------------------------------------


def test_load_corpora_reads_feedback_with_the_latest_label(reports: str, tmp_path: Path) -> None:
    csv = tmp_path / "base.csv"
    csv.write_text("text,label\n" + "".join(f'"{text}",ham\n' for text in HAM_DOCS[:3]))

    corpus = load_corpora([f"csv:{csv}", f"feedback:{reports}"])

    assert list(zip(corpus.messages, corpus.labels, strict=True)) == [
        (HAM_DOCS[0], "ham"),
        (HAM_DOCS[1], "ham"),
        (HAM_DOCS[2], "ham"),
        (SPAM_DOCS[0], "spam"),
        (SPAM_DOCS[1], "spam"),
    ]
    assert corpus.duplicates_removed == 1  # HAM_DOCS[0] is in both: the feedback copy folds into the corpus one


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("feedback:", "feedback needs a store: --data feedback:STORE_URI"),
        ("feedback:STORE@spam", "feedback carries its own labels; drop the @spam"),
        ("feedback:STORE/missing", "no model store at"),
    ],
)
def test_load_corpora_feedback_errors(reports: str, source: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        load_corpora([source.replace("STORE", reports)])
