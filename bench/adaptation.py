"""Benchmark: how fast the model adapts to a new mailbox when it gets k of that mailbox's labelled messages.

For each two-class catalog corpus left out in turn (sms, spamassassin, youtube, csdmc2010), it trains on the
other catalog corpora plus k = 0, 50, 200, 1000 messages of the left-out one (stratified, fixed seed), weighted
as `retrain` weighs feedback (`workflows.LOCAL_WEIGHT`, on top of the per-cell cap), and scores the rest of the
left-out corpus: ROC-AUC, and ham FPR and spam recall at the threshold training chose. Messages of the left-out
corpus that occur in the training corpora are removed first (as in `evaluate --cross-corpus`). Folds are
stratified over all sources, as in `retrain`.

Each message is preprocessed and counted once (`train.count_feature_texts`), then every fit reuses the counts.

Usage:
    .venv/bin/python bench/adaptation.py --quick --out build/adaptation        # seed model, subsampled: minutes
    .venv/bin/python bench/adaptation.py --model default --folds 3 --jobs 2 \\
        --train-corpora all --out build/adaptation                             # the full run: about an hour here

Writes adaptation.json, adaptation.md (the table) and adaptation.png (ROC-AUC and ham FPR against k).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from spam_classifier.corpora import load_corpora
from spam_classifier.corpora.catalog import CATALOG
from spam_classifier.evaluate import DEFAULT_WEIGHT_CAP, sample_weights
from spam_classifier.preprocess import fold_message
from spam_classifier.train import copies_of, count_feature_texts, feature_texts, fit_pipeline, retyped_copies
from spam_classifier.workflows import LOCAL_WEIGHT

LEFT_OUT = ("sms", "spamassassin", "youtube", "csdmc2010")
KS = (0, 50, 200, 1000)
_LOCAL = "local"


def _sample(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of k messages, stratified by label, with a fixed seed."""
    if k == 0:
        return np.asarray([], dtype=int)
    index = np.arange(len(labels))
    picked, _ = train_test_split(index, train_size=k, stratify=labels, random_state=seed)
    return np.sort(picked)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    two_class = list(args.left_out)
    names = [n for n in CATALOG if n in two_class] if args.train_corpora == "two-class" else list(CATALOG)
    corpora = {}
    for name in dict.fromkeys([*names, *two_class]):
        corpus = load_corpora([name], require_both=False)
        messages, labels = np.asarray(corpus.messages, dtype=object), np.asarray(corpus.labels, dtype=object)
        corpora[name] = (messages, labels)
    offsets, first = {}, 0  # each corpus's rows in `counted`
    for name, (m, _) in corpora.items():
        offsets[name] = np.arange(first, first + len(m))
        first += len(m)
    pooled = np.concatenate([m for m, _ in corpora.values()])
    read = np.asarray(feature_texts(pooled, kind=args.model), dtype=object)  # scored from: see evaluate
    counted = count_feature_texts(read, kind=args.model)
    copies = retyped_copies(pooled, kind=args.model) if args.model == "default" else None  # once, not once per fit
    rows = []
    for left in two_class:
        messages, labels = corpora[left]
        train_names = [n for n in names if n != left]
        X, y, T, groups = [], [], [], []  # T: rows of `counted`
        rng = np.random.default_rng(args.seed)
        for name in train_names:
            m, lab = corpora[name]
            keep = np.arange(len(m))
            if args.max_per_corpus and len(m) > args.max_per_corpus:
                keep = np.sort(rng.choice(len(m), args.max_per_corpus, replace=False))
            X.append(m[keep]), y.append(lab[keep]), T.append(offsets[name][keep]), groups.append([name] * len(keep))
        X_base, y_base, T_base = np.concatenate(X), np.concatenate(y), np.concatenate(T)
        g_base = np.asarray([g for part in groups for g in part], dtype=object)
        seen = {fold_message(message) for message in X_base}
        fresh = np.asarray([fold_message(message) not in seen for message in messages])
        m_left, y_left, t_left = messages[fresh], labels[fresh], offsets[left][fresh]
        for k in [k for k in args.ks if k <= len(y_left) - 200]:  # leave at least 200 messages to score
            picked = _sample(y_left, k, args.seed)
            rest = np.ones(len(y_left), dtype=bool)
            rest[picked] = False
            X_fit = np.concatenate([X_base, m_left[picked]])
            y_fit = np.concatenate([y_base, y_left[picked]])
            T_fit = np.concatenate([T_base, t_left[picked]])
            g_fit = np.concatenate([g_base, np.asarray([_LOCAL] * len(picked), dtype=object)])
            weights = sample_weights(g_fit, y_fit, cap=DEFAULT_WEIGHT_CAP, factors={_LOCAL: args.weight})
            start = time.perf_counter()
            trained = fit_pipeline(X_fit, y_fit, kind=args.model, folds=args.folds, target_ham_fpr=args.target_ham_fpr,
                                   n_jobs=args.jobs, texts=counted[T_fit], sample_weight=weights,
                                   copies=copies_of(copies, T_fit))
            pipeline = trained.pipeline
            features, classifier = pipeline.named_steps["features"], pipeline.steps[-1][1]
            probability = classifier.predict_proba(features.transform(read[t_left[rest]]))[
                :, list(classifier.classes_).index("spam")]
            flagged = pipeline.labels(m_left[rest], probability) == "spam"
            is_spam = y_left[rest] == "spam"
            row = {"left_out": left, "k": k, "k_spam": int((y_left[picked] == "spam").sum()),
                   "n_ham": int((~is_spam).sum()), "n_spam": int(is_spam.sum()),
                   "roc_auc": float(roc_auc_score(is_spam, probability)),
                   "ham_fpr": float(flagged[~is_spam].mean()), "recall": float(flagged[is_spam].mean()),
                   "thresholds": trained.thresholds, "seconds": round(time.perf_counter() - start, 1)}
            rows.append(row)
            print(f"{left:<13} k={k:<5} ROC-AUC {row['roc_auc']:.4f}  ham FPR {row['ham_fpr']:.4f}  "
                  f"recall {row['recall']:.4f}  ({row['seconds']} s)", flush=True)
    return rows


