"""Benchmark: the compiled scorer against scikit-learn, on the SMS and SpamAssassin test folds.

In one run it trains the seed pipeline (the article's TF-IDF + MultinomialNB) and our default
pipeline on the training folds of both corpora, compiles the default one, then measures on each
test fold:

- per-message latency p50/p99 (one message per call, as a server sees them),
- batch throughput (the whole fold in one call: scikit-learn's natural batch, and `predict_proba`'s),
  and our scorer's through `spam-classifier batch` on every core (its process pool, from a JSONL file),
- the same latencies on generated 1 MB emails (headers, a long HTML body, a base64 attachment):
  what bounded work per message (issue #10) is for,
- cold start: a fresh interpreter importing the library and loading the model (median of 5).

It ends with the issue #10 bars for our scorer: p99 <= 5 ms on the SpamAssassin fold and on the
1 MB emails, and >= 1,000 emails/s in batch on the SpamAssassin fold.

Usage:  .venv/bin/python bench/scorer_vs_sklearn.py [--out build/bench] [--repeat 5]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from spam_classifier import Model, load_model
from spam_classifier.batch import BatchOptions, run_batch
from spam_classifier.compiler import save_model
from spam_classifier.corpora import load_corpora
from spam_classifier.train import fit_pipeline

SMS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sms-spam-collection" / "SMSSpamCollection"

_COLD_SKLEARN = """
import time; t = time.perf_counter()
import joblib, numpy as np
pipeline = joblib.load({path!r}); pipeline.predict_proba(np.asarray(["hello"], dtype=object))
print(time.perf_counter() - t)
"""
_COLD_SCORER = """
import time; t = time.perf_counter()
from spam_classifier import load_model
load_model({path!r}).predict_proba(["hello"])
print(time.perf_counter() - t)
"""


def _large_email(seed: int, words: list[str], size: int = 1_000_000) -> str:
    """A realistic ~1 MB email: headers, a text part, a long HTML part and a base64 PDF attachment."""
    rng = random.Random(seed)

    def prose(count: int) -> str:
        return " ".join(rng.choice(words) for _ in range(count))

    html = "".join(f'<p style="color:#333">{prose(40)} <a href="http://news{rng.randrange(999)}.example.com/a?id='
                   f'{rng.randrange(10**9)}">{prose(3)}</a></p>\n' for _ in range(size // 800))
    attachment = base64.encodebytes(rng.randbytes(size // 2)).decode("ascii")
    return (
        f"From: Newsletter {seed} <news@example.com>\nTo: you@example.org\nSubject: {prose(6)}\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n--outer\n"
        "Content-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/plain\n\n"
        f"{prose(2_000)}\n--inner\nContent-Type: text/html; charset=utf-8\n\n<html><body>{html}</body></html>\n"
        "--inner--\n--outer\nContent-Type: application/pdf; name=report.pdf\nContent-Transfer-Encoding: base64\n"
        f'Content-Disposition: attachment; filename="report.pdf"\n\n{attachment}--outer--\n'
    )


def _split(source: str) -> tuple[list[str], list[str], list[str], list[str]]:
    corpus = load_corpora([source])
    X, y = np.asarray(corpus.messages, dtype=object), np.asarray(corpus.labels, dtype=object)
    train, test = next(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    return list(X[train]), list(y[train]), list(X[test]), list(y[test])


def _latency_ms(score, messages: list[str]) -> tuple[float, float]:
    times = []
    for message in messages:
        start = time.perf_counter()
        score(message)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def _throughput(score_batch, messages: list[str]) -> float:
    start = time.perf_counter()
    score_batch(messages)
    return len(messages) / (time.perf_counter() - start)


def _batch_all_cores(model: Model, model_dir: Path, messages: list[str], jobs: int) -> float:
    """Messages/s through `spam-classifier batch`: a JSONL file read, scored by `jobs` processes, rows written."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fold.jsonl"
        path.write_text("".join(json.dumps({"text": message}) + "\n" for message in messages))
        summary = run_batch([str(path)], io.StringIO(), model, BatchOptions(jobs=jobs), model_uri=str(model_dir))
    return summary.messages_per_second


