"""The corpus catalog: named public corpora, checked files, one-line errors (issue #10)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SHARED
from spam_classifier.cli import cli
from spam_classifier.corpora import load_corpora, load_corpus
from spam_classifier.corpora.catalog import CATALOG, corpus_status, fetch_corpus
from spam_classifier.errors import CorpusError

MIRROR = SHARED / "data"
SMALL = ["sms", "youtube", "smishtank"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory and no mirror: nothing is there until a test puts it there."""
    monkeypatch.setenv("SPAM_CLASSIFIER_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("SPAM_CLASSIFIER_MIRROR", raising=False)
    return tmp_path / "data"


def test_catalog_names_every_shared_corpus_and_spamassassin() -> None:
    folders = {path.name for path in MIRROR.iterdir() if path.is_dir()}
    assert {entry.folder for entry in CATALOG.values()} == folders | {"spamassassin"}
    for entry in CATALOG.values():
        assert entry.licence and entry.citation and entry.provenance
        assert all(len(file.sha256) == 64 for file in entry.files)
    assert {name for name, entry in CATALOG.items() if entry.may_train_shipped} == {
        "sms", "spamassassin", "nus-sms", "youtube"}


def test_catalog_file_checksums_match_the_mirror() -> None:
    for entry in CATALOG.values():
        for file in entry.files:
            path = MIRROR / entry.folder / file.name
            if entry.reader != "npm":
                assert path.stat().st_size == file.size, path


@pytest.mark.parametrize("name", [name for name in CATALOG if name != "spamassassin"])
def test_catalog_corpus_loads_with_its_published_counts(name: str) -> None:
    pairs = load_corpus(name)
    entry = CATALOG[name]
    assert (sum(label == "ham" for _, label in pairs), sum(label == "spam" for _, label in pairs)) == (
        entry.ham, entry.spam)


def test_corpora_lists_names_counts_licences_and_status(data_dir: Path) -> None:
    fetch_corpus(CATALOG["youtube"], mirror=MIRROR)
    result = CliRunner().invoke(cli, ["corpora"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:-1]}
    assert set(lines) == set(CATALOG)
    assert lines["youtube"].split()[1:4] == ["text", "947", "1,005"]
    assert "CC BY 4.0" in lines["youtube"] and lines["youtube"].endswith("present")
    assert "CC BY-NC 4.0" in lines["phishing-pot"] and lines["phishing-pot"].endswith("missing")
    assert result.output.splitlines()[-1] == f"Data directory: {data_dir}"


def test_corpora_fetch_copies_and_checks_from_a_mirror(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["corpora", "fetch", "sms", "smishtank", "--mirror", str(MIRROR)])
    assert result.exit_code == 0, result.output
    assert corpus_status(CATALOG["sms"]) == corpus_status(CATALOG["smishtank"]) == "present"
    assert corpus_status(CATALOG["youtube"]) == "missing"
    assert len(load_corpora(["sms"]).messages) == 5159


def test_catalog_missing_file_is_a_one_line_error(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["train", "--data", "csdmc2010", "--out", str(data_dir.parent / "model")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: corpus 'csdmc2010': {data_dir}/csdmc2010/")
    assert "is missing" in result.output and "spam-classifier corpora fetch csdmc2010 --mirror DIR" in result.output


def test_catalog_corrupted_file_is_a_one_line_error(data_dir: Path) -> None:
    fetch_corpus(CATALOG["smishtank"], mirror=MIRROR)
    path = data_dir / "smishtank" / "smishtank.filtered.csv"
    path.write_bytes(path.read_bytes().replace(b"USPS", b"USPZ", 1))
    assert corpus_status(CATALOG["smishtank"]) == "present"  # same size: only the checksum can tell
    result = CliRunner().invoke(cli, ["evaluate", "--data", "smishtank", "--data", "sms", "--cross-corpus"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert f"{path} is corrupted (its sha256 differs)" in result.output


def test_catalog_refuses_a_corrupted_mirror(data_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(MIRROR / "youtube-spam-collection", mirror / "youtube-spam-collection")
    (mirror / "youtube-spam-collection" / "youtube_spam_collection.filtered.csv").write_text("comment_id,label\n")
    with pytest.raises(CorpusError, match=r"^corpus mirror file .* does not match its sha256"):
        fetch_corpus(CATALOG["youtube"], mirror=mirror)
    assert corpus_status(CATALOG["youtube"]) == "missing"  # nothing half-written
    assert not list(data_dir.rglob("*")) or all(path.is_dir() for path in data_dir.rglob("*"))


def test_catalog_source_keeps_user_data_kinds(tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text("text,label\nhello there,ham\nwin cash now,spam\n")
    corpus = load_corpora([f"csv:{csv}", "smishtank"])
    assert corpus.by_source()[f"csv:{csv}"] == {"ham": 1, "spam": 1}
    assert corpus.by_source()["smishtank"]["ham"] == 0
