"""A Hub-ready folder: the artifact's runtime files plus a model card the Hugging Face Hub understands.

The card (``README.md``) starts with the Hub's YAML metadata, written by huggingface_hub's own
`ModelCardData` so the Hub parses what we mean: licence, tags, the training corpora, the manifest's
metrics as a ``model-index``, ``library_name`` and ``pipeline_tag: text-classification``. The runtime files
are copied byte for byte, so the manifest's sha256 still pins them and ``hf://owner/repo`` loads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .artifact import RUNTIME_FILES, Artifact

__all__ = ["CARD_FILE", "CARD_METRICS", "export_for_hub", "model_card"]

CARD_FILE = "README.md"
#: Manifest metrics that go into the card's model-index, with their display names.
CARD_METRICS = {
    "f1": "F1 (spam)",
    "precision": "Precision (spam)",
    "recall": "Recall (spam)",
    "accuracy": "Accuracy",
    "mcc": "MCC",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "ham_fpr": "Ham false-positive rate",
}
#: Training sources whose corpus is on the Hub under this dataset id.
_HUB_DATASETS = {"sms": "ucirvine/sms_spam"}
_CORPUS_NAMES = {"sms": "SMS Spam Collection", "spamassassin": "SpamAssassin public corpus"}


def model_card(artifact: Artifact, *, repo_id: str = "OWNER/REPO", license: str = "apache-2.0") -> str:
    """The README.md text of a Hub model repository holding `artifact`."""
    from huggingface_hub import EvalResult, ModelCardData

    manifest = artifact.manifest
    sources = [str(source) for source in manifest.get("training_data", {}).get("sources", [])]
    kinds = sorted({source.split(":", 1)[0] for source in sources})
    metrics = {name: value for name, value in manifest.get("metrics", {}).items()
               if name in CARD_METRICS and isinstance(value, int | float) and not isinstance(value, bool)}
    protocol = str(manifest.get("metrics", {}).get("protocol", "as recorded in manifest.json"))
    dataset_name = " + ".join(_CORPUS_NAMES.get(kind, kind) for kind in kinds) or "evaluation data"
    dataset_type = next((_HUB_DATASETS[kind] for kind in kinds if kind in _HUB_DATASETS),
                        kinds[0] if kinds else "custom")
    data = ModelCardData(
        license=license,
        library_name="spam-classifier",
        pipeline_tag="text-classification",
        language=["en"],
        tags=["spam-detection", "text-classification", "tf-idf", "scikit-learn", "spam-classifier",
              str(manifest.get("model_kind", "model"))],
        datasets=[_HUB_DATASETS[kind] for kind in kinds if kind in _HUB_DATASETS] or None,
        model_name=repo_id.split("/")[-1],
        eval_results=[
            EvalResult(task_type="text-classification", task_name="Spam detection", dataset_type=dataset_type,
                       dataset_name=dataset_name, metric_type=name, metric_name=CARD_METRICS[name],
                       metric_value=float(value))
            for name, value in metrics.items()
        ] or None,
    )
    return f"---\n{data.to_yaml()}\n---\n\n{_body(artifact, repo_id, sources, metrics, protocol)}"


def export_for_hub(artifact: Artifact, directory: str | os.PathLike[str], **card: Any) -> Path:
    """Write `artifact`'s runtime files and its model card to `directory`, which must not exist yet."""
    target = Path(directory)
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose a new output directory")
    text = model_card(artifact, **card)
    target.mkdir(parents=True)
    for name in RUNTIME_FILES:
        (target / name).write_bytes(artifact.files[name])
    (target / CARD_FILE).write_text(text, encoding="utf-8")
    return target


def _body(artifact: Artifact, repo_id: str, sources: list[str], metrics: dict[str, float], protocol: str) -> str:
    manifest = artifact.manifest
    version = artifact.version
    rows = "\n".join(f"| {CARD_METRICS[name]} | {value:.4f} |" for name, value in metrics.items())
    kinds = sorted({source.split(":", 1)[0] for source in sources})  # corpus kinds only: no local paths
    data = manifest.get("training_data", {})
    trained = ", ".join(_CORPUS_NAMES.get(kind, kind) for kind in kinds) or "not recorded (see manifest.json)"
    if data.get("n"):
        trained += f" ({data['n']} messages, {data.get('n_spam')} spam, after removing duplicates)"
    thresholds = artifact.model.get("thresholds", {})
    return f"""# {repo_id.split("/")[-1]}

A spam classifier made with `spam-classifier`: TF-IDF features and a linear model, compiled to plain data
(`model.json`, pinned by sha256 in `manifest.json`). Loading it runs no pickle and needs no
scikit-learn: the scorer is pure Python.

- version: `{version}` (kind `{manifest.get("model_kind", "?")}`, created {manifest.get("created", "?")})
- trained on: {trained}
- thresholds: {", ".join(f"{channel} {value:.4f}" for channel, value in thresholds.items())}

## Metrics

{protocol}:

| metric | value |
|---|---:|
{rows or "| (none recorded) | |"}

## Usage

```bash
pip install 'spam-classifier[hf]'
spam-classifier predict --model hf://{repo_id}@{version} "WINNER!! Claim your free iPhone now"
```

```python
from spam_classifier import load_model

model = load_model("hf://{repo_id}@{version}")   # downloads model.json + manifest.json, verifies sha256
model.predict(["WINNER!! Claim your free iPhone now"])
```

Serve it as an HTTP API (locally, or on AWS Lambda with `MODEL_URI=hf://{repo_id}@{version}`):

```bash
spam-classifier serve --model hf://{repo_id}@{version} --port 8000
curl -s localhost:8000/predict -H 'Content-Type: application/json' \\
    -d '{{"message": "WINNER!! Claim your free iPhone now"}}'
```
"""