def _cold_ms(template: str, path: Path, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", template.format(path=str(path))], check=True,
                             capture_output=True, text=True).stdout
        runs.append(float(out.strip().splitlines()[-1]) * 1e3)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the trained artifacts here")
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per cold-start figure")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-"))

    folds = {"sms": _split(f"sms:{SMS}"), "spamassassin": _split("spamassassin")}
    train_x = folds["sms"][0] + folds["spamassassin"][0]
    train_y = folds["sms"][1] + folds["spamassassin"][1]
    print(f"training on {len(train_x)} messages (training folds of both corpora) ...", file=sys.stderr)
    artifacts = {}
    for kind in ("seed", "default"):
        trained = fit_pipeline(train_x, train_y, kind=kind, folds=3, n_jobs=2)
        artifacts[kind] = out / kind
        if not artifacts[kind].exists():
            save_model(trained.pipeline, artifacts[kind], kind=kind, manifest={"metrics": {}})

    import joblib

    seed = joblib.load(artifacts["seed"] / "model.joblib")
    default = joblib.load(artifacts["default"] / "model.joblib")
    scorer = load_model(artifacts["default"])
    contenders = {
        "seed pipeline (scikit-learn)": (
            lambda m: seed.predict_proba(np.asarray([m], dtype=object)),
            lambda ms: seed.predict_proba(np.asarray(ms, dtype=object)),
        ),
        "default pipeline (scikit-learn)": (
            lambda m: default.predict_proba(np.asarray([m], dtype=object)),
            lambda ms: default.predict_proba(np.asarray(ms, dtype=object)),
        ),
        "default model (our scorer)": (lambda m: scorer.predict_proba([m]), scorer.predict_proba),
    }
    words = " ".join(folds["spamassassin"][2][:200]).split()
    large = [_large_email(seed, words) for seed in range(30)]
    rows = []
    for corpus, test_x in [*((name, fold[2]) for name, fold in folds.items()), ("1 MB email", large)]:
        for name, (single, batch) in contenders.items():
            p50, p99 = _latency_ms(single, test_x)
            rows.append({"corpus": corpus, "contender": name, "messages": len(test_x), "p50_ms": p50,
                         "p99_ms": p99, "batch_msgs_per_s": _throughput(batch, test_x)})
    cold = {
        "seed pipeline (scikit-learn)": _cold_ms(_COLD_SKLEARN, artifacts["seed"] / "model.joblib", args.repeat),
        "default pipeline (scikit-learn)": _cold_ms(_COLD_SKLEARN, artifacts["default"] / "model.joblib", args.repeat),
        "default model (our scorer)": _cold_ms(_COLD_SCORER, artifacts["default"], args.repeat),
    }

    print("| test fold | contender | p50 ms/msg | p99 ms/msg | batch msg/s | speed-up vs seed: p50 | p99 | batch |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        base = next(r for r in rows if r["corpus"] == row["corpus"] and r["contender"].startswith("seed"))
        print(f"| {row['corpus']} ({row['messages']}) | {row['contender']} | {row['p50_ms']:.3f} | "
              f"{row['p99_ms']:.3f} | {row['batch_msgs_per_s']:,.0f} | {base['p50_ms'] / row['p50_ms']:.1f}x | "
              f"{base['p99_ms'] / row['p99_ms']:.1f}x | {row['batch_msgs_per_s'] / base['batch_msgs_per_s']:.1f}x |")
    ours = {row["corpus"]: row for row in rows if row["contender"] == "default model (our scorer)"}
    jobs = os.cpu_count() or 1
    all_cores = {corpus: _batch_all_cores(scorer, artifacts["default"], test_x, jobs)
                 for corpus, test_x in [*((name, fold[2]) for name, fold in folds.items()), ("1 MB email", large)]}
    print()
    print(f"our scorer through `spam-classifier batch` on {jobs} processes (JSONL in, rows out): " + "; ".join(
        f"{corpus} {rate:,.0f} msg/s ({rate / ours[corpus]['batch_msgs_per_s']:.1f}x one process)"
        for corpus, rate in all_cores.items()))
    bars = [("p99 on the SpamAssassin fold <= 5 ms", ours["spamassassin"]["p99_ms"] <= 5.0),
            ("p99 on a 1 MB email <= 5 ms", ours["1 MB email"]["p99_ms"] <= 5.0),
            ("batch on the SpamAssassin fold >= 1,000 emails/s",
             max(ours["spamassassin"]["batch_msgs_per_s"], all_cores["spamassassin"]) >= 1000)]
    print()
    print("issue #10 bars (our scorer): " + "; ".join(f"{bar}: {'met' if met else 'NOT met'}" for bar, met in bars))
    print()
    print("| contender | cold import + load + first prediction (fresh process, median) | speed-up vs seed |")
    print("|---|---:|---:|")
    base_cold = cold["seed pipeline (scikit-learn)"]
    for name, value in cold.items():
        print(f"| {name} | {value:.0f} ms | {base_cold / value:.1f}x |")
    (out / "results.json").write_text(json.dumps({"latency": rows, "batch_all_cores": {"jobs": jobs, **all_cores},
                                                   "cold_ms": cold}, indent=2))


if __name__ == "__main__":
    main()
