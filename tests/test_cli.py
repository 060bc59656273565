"""The core commands through click's CliRunner: exit codes, output, one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import HAM_DOCS, SPAM_DOCS
from spam_classifier.cli import cli

CORE_COMMANDS = ["train", "evaluate", "predict", "info"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    """A small CSV corpus: the mini-corpora with a few variations each, so 3-fold CV has data."""
    path = tmp_path / "messages.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for suffix in ("", " today", " please", " now!"):
            writer.writerows([doc + suffix, "ham"] for doc in HAM_DOCS)
            writer.writerows([doc + suffix, "spam"] for doc in SPAM_DOCS)
    return path


@pytest.mark.parametrize("command", CORE_COMMANDS)
def test_cli_help_has_an_example(runner, command):
    for flag in ("-h", "--help"):
        result = runner.invoke(cli, [command, flag])
        assert result.exit_code == 0
        assert "Example:" in result.output


def test_cli_train_writes_a_verified_artifact_and_predict_uses_it(runner, tiny_csv, tmp_path):
    out = tmp_path / "model"
    result = runner.invoke(cli, ["train", "--data", f"csv:{tiny_csv}", "--out", str(out), "--folds", "3",
                                 "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert f"Wrote {out} (version " in result.output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.joblib", "model.json"]

    result = runner.invoke(cli, ["predict", "--model", str(out), "--json", SPAM_DOCS[0], HAM_DOCS[0]])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert [row["prediction"] for row in answer["predictions"]] == ["spam", "ham"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert answer["model_version"] == manifest["version"]
    assert manifest["training_data"]["n"] == 48
    assert manifest["training_data"]["duplicates_removed"] == 0

    result = runner.invoke(cli, ["info", "--model", str(out)])
    assert result.exit_code == 0
    assert f"version     {manifest['version']}" in result.output
    assert "kind        default" in result.output


def test_cli_train_refuses_an_existing_output(runner, tiny_csv, tmp_path):
    result = runner.invoke(cli, ["train", "--data", f"csv:{tiny_csv}", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists" in result.output


def test_cli_evaluate_json_is_one_object_with_every_metric(runner, tiny_csv, tmp_path):
    report = tmp_path / "report"
    result = runner.invoke(cli, ["evaluate", "--data", f"csv:{tiny_csv}", "--cv", "3", "--jobs", "1", "--json",
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(metrics) >= {"n", "n_spam", "duplicates_removed", "accuracy", "precision", "recall", "f1", "mcc",
                            "roc_auc", "pr_auc", "ham_fpr", "confusion_matrix", "threshold"}
    assert (metrics["n"], metrics["n_spam"]) == (48, 24)
    assert sum(metrics["confusion_matrix"].values()) == 48
    for plot in ("roc.png", "precision_recall.png", "confusion_matrix.png", "score_histogram.png", "README.md"):
        assert (report / plot).stat().st_size > 0


def test_cli_predict_reads_stdin_and_files(runner, test_artifact_dir, tmp_path):
    result = runner.invoke(cli, ["predict", "--model", str(test_artifact_dir)], input=SPAM_DOCS[0])
    assert result.exit_code == 0
    assert result.output.startswith("spam  ")
    message = tmp_path / "message.eml"
    message.write_text("From: Alice <a@example.com>\nSubject: lunch\nTo: b@example.com\n\nlunch at noon, meeting after")
    result = runner.invoke(cli, ["predict", "--model", str(test_artifact_dir), "--file", str(message)])
    assert result.exit_code == 0
    assert result.output.startswith("ham   ")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["predict", "--model", "/no/such/model", "hi"], "Error: no model artifact at /no/such/model"),
        (["evaluate", "--data", "nope:x"], "Error: unknown corpus kind 'nope'"),
        (["train", "--data", "sms:/no/such/file", "--out", "x"], "Error: /no/such/file: no such file"),
    ],
)
def test_cli_errors_are_one_line_and_exit_1(runner, arguments, message):
    result = runner.invoke(cli, arguments)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith(message)


def test_cli_tampered_model_is_refused(runner, test_artifact_dir):
    model = test_artifact_dir / "model.json"
    model.write_bytes(model.read_bytes().replace(b"free", b"fred"))
    result = runner.invoke(cli, ["predict", "--model", str(test_artifact_dir), "hello"])
    assert result.exit_code == 1
    assert "does not match its sha256" in result.output
