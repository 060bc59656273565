"""Build what a Spark cluster needs to run the scorer: the runtime package as a zip, and the job's entry script.

    python scripts/build_spark.py --out build/spark
    -> build/spark/spam_classifier.zip   for --py-files (EMR, EMR Serverless, Glue, Databricks)
    -> build/spark/spark_job.py          the entry point spark-submit runs (it calls spam_classifier.spark.main)

The zip holds the runtime modules only (scorer, preprocess, artifact, source, store, spark, ...) and the
shipped model's model.json and manifest.json: no training code, no pickled pipeline, nothing that imports
scikit-learn. The workers need pyarrow and pandas (pyspark's Arrow path), which Spark platforms provide.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["JOB_SCRIPT", "RUNTIME_EXCLUDED", "build_spark_files", "main"]

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "spam_classifier"
#: Package paths (relative to the package) that the workers never run: training, the CLI, the HTTP servers.
RUNTIME_EXCLUDED = ("train.py", "evaluate.py", "compiler.py", "workflows.py", "retrain.py", "importer.py",
                    "export.py", "corpora", "cli.py", "__main__.py", "server.py", "app.py", "aws_lambda.py", "batch.py")
JOB_SCRIPT = '"""spark-submit entry point: score a dataset with spam_classifier (shipped with --py-files)."""\n' \
             "from spam_classifier.spark import main\n\nraise SystemExit(main())\n"


def _runtime_files(package: Path) -> list[Path]:
    files = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or "__pycache__" in relative.parts or relative.parts[0] in RUNTIME_EXCLUDED:
            continue
        if path.suffix == ".py" or (relative.parts[0] == "models" and path.suffix == ".json"):
            files.append(path)
    return files


def build_spark_files(out: Path, package: Path = PACKAGE) -> tuple[Path, Path]:
    """Write ``spam_classifier.zip`` and ``spark_job.py`` into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / "spam_classifier.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in _runtime_files(package):
            zipped.write(path, Path("spam_classifier", path.relative_to(package)).as_posix())
    job = out / "spark_job.py"
    job.write_text(JOB_SCRIPT, encoding="utf-8")
    return archive, job


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "spark", help="The output folder.")
    args = parser.parse_args(argv)
    archive, job = build_spark_files(args.out)
    print(f"{archive} ({archive.stat().st_size / 1e6:.2f} MB), {job}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
