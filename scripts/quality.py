"""`make quality`: the headline quality figures, written to reports/quality.json and the README's tables.

In-corpus: stratified 5-fold CV on the SMS Spam Collection (default and seed model) and on
SpamAssassin. Cross-corpus: every catalog corpus left out in turn (`evaluate --cross-corpus`).
`--check` only re-renders the README's tables from reports/quality.json and fails if they differ,
so the figures in the README are always the ones the last full run wrote.

    python scripts/quality.py                 # everything (about an hour on 2 cores)
    python scripts/quality.py --only cross    # or: in-corpus
    python scripts/quality.py --check
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "quality.json"
README = ROOT / "README.md"
IN_CORPUS = [("sms", "default"), ("sms", "seed"), ("spamassassin", "default")]
CROSS_CORPUS_FOLDS = 3


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
    evaluation = cross_corpus(corpora, folds=CROSS_CORPUS_FOLDS, n_jobs=2,
                              progress=lambda step: print(f"cross-corpus: {step}", file=sys.stderr))
    write_cross_corpus_report(evaluation, ROOT / "reports" / "default-cross-corpus")
    return {**evaluation.metrics(), "seconds": round(time.monotonic() - started)}


def _in_corpus_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| corpus | model | n (spam) | F1 | MCC | ROC-AUC | spam recall | ham FPR |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['corpus']} | {row['model']} | {row['n']:,} ({row['n_spam']:,}) | {row['f1']:.4f} | "
                     f"{row['mcc']:.4f} | {row['roc_auc']:.4f} | {row['recall']:.4f} | {row['ham_fpr']:.4f} |")
    return "\n".join(lines)


def _cross_corpus_table(result: dict[str, Any]) -> str:
    def cell(value: float | None) -> str:
        return "–" if value is None else f"{value:.4f}"

    lines = ["| left-out corpus | ham / spam tested | ROC-AUC | spam recall | ham FPR | F1 |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in result["corpora"]:
        cells = " | ".join(cell(row[name]) for name in ("roc_auc", "recall", "ham_fpr", "f1"))
        lines.append(f"| {row['corpus']} | {row['n_ham']:,} / {row['n_spam']:,} | {cells} |")
    return "\n".join(lines)


def _render(readme: str, report: dict[str, Any]) -> str:
    """The README with each table that the report holds written into its block."""
    tables = {}
    if "in_corpus" in report:
        tables["in-corpus"] = _in_corpus_table(report["in_corpus"])
    if "cross_corpus" in report:
        tables["cross-corpus"] = _cross_corpus_table(report["cross_corpus"])
    for name, table in tables.items():
        pattern = re.compile(rf"(<!-- quality:{name} -->\n).*?(\n<!-- /quality:{name} -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no <!-- quality:{name} --> ... <!-- /quality:{name} --> block")
        readme = pattern.sub(lambda match, table=table: match.group(1) + table + match.group(2), readme)
    return readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["in-corpus", "cross"], default=None)
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
        return 0
    if args.only in (None, "in-corpus"):
        report["in_corpus"] = _in_corpus()
    if args.only in (None, "cross"):
        report["cross_corpus"] = _cross_corpus()
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    README.write_text(_render(README.read_text(), report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
