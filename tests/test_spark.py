"""The scorer on PySpark in local mode (a real JVM): a DataFrame, a Parquet dataset, and the job under spark-submit.

Issue #12. One session-scoped SparkSession (local[2]) serves the in-process tests; the spark-submit test
starts its own, with only the built zip (no editable install) importable by the driver and the workers.
Every probability must equal `load_model().predict_proba` exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import SMS_PATH
from spam_classifier.scorer import load_model

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[1]
SMS = [line.split("\t", 1)[1].rstrip("\n") for line in SMS_PATH.read_text(encoding="utf-8").splitlines(True)]
EMAIL = "From: Prize Desk <win@example.com>\nSubject: WINNER!! Claim now\n\nYou have won a FREE iPhone, claim today!\n"
#: A short-lived JVM starts about twice as fast with the client compiler only and the serial collector.
_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
_SPARK_ENV = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    patch = pytest.MonkeyPatch()
    for name, value in _SPARK_ENV.items():
        patch.setenv(name, value)
    session = (SparkSession.builder.master("local[2]").appName("spam-classifier tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.extraJavaOptions", _JAVA_OPTIONS)
               .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        patch.undo()


def _build_spark_files(out: Path) -> tuple[Path, Path]:
    """scripts/build_spark.py, as the docs run it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_spark import build_spark_files
    finally:
        sys.path.pop(0)
    return build_spark_files(out)


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_spark_score_dataframe_equals_the_scorer_for_every_sms_message(spark, model):
    from spam_classifier.spark import score_dataframe

    df = spark.createDataFrame([(n, text) for n, text in enumerate([*SMS, EMAIL, None])], "id long, text string")
    rows = sorted(score_dataframe(df, "text").collect(), key=lambda row: row.id)
    assert [row.id for row in rows] == list(range(len(SMS) + 2))
    scored = model.score([*SMS, EMAIL])
    assert [(row.label, row.spam_probability) for row in rows[:-1]] == [(p.label, p.spam_probability) for p in scored]
    assert {row.model_version for row in rows[:-1]} == {model.version}
    assert (rows[-1].label, rows[-1].spam_probability, rows[-1].model_version) == (None, None, model.version)


def test_spark_score_dataframe_refuses_a_missing_or_taken_column(spark):
    from spam_classifier.spark import score_dataframe

    df = spark.createDataFrame([("hi", "x")], "body string, label string")
    with pytest.raises(ValueError, match=r"no column 'text' in the DataFrame \(columns: \['body', 'label'\]\)"):
        score_dataframe(df, "text")
    with pytest.raises(ValueError, match=r"already has column\(s\) \['label'\]"):
        score_dataframe(df, "body")


def test_spark_job_scores_a_parquet_dataset_end_to_end(spark, model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spam_classifier.spark import score_files

    texts = [*SMS[:1000], EMAIL]
    source = tmp_path / "messages"
    source.mkdir()
    for part, start in enumerate(range(0, len(texts), 400)):  # a dataset of several files
        chunk = texts[start:start + 400]
        pq.write_table(pa.table({"id": list(range(start, start + len(chunk))), "message": chunk}),
                       source / f"part-{part}.parquet")
    out = tmp_path / "scored"
    score_files(spark, str(source), str(out), text_column="message")
    table = pq.read_table(out).sort_by("id")
    assert table.column_names == ["id", "message", "label", "spam_probability", "model_version"]
    assert table.column("spam_probability").to_pylist() == model.predict_proba(texts)
    assert table.column("label").to_pylist() == model.predict(texts)


def test_spark_submit_runs_the_job_from_the_zipped_runtime_package(tmp_path, model):
    """Driver and workers import spam_classifier only from the zip: their Python runs without the editable install."""
    archive, job = _build_spark_files(tmp_path / "dist")
    python = tmp_path / "python-without-site"  # -S: no .pth files, so no editable spam_classifier; PYTHONPATH below
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    python.chmod(0o755)
    source = tmp_path / "messages.jsonl"
    texts = [*SMS[:300], EMAIL]
    source.write_text("".join(json.dumps({"id": n, "text": text}) + "\n" for n, text in enumerate(texts)))
    out = tmp_path / "scored"
    env = {**os.environ, **_SPARK_ENV, "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python),
           "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    submit = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[2]",
              "--conf", "spark.ui.enabled=false", "--driver-java-options", _JAVA_OPTIONS, "--py-files", str(archive)]
    result = subprocess.run(
        [*submit, str(job), "--input", str(source), "--input-format", "json", "--output", str(out)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import pyarrow.parquet as pq

    table = pq.read_table(out).sort_by("id")
    assert table.column("spam_probability").to_pylist() == model.predict_proba(texts)
    assert set(table.column("model_version").to_pylist()) == {model.version}


def test_spark_zip_holds_the_runtime_only(tmp_path):
    """The workers get the scorer, not the training code: nothing in the zip imports scikit-learn."""
    import zipfile

    archive, _ = _build_spark_files(tmp_path)
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
    assert "spam_classifier/spark.py" in names and "spam_classifier/models/default/model.json" in names
    assert not [name for name in names if name.endswith((".joblib", "train.py", "compiler.py"))]
    check = ("import sys; sys.path.insert(0, sys.argv[1]); from spam_classifier.spark import cached_model;"
             "print(cached_model(None).predict_proba(['WINNER!! Claim your free iPhone now'])[0])")
    result = subprocess.run([sys.executable, "-S", "-c", check, str(archive)], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == load_model().predict_proba(["WINNER!! Claim your free iPhone now"])[0]