def _table(rows: list[dict[str, Any]], ks: list[int]) -> str:
    lines = ["| left-out corpus | " + " | ".join(f"k={k} ROC-AUC / ham FPR" for k in ks) + " |",
             "|---|" + "---:|" * len(ks)]
    for left in dict.fromkeys(row["left_out"] for row in rows):
        found = {row["k"]: row for row in rows if row["left_out"] == left}
        cells = [f"{found[k]['roc_auc']:.4f} / {found[k]['ham_fpr']:.4f}" if k in found else "–" for k in ks]
        lines.append(f"| {left} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (auc, fpr) = plt.subplots(1, 2, figsize=(10, 4))
    for left in dict.fromkeys(row["left_out"] for row in rows):
        mine = [row for row in rows if row["left_out"] == left]
        xs = [max(row["k"], 10) for row in mine]  # k = 0 drawn at 10 on the log axis
        auc.plot(xs, [row["roc_auc"] for row in mine], marker="o", label=left)
        fpr.plot(xs, [row["ham_fpr"] for row in mine], marker="o", label=left)
    for ax, title in ((auc, "ROC-AUC on the rest of the left-out corpus"), (fpr, "ham FPR at the chosen threshold")):
        ax.set_xscale("log")
        ax.set_xlabel("k labelled messages of the left-out corpus (0 drawn at 10)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    auc.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="seed model, 3 folds, the two-class corpora only, at most 2,000 messages of each")
    parser.add_argument("--model", choices=["default", "seed"], default="default")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--train-corpora", choices=["all", "two-class"], default="all",
                        help="all: every other catalog corpus (ham-only and spam-only ones too); two-class: the others "
                             "of the left-out list")
    parser.add_argument("--max-per-corpus", type=int, default=0, help="subsample each training corpus (0: all)")
    parser.add_argument("--left-out", nargs="+", default=list(LEFT_OUT), choices=list(LEFT_OUT))
    parser.add_argument("--ks", nargs="+", type=int, default=list(KS))
    parser.add_argument("--weight", type=float, default=LOCAL_WEIGHT, help="the factor of the k local messages")
    parser.add_argument("--target-ham-fpr", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("build/adaptation"))
    args = parser.parse_args()
    if args.quick:
        args.model, args.folds, args.train_corpora, args.max_per_corpus = "seed", 3, "two-class", 2000
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = run(args)
    settings = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()}
    (args.out / "adaptation.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    table = _table(rows, args.ks)
    (args.out / "adaptation.md").write_text(table)
    _plot(rows, args.out / "adaptation.png")
    print(table, end="")
    print(f"{time.perf_counter() - started:.0f} s; wrote {args.out}/adaptation.json, .md and .png")


if __name__ == "__main__":
    main()
