"""The same scorer on Apache Spark: a DataFrame function and a runnable job (EMR, EMR Serverless, Glue, Databricks).

`score_dataframe` adds ``label``, ``spam_probability`` and ``model_version`` columns with ``mapInArrow``:
each Python worker process loads the model once (a module-level cache keyed by model URI) and scores
Arrow record batches with the stdlib scorer, so the cluster needs this package (a zip, see
scripts/build_spark.py) and pyarrow, never scikit-learn. pyspark and pyarrow are imported inside the
functions only: importing this module costs nothing on the serving path.

Run the job with ``spark-submit --py-files spam_classifier.zip spark_job.py --input ... --output ...``
or ``python -m spam_classifier.spark ...``; docs/batch.md has the EMR Serverless and Glue lines.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from .errors import SpamClassifierError
from .scorer import DEFAULT_MODEL_DIR, Model

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["INPUT_FORMATS", "OUTPUT_COLUMNS", "cached_model", "main", "score_dataframe", "score_files", "score_table"]

INPUT_FORMATS = ("parquet", "json", "text")
#: The columns `score_dataframe` adds, in order.
OUTPUT_COLUMNS = ("label", "spam_probability", "model_version")

_models: dict[str | None, Model] = {}
_models_lock = threading.Lock()


def cached_model(model_uri: str | None) -> Model:
    """The model of `model_uri`, loaded once per process (a Spark Python worker is reused across tasks)."""
    model = _models.get(model_uri)
    if model is None:
        with _models_lock:
            model = _models.get(model_uri)
            if model is None:
                model = _models[model_uri] = _load(model_uri)
    return model


def _load(model_uri: str | None) -> Model:
    """The shipped model is read through importlib.resources when the package runs from a zip (--py-files)."""
    if not model_uri and not DEFAULT_MODEL_DIR.is_dir():
        from .artifact import RUNTIME_FILES, artifact_from_files

        folder = resources.files("spam_classifier") / "models" / "default"
        return Model(artifact_from_files({name: (folder / name).read_bytes() for name in RUNTIME_FILES},
                                         source="spam_classifier/models/default"))
    from .source import ModelSource

    source = ModelSource(model_uri, reload_seconds=0)
    if source.model is None:
        raise SpamClassifierError(source.error or f"cannot load the model {model_uri!r}")
    return source.model


def score_table(table: Any, text_column: str, model_uri: str | None = None) -> Any:
    """A pyarrow RecordBatch or Table with the three output columns appended; a null text gets null outputs."""
    import pyarrow as pa

    model = cached_model(model_uri)
    labels: list[str | None] = []
    probabilities: list[float | None] = []
    for text in table.column(text_column).to_pylist():
        if text is None:
            labels.append(None)
            probabilities.append(None)
            continue
        prediction = model.score([text])[0]
        labels.append(prediction.label)
        probabilities.append(prediction.spam_probability)
    columns = [*table.columns, pa.array(labels, pa.string()), pa.array(probabilities, pa.float64()),
               pa.array([model.version] * len(labels), pa.string())]
    names = [*table.schema.names, *OUTPUT_COLUMNS]
    return type(table).from_arrays(columns, names=names)


def score_dataframe(df: DataFrame, text_col: str = "text", model_uri: str | None = None) -> DataFrame:
    """`df` with ``label``, ``spam_probability`` and ``model_version`` columns added, scored on the executors.

    `model_uri` is any model URI (artifact directory reachable from every executor, ``s3://bucket/prefix@alias``)
    or None for the model shipped in the package. An alias is resolved by each worker when it first loads the
    model; pin a version (``...@<version>``) for a run that must use exactly one.
    """
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    if text_col not in df.columns:
        raise ValueError(f"no column {text_col!r} in the DataFrame (columns: {df.columns})")
    taken = sorted(set(OUTPUT_COLUMNS) & set(df.columns))
    if taken:
        raise ValueError(f"the DataFrame already has column(s) {taken}; rename or drop them first")
    schema = StructType([*df.schema.fields, StructField("label", StringType()),
                         StructField("spam_probability", DoubleType()), StructField("model_version", StringType())])

    def score_batches(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            yield score_table(batch, text_col, model_uri)

    return df.mapInArrow(score_batches, schema)


def score_files(spark: SparkSession, input_path: str, output_path: str, *, input_format: str = "parquet",
                text_column: str = "text", model_uri: str | None = None, mode: str = "errorifexists") -> None:
    """Read Parquet, JSON lines or text (one message per line) at `input_path`, score it, write Parquet."""
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input format {input_format!r} is not one of {', '.join(INPUT_FORMATS)}")
    if input_format == "text":  # one message per line, in a column named `text_column`
        df = spark.read.text(input_path).withColumnRenamed("value", text_column)
    elif input_format == "json":
        df = spark.read.json(input_path)
    else:
        df = spark.read.parquet(input_path)
    score_dataframe(df, text_column, model_uri).write.mode(mode).parquet(output_path)


def main(argv: Sequence[str] | None = None) -> int:
    """The job: read Parquet, JSON lines or text, score, write Parquet."""
    parser = argparse.ArgumentParser(prog="python -m spam_classifier.spark", description=main.__doc__)
    parser.add_argument("--input", required=True, help="A path or URI Spark can read (s3://, hdfs://, a folder).")
    parser.add_argument("--input-format", choices=INPUT_FORMATS, default="parquet")
    parser.add_argument("--text-column", default="text", help="The message column (text input: its name).")
    parser.add_argument("--model", default=None, help="A model URI; default: the model shipped in the package.")
    parser.add_argument("--output", required=True, help="Where to write the Parquet dataset.")
    parser.add_argument("--mode", choices=("errorifexists", "overwrite"), default="errorifexists")
    parser.add_argument("--master", default=None, help="Only without spark-submit, e.g. local[2].")
    # AWS Glue adds its own arguments (--JOB_NAME, --JOB_RUN_ID, --TempDir, ...) to every job: ignore them.
    args, _ = parser.parse_known_args(argv)

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("spam-classifier score")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        score_files(spark, args.input, args.output, input_format=args.input_format, text_column=args.text_column,
                    model_uri=args.model, mode=args.mode)
    finally:
        spark.stop()
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
