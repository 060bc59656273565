"""Benchmark: batch scoring throughput (score --jobs 1/2, PySpark local[1]/[2], the seed in scikit-learn) and memory.

In one run, over the same messages (the de-duplicated SMS Spam Collection and SpamAssassin corpora):

- `spam-classifier score --jobs 1` and `--jobs 2`: the whole command in a fresh process (interpreter start,
  model load, reading, scoring, writing JSONL); SMS as text lines, SpamAssassin as an mbox;
- `spam_classifier.spark.score_dataframe` under PySpark `local[1]` and `local[2]`: Parquet in, Parquet out,
  session start-up excluded (printed apart; a cluster pays it once per job);
- the seed pipeline (the article's TF-IDF + MultinomialNB, trained here on both corpora) in scikit-learn,
  one `predict_proba` call over all messages in this process: the baseline every ratio is against;
- the peak memory of `score --jobs 2` on a generated 2 GB mbox (SpamAssassin messages, each with a 200 KB
  image attachment), deleted afterwards: ru_maxrss of the largest process, and the whole process tree's RSS
  sampled every 0.1 s.

Usage:  .venv/bin/python bench/batch.py [--mbox-gb 2] [--skip-spark]
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from spam_classifier.corpora import load_corpora
from spam_classifier.train import fit_pipeline

SMS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sms-spam-collection" / "SMSSpamCollection"
CLI = Path(sys.executable).parent / "spam-classifier"


def _write_inputs(folder: Path, corpora: dict[str, list[str]]) -> dict[str, Path]:
    """SMS as one message per line; SpamAssassin as an mbox (the separator line replaces a message's own envelope
    line, and body lines starting "From " are quoted, as mbox writers do)."""
    paths = {"sms": folder / "sms.txt", "spamassassin": folder / "spamassassin.mbox"}
    paths["sms"].write_text("".join(" ".join(text.split()) + "\n" for text in corpora["sms"]), encoding="utf-8")
    with paths["spamassassin"].open("wb") as handle:
        for text in corpora["spamassassin"]:
            body = _without_envelope(text).encode("utf-8", errors="replace").replace(b"\nFrom ", b"\n>From ")
            handle.write(b"From bench@example.com Mon Jan  1 00:00:00 2026\n" + body.rstrip(b"\n") + b"\n\n")
    return paths


def _without_envelope(text: str) -> str:
    return text.split("\n", 1)[1] if text.startswith("From ") else text


def _run_score(path: Path, out: Path, jobs: int) -> tuple[float, float]:
    """The command's own timing (reading, scoring, writing; after interpreter start and model load) and wall time."""
    start = time.perf_counter()
    result = subprocess.run([str(CLI), "score", str(path), "--out", str(out), "--jobs", str(jobs), "--no-progress"],
                            check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return float(result.stderr.rsplit(" in ", 1)[1].split(" s ", 1)[0]), wall


def _spark_rates(folder: Path, corpora: dict[str, list[str]], master: str) -> tuple[float, dict[str, float]]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import SparkSession

    from spam_classifier.spark import score_dataframe

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    start = time.perf_counter()
    spark = (SparkSession.builder.master(master).config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").config("spark.sql.shuffle.partitions", "2")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter() - start
    rates = {}
    try:
        for name, texts in corpora.items():
            source = folder / f"{name}.parquet"
            if not source.exists():
                pq.write_table(pa.table({"text": texts}), source, row_group_size=2048)
            df = spark.read.parquet(str(source)).repartition(int(master[6:-1]) * 2)
            start = time.perf_counter()
            score_dataframe(df, "text").write.mode("overwrite").parquet(str(folder / f"{name}-{master}.out"))
            rates[name] = len(texts) / (time.perf_counter() - start)
    finally:
        spark.stop()
    return started, rates


def _make_big_mbox(path: Path, emails: list[str], size: int) -> int:
    attachment = base64.encodebytes(os.urandom(150_000))  # ~200 KB of base64 lines
    count = 0
    with path.open("wb") as handle:
        while handle.tell() < size:
            for text in emails:
                headers, _, body = _without_envelope(text).partition("\n\n")
                headers = "\n".join(line for line in headers.splitlines()
                                    if not line.lower().startswith(("content-type", "mime-version", "content-")))
                message = (f"{headers}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BENCH\"\n\n"
                           f"--BENCH\nContent-Type: text/plain; charset=utf-8\n\n{body}\n--BENCH\n"
                           "Content-Type: image/png; name=\"photo.png\"\nContent-Transfer-Encoding: base64\n\n")
                data = message.encode("utf-8", errors="replace").replace(b"\nFrom ", b"\n>From ")
                handle.write(b"From bench@example.com Mon Jan  1 00:00:00 2026\n" + data + attachment
                             + b"--BENCH--\n\n")
                count += 1
                if handle.tell() >= size:
                    break
    return count


#: Runs a command and prints the largest ru_maxrss (KiB) among it and its descendants, and only those.
_MAXRSS = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def _tree_rss(pid: int) -> int:
    """RSS in bytes of all the descendants of `pid` (not `pid` itself: the wrapper), from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            if current != pid:
                total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, StopIteration):
            continue
    return total


def _peak_memory(path: Path, out: Path) -> tuple[float, int, int, int]:
    """Seconds, messages read, peak tree RSS and ru_maxrss (bytes) of `score --jobs 2` on `path`."""
    start = time.perf_counter()
    command = [str(CLI), "score", str(path), "--out", str(out), "--jobs", "2", "--no-progress"]
    process = subprocess.Popen([sys.executable, "-c", _MAXRSS, *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss(process.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"score failed ({process.returncode}): {stderr}")
    read = int(stderr.split("read ", 1)[1].split(",", 1)[0])
    return time.perf_counter() - start, read, peak[0], int(stdout.strip()) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbox-gb", type=float, default=2.0, help="size of the generated mbox (0: skip)")
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        corpora = {name: load_corpora([source]).messages
                   for name, source in (("sms", f"sms:{SMS}"), ("spamassassin", "spamassassin"))}
        paths = _write_inputs(folder, corpora)
        memory = ""
        if args.mbox_gb > 0:
            big = folder / "big.mbox"
            count = _make_big_mbox(big, corpora["spamassassin"], int(args.mbox_gb * 1e9))
            seconds, read, tree, maxrss = _peak_memory(big, folder / "big.jsonl")
            memory = (f"{big.stat().st_size / 1e9:.2f} GB mbox, {count:,} messages written, {read:,} read: "
                      f"score --jobs 2 in {seconds:.0f} s ({read / seconds:,.0f} msgs/s); peak RSS: largest process "
                      f"{maxrss / 1e6:.0f} MB, whole process tree {tree / 1e6:.0f} MB")
            print(memory, file=sys.stderr)
            big.unlink()
            (folder / "big.jsonl").unlink()
        rates: dict[str, dict[str, float]] = {}

        print("training the seed pipeline on both corpora ...", file=sys.stderr)
        both = load_corpora([f"sms:{SMS}", "spamassassin"])
        seed = fit_pipeline(both.messages, both.labels, kind="seed", folds=3, n_jobs=1).pipeline
        rates["seed pipeline, scikit-learn (1 process)"] = {}
        for name, texts in corpora.items():
            start = time.perf_counter()
            seed.predict_proba(np.asarray(texts, dtype=object))
            rates["seed pipeline, scikit-learn (1 process)"][name] = len(texts) / (time.perf_counter() - start)

        walls: dict[str, dict[str, float]] = {}
        for jobs in (1, 2):
            label = f"score --jobs {jobs}"
            rates[label], walls[label] = {}, {}
            for name, texts in corpora.items():
                seconds, wall = _run_score(paths[name], folder / f"{name}-{jobs}.jsonl", jobs)
                rates[label][name], walls[label][name] = len(texts) / seconds, wall
            print(f"{label}: {rates[label]}, wall {walls[label]}", file=sys.stderr)

        startup = {}
        if not args.skip_spark:
            for master in ("local[1]", "local[2]"):
                startup[master], rates[f"PySpark {master}"] = _spark_rates(folder, corpora, master)
                print(f"{master}: {rates[f'PySpark {master}']}", file=sys.stderr)

        base = rates["seed pipeline, scikit-learn (1 process)"]
        print(f"| contender | SMS ({len(corpora['sms']):,}) msgs/s | vs seed | "
              f"SpamAssassin ({len(corpora['spamassassin']):,}) msgs/s | vs seed |")
        print("|---|---:|---:|---:|---:|")
        for label, row in rates.items():
            print(f"| {label} | {row['sms']:,.0f} | {row['sms'] / base['sms']:.2f}x | {row['spamassassin']:,.0f} | "
                  f"{row['spamassassin'] / base['spamassassin']:.2f}x |")
        one, two = rates["score --jobs 1"], rates["score --jobs 2"]
        print(f"\nscore --jobs 2 / --jobs 1: SMS {two['sms'] / one['sms']:.2f}x, "
              f"SpamAssassin {two['spamassassin'] / one['spamassassin']:.2f}x")
        for master, seconds in startup.items():
            print(f"PySpark {master}: session start-up {seconds:.1f} s (not in the rates above)")
        for label, row in walls.items():
            print(f"{label}: whole command (interpreter, model load, scoring) SMS {row['sms']:.1f} s, "
                  f"SpamAssassin {row['spamassassin']:.1f} s")
        if memory:
            print(f"\n{memory}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
