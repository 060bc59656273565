"""`make quality`: the headline quality figures, written to reports/quality.json and the README's tables.

In-corpus: stratified 5-fold CV on the SMS Spam Collection (default and seed model) and on
SpamAssassin. Cross-corpus: every catalog corpus left out in turn (`evaluate --cross-corpus`), for
this design and, beside it, for the design before it (commit 1ba1893, run from its own source
through the same protocol). Formats: the shipped model on the catalog email corpora it never trained
on, as sent and re-typed (`spam_classifier.corpora.retype`). `--check` only re-renders the README's
tables from reports/quality.json and fails if they differ, so the figures in the README are always
the ones the last full run wrote.

    python scripts/quality.py                 # everything (hours on 2 cores; cross: 16 min)
    python scripts/quality.py --only cross    # or: in-corpus, baseline, formats
    python scripts/quality.py --check
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "quality.json"
README = ROOT / "README.md"
SHIPPED_MANIFEST = ROOT / "src" / "spam_classifier" / "models" / "default" / "manifest.json"
IN_CORPUS = [("sms", "default"), ("sms", "seed"), ("spamassassin", "default")]
CROSS_CORPUS_FOLDS = 3
#: Other target ham FPRs the cross-corpus run reports recall and ham FPR at (`evaluate --also-at`).
OPERATING_POINTS = (0.002, 0.003, 0.005)
#: The design this one replaced, measured beside it (issue #10's "today's design").
BASELINE_COMMIT = "1ba1893"
#: The catalog's email corpora that the shipped model may not train on: mail it has never seen.
FORMAT_CORPORA = ("csdmc2010", "phishing-pot")


def _in_corpus() -> list[dict[str, Any]]:
    from spam_classifier.corpora import load_corpora
    from spam_classifier.evaluate import cross_validate

    rows = []
    for name, kind in IN_CORPUS:
        started = time.monotonic()
        result = cross_validate(load_corpora([name]), kind=kind, cv=5, n_jobs=2).metrics()  # type: ignore[arg-type]
        rows.append({"corpus": name, **result, "seconds": round(time.monotonic() - started)})
        print(f"in-corpus {name} {kind}: f1 {result['f1']:.4f} ham_fpr {result['ham_fpr']:.4f}", file=sys.stderr)
    return rows


def _cross_corpus() -> dict[str, Any]:
    from spam_classifier.corpora import load_corpora
    from spam_classifier.corpora.catalog import CATALOG
    from spam_classifier.evaluate import cross_corpus, write_cross_corpus_report

    started = time.monotonic()
    corpora = {name: load_corpora([name], require_both=False) for name in CATALOG}
    evaluation = cross_corpus(corpora, folds=CROSS_CORPUS_FOLDS, n_jobs=2, also_at=OPERATING_POINTS,
                              progress=lambda step: print(f"cross-corpus: {step}", file=sys.stderr))
    write_cross_corpus_report(evaluation, ROOT / "reports" / "default-cross-corpus")
    return {**evaluation.metrics(), "seconds": round(time.monotonic() - started)}


def _formats() -> dict[str, Any]:
    from spam_classifier.corpora import load_corpora
    from spam_classifier.corpora.retype import FORMS, retyped
    from spam_classifier.evaluate import rates
    from spam_classifier.scorer import load_model

    model, rows = load_model(), []
    for name in FORMAT_CORPORA:
        corpus = load_corpora([name], require_both=False)
        for form in FORMS:
            scored = model.score([retyped(message, form) for message in corpus.messages])
            measured = rates(corpus.labels, [prediction.spam_probability for prediction in scored],
                             [prediction.label for prediction in scored])
            rows.append({"corpus": name, "form": form, **measured})
            print(f"formats {name} {form}: {rows[-1]}", file=sys.stderr)
    return {"model_version": model.version, "corpora": rows}


def _baseline_cross_corpus() -> dict[str, Any]:
    """The cross-corpus table of the design at BASELINE_COMMIT: its own training code, today's data and protocol.

    Its package is unpacked from git under another name, so both designs live in one process. Its
    TfidfVectorizers are swapped for WordGramTfidfVectorizer, which gives the same matrices
    (tests/test_vectorizers.py) several times faster; nothing else of it changes.
    """
    from spam_classifier.corpora import load_corpora
    from spam_classifier.corpora.catalog import CATALOG
    from spam_classifier.evaluate import leave_one_corpus_out, pool_corpora

    started = time.monotonic()
    package = f"spam_classifier_{BASELINE_COMMIT}"
    archive = subprocess.run(["git", "archive", BASELINE_COMMIT, "src/spam_classifier"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        (Path(tmp) / "src" / "spam_classifier").rename(Path(tmp) / package)
        _swap_char_vectorizer(Path(tmp) / package / "train.py")
        sys.path.insert(0, tmp)  # joblib's workers inherit sys.path
        try:
            train = importlib.import_module(f"{package}.train")
            X, y, groups = pool_corpora({name: load_corpora([name], require_both=False) for name in CATALOG})

            def fit_and_score(train_mask: Any, test_mask: Any) -> Any:
                print(f"baseline: training without {set(groups[test_mask])}", file=sys.stderr)
                trained = train.fit_pipeline(X[train_mask], y[train_mask], folds=CROSS_CORPUS_FOLDS, n_jobs=2)
                pipeline = trained.pipeline
                probability = pipeline.predict_proba(X[test_mask])[:, list(pipeline.classes_).index("spam")]
                return probability, pipeline.labels(X[test_mask], probability), trained.thresholds, trained.params

            evaluation = leave_one_corpus_out(X, y, groups, fit_and_score, kind=f"default at {BASELINE_COMMIT}",
                                              settings={"target_ham_fpr": 0.001, "folds": CROSS_CORPUS_FOLDS})
        finally:
            sys.path.remove(tmp)
    return {**evaluation.metrics(), "seconds": round(time.monotonic() - started)}


def _swap_char_vectorizer(train_py: Path) -> None:
    """Edit the baseline's source (its joblib workers import it afresh) to count char_wb n-grams our faster way."""
    chars = '("chars", TfidfVectorizer(analyzer="char_wb"'
    edited = train_py.read_text().replace(chars, chars.replace("TfidfVectorizer", "WordGramTfidfVectorizer"))
    imports = "from .preprocess import"
    edited = edited.replace(imports, f"from spam_classifier.vectorizers import WordGramTfidfVectorizer\n{imports}", 1)
    if edited.count("WordGramTfidfVectorizer") != 2:
        raise SystemExit(f"{BASELINE_COMMIT}'s train.py is not as expected: cannot swap its char_wb vectorizer")
    train_py.write_text(edited)


