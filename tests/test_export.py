"""`spam-classifier export --format hf`: a folder the Hub takes as a model repository, card included."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from huggingface_hub import ModelCard

from spam_classifier.artifact import read_artifact
from spam_classifier.cli import cli
from spam_classifier.scorer import DEFAULT_MODEL_DIR


def test_export_hf_writes_runtime_files_and_a_card_huggingface_hub_reads(tmp_path: Path) -> None:
    out = tmp_path / "hub"
    result = CliRunner().invoke(cli, ["export", str(out), "--format", "hf", "--repo-id", "alice/spam"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == ["README.md", "manifest.json", "model.json"]
    for name in ("manifest.json", "model.json"):  # byte for byte: the manifest's sha256 still pins them
        assert (out / name).read_bytes() == (DEFAULT_MODEL_DIR / name).read_bytes()
    assert read_artifact(out).version == read_artifact(DEFAULT_MODEL_DIR).version

    card = ModelCard.load(out / "README.md")
    manifest = read_artifact(DEFAULT_MODEL_DIR).manifest
    assert card.data.pipeline_tag == "text-classification"
    assert card.data.library_name == "spam-classifier"
    assert card.data.license == "apache-2.0"
    assert "ucirvine/sms_spam" in card.data.datasets
    found = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert found["f1"] == manifest["metrics"]["f1"]
    assert found["ham_fpr"] == manifest["metrics"]["ham_fpr"]
    assert set(found) == {"accuracy", "precision", "recall", "f1", "mcc", "roc_auc", "pr_auc", "ham_fpr"}
    assert f'load_model("hf://alice/spam@{manifest["version"]}")' in card.text
    assert "curl -s localhost:8000/predict" in card.text
    assert "../shared" not in card.content  # no local paths of the training machine


def test_export_refuses_an_existing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists; choose a new directory" in result.output
