"""Cross-corpus evaluation: each corpus left out in turn, overlap removed, per-corpus figures (issue #10)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from conftest import HAM_DOCS, SPAM_DOCS
from spam_classifier.cli import cli


def _corpus(path: Path, rows: list[tuple[str, str]]) -> str:
    path.write_text("text,label\n" + "".join(f'"{text}",{label}\n' for text, label in rows))
    return f"csv:{path}"


def _numbered(docs: list[str]) -> list[str]:
    """Eight distinct copies of each document: enough messages for two-fold CV in every corpus."""
    return [f"{doc} ({n})" for n in range(8) for doc in docs]


def test_evaluate_cross_corpus_leaves_each_corpus_out_and_removes_overlap(tmp_path: Path) -> None:
    ham, spam = _numbered(HAM_DOCS), _numbered(SPAM_DOCS)
    first = _corpus(tmp_path / "first.csv", [(m, "ham") for m in ham[:24]] + [(m, "spam") for m in spam[:24]])
    second = _corpus(tmp_path / "second.csv", [(m, "ham") for m in ham[24:]] + [(m, "spam") for m in spam[24:]]
                     + [(ham[0].upper(), "ham")])  # also in the first corpus, normalised
    spam_only = _corpus(tmp_path / "trap.csv", [(f"URGENT claim your cash prize {n} now", "spam") for n in range(20)])
    report = tmp_path / "report"
    result = CliRunner().invoke(cli, ["evaluate", "--cross-corpus", "--data", first, "--data", second,
                                      "--data", spam_only, "--model", "seed", "--folds", "2", "--jobs", "1",
                                      "--json", "--report", str(report)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["protocol"] == "leave one corpus out"
    rows = {row["corpus"]: row for row in found["corpora"]}
    assert list(rows) == [first, second, spam_only]
    assert (rows[second]["n_ham"], rows[second]["n_spam"], rows[second]["overlap_removed"]) == (24, 24, 1)
    assert (rows[first]["n_ham"], rows[first]["overlap_removed"]) == (23, 1)  # the same message, either way
    assert rows[spam_only]["roc_auc"] is None and rows[spam_only]["ham_fpr"] is None
    assert 0.0 <= rows[spam_only]["recall"] <= 1.0 and rows[first]["roc_auc"] is not None
    assert json.loads((report / "metrics.json").read_text()) == found
    assert (report / "cross_corpus.png").stat().st_size > 0
    assert f"| {spam_only} | 0 / 20 | – |" in (report / "README.md").read_text()


def test_evaluate_cross_corpus_needs_two_corpora(tmp_path: Path) -> None:
    only = _corpus(tmp_path / "only.csv", [(HAM_DOCS[0], "ham"), (SPAM_DOCS[0], "spam")])
    result = CliRunner().invoke(cli, ["evaluate", "--cross-corpus", "--data", only])
    assert result.exit_code == 2
    assert "--cross-corpus needs at least two --data corpora" in result.output


def test_evaluate_cross_corpus_also_at_other_targets_reports_their_operating_points(tmp_path: Path) -> None:
    ham, spam = _numbered(HAM_DOCS), _numbered(SPAM_DOCS)
    first = _corpus(tmp_path / "first.csv", [(m, "ham") for m in ham[:24]] + [(m, "spam") for m in spam[:24]])
    second = _corpus(tmp_path / "second.csv", [(m, "ham") for m in ham[24:]] + [(m, "spam") for m in spam[24:]])
    report = tmp_path / "report"
    result = CliRunner().invoke(cli, ["evaluate", "--cross-corpus", "--data", first, "--data", second,
                                      "--model", "seed", "--folds", "2", "--jobs", "1", "--target-ham-fpr", "0.001",
                                      "--also-at", "0.001", "--also-at", "0.3", "--json", "--report", str(report)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["also_at"] == [0.001, 0.3]
    for row in found["corpora"]:
        same, looser = row["operating_points"]
        # The run's own target, re-derived from the out-of-fold scores, is the run itself.
        assert (same["thresholds"], same["recall"], same["ham_fpr"]) == (row["thresholds"], row["recall"],
                                                                        row["ham_fpr"])
        assert all(looser["thresholds"][channel] <= row["thresholds"][channel] for channel in ("text", "email"))
        assert looser["recall"] >= row["recall"] and looser["ham_fpr"] >= row["ham_fpr"]
    assert any(row["operating_points"][1]["thresholds"] != row["thresholds"] for row in found["corpora"])
    table = (report / "README.md").read_text()
    assert "| left-out corpus | at 0.10% | at 0.10% | at 30.00% |" in table


def test_evaluate_also_at_needs_cross_corpus(tmp_path: Path) -> None:
    only = _corpus(tmp_path / "only.csv", [(HAM_DOCS[0], "ham"), (SPAM_DOCS[0], "spam")])
    result = CliRunner().invoke(cli, ["evaluate", "--data", only, "--also-at", "0.003"])
    assert result.exit_code == 2
    assert "--also-at reports other operating points of --cross-corpus" in result.output