def _in_corpus_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| corpus | model | n (spam) | F1 | MCC | ROC-AUC | spam recall | ham FPR |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['corpus']} | {row['model']} | {row['n']:,} ({row['n_spam']:,}) | {row['f1']:.4f} | "
                     f"{row['mcc']:.4f} | {row['roc_auc']:.4f} | {row['recall']:.4f} | {row['ham_fpr']:.4f} |")
    return "\n".join(lines)


def _cross_corpus_table(result: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """This design's row per left-out corpus; with a baseline, each figure of it beside this one's."""
    metrics = ("roc_auc", "recall", "ham_fpr", "f1")
    titles = ("ROC-AUC", "spam recall", "ham FPR", "F1")
    before = {row["corpus"]: row for row in (baseline or {}).get("corpora", [])}

    def cell(value: float | None) -> str:
        return "–" if value is None else f"{value:.4f}"

    if baseline:
        header = " | ".join(f"{title} | {title} ({BASELINE_COMMIT})" for title in titles)
    else:
        header = " | ".join(titles)
    lines = [f"| left-out corpus | ham / spam tested | {header} |",
             "|---|---:|" + "---:|" * (len(metrics) * (2 if baseline else 1))]
    for row in result["corpora"]:
        if baseline:
            old = before.get(row["corpus"], {})
            cells = " | ".join(f"**{cell(row[name])}** | {cell(old.get(name))}" for name in metrics)
        else:
            cells = " | ".join(cell(row[name]) for name in metrics)
        lines.append(f"| {row['corpus']} | {row['n_ham']:,} / {row['n_spam']:,} | {cells} |")
    return "\n".join(lines)


def _formats_table(result: dict[str, Any]) -> str:
    lines = [f"| corpus (model {result['model_version']}) | form | ham / spam | ROC-AUC | spam recall | ham FPR |",
             "|---|---|---:|---:|---:|---:|"]
    for row in result["corpora"]:
        cells = " | ".join("–" if row[key] is None else f"{row[key]:.4f}" for key in ("roc_auc", "recall", "ham_fpr"))
        lines.append(f"| {row['corpus']} | {row['form']} | {row['n_ham']:,} / {row['n_spam']:,} | {cells} |")
    return "\n".join(lines)


def _render(readme: str, report: dict[str, Any]) -> str:
    """The README with each table that the report holds written into its block."""
    tables = {}
    if "in_corpus" in report:
        tables["in-corpus"] = _in_corpus_table(report["in_corpus"])
    if "cross_corpus" in report:
        tables["cross-corpus"] = _cross_corpus_table(report["cross_corpus"], report.get("cross_corpus_baseline"))
        if report["cross_corpus"].get("also_at"):
            from spam_classifier.evaluate import operating_points_table

            tables["operating-points"] = operating_points_table(report["cross_corpus"])
    if "formats" in report:
        tables["formats"] = _formats_table(report["formats"])
    for name, table in tables.items():
        pattern = re.compile(rf"(<!-- quality:{name} -->\n).*?(\n<!-- /quality:{name} -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no <!-- quality:{name} --> ... <!-- /quality:{name} --> block")
        readme = pattern.sub(lambda match, table=table: match.group(1) + table + match.group(2), readme)
    return readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["in-corpus", "cross", "baseline", "formats"], default=None)
    parser.add_argument("--check", action="store_true", help="fail if the README's tables differ from the report")
    args = parser.parse_args()
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    if args.check:
        if not report:
            print(f"{REPORT} is missing: run make quality", file=sys.stderr)
            return 1
        if _render(README.read_text(), report) != README.read_text():
            print("README.md's quality tables differ from reports/quality.json: run make quality", file=sys.stderr)
            return 1
        shipped = json.loads(SHIPPED_MANIFEST.read_text())["version"]
        if "formats" in report and report["formats"]["model_version"] != shipped:
            print(f"the re-typed mail table measured model {report['formats']['model_version']}, not the shipped "
                  f"{shipped}: run scripts/quality.py --only formats", file=sys.stderr)
            return 1
        return 0
    if args.only in (None, "in-corpus"):
        report["in_corpus"] = _in_corpus()
    if args.only in (None, "cross"):
        report["cross_corpus"] = _cross_corpus()
    if args.only in (None, "baseline"):
        report["cross_corpus_baseline"] = _baseline_cross_corpus()
    if args.only in (None, "formats"):
        report["formats"] = _formats()
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    README.write_text(_render(README.read_text(), report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
