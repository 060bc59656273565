"""Deployment size and cold start: our Lambda package against a seed-style one, in one run, on this machine.

    .venv/bin/python bench/deploy_size_coldstart.py [--runs 5] [--keep DIR]

Both packages are built the same way, by scripts/build_lambda.py run with the python3.12 runtime stand-in
(pinned cp312 manylinux wheels, `tests` folders stripped, unchecked-hash .pyc):

    ours         spam_classifier + mangum (deploy/requirements-lambda.txt), what `sam build` ships
    seed-style   scikit-learn + joblib + numpy + scipy (+ threadpoolctl) and a tiny handler that, at INIT,
                 downloads a pickled TF-IDF + MultinomialNB pipeline from S3 and joblib-loads it

Each package then starts fresh `--runs` times under the Lambda Runtime Interface Emulator, with its model
fetched from a local S3 server (SeaweedFS, started here; its fixed ports must be free, so not during a test
session). Ours runs three ways: with the very same TF-IDF + NB pipeline compiled to model.json (like for like),
with the shipped default model (or ``--model DIR``) from S3, and with the default model that the package itself
holds (MODEL_URI unset, no S3), when there is one. Each fresh start gets an empty MODEL_CACHE_DIR, as a new
execution environment has an empty /tmp, so every S3 variant really fetches its model. Reported per variant:
INIT (the RIE's ``INIT REPORT durationMs``), the first response as the client sees it (process start + INIT +
invoke) and a warm invoke, each the median of the runs. Needs `make tools` and the SMS corpus in ../shared/data.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import requires, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"
RIE = TOOLS / "aws-lambda-rie"
LAMBDA_PYTHON = TOOLS / "lambda-python3.12" / "bin" / "python"
BUILD_SCRIPT = ROOT / "scripts" / "build_lambda.py"
SMS = ROOT.parent / "shared" / "data" / "sms-spam-collection" / "SMSSpamCollection"
EVENT = ROOT / "tests" / "events" / "http-api" / "predict-spam.json"
SHIPPED_MODEL = ROOT / "src" / "spam_classifier" / "models" / "default"
BUCKET = "bench-deploy"
S3_PORT = 18333
WEED_PORTS = (9333, 19333, 9340, 19340, 8888, 18888, S3_PORT, S3_PORT + 10000, 23646, 33646)
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "testtest",
    "AWS_REGION": "us-east-1",
    "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{S3_PORT}",
    "AWS_EC2_METADATA_DISABLED": "true",
}
SEED_PACKAGES = ("scikit-learn", "numpy", "scipy", "joblib")  # and what they require

SEED_HANDLER = '''"""Seed-style handler: scikit-learn pipeline pickled with joblib, downloaded from S3 at INIT."""
import base64
import io
import json
import os

import boto3
import joblib

_body = boto3.client("s3").get_object(Bucket=os.environ["MODEL_BUCKET"], Key=os.environ["MODEL_KEY"])["Body"].read()
_pipeline = joblib.load(io.BytesIO(_body))


def handler(event, context):
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    payload = json.loads(body)
    messages = payload["messages"] if "messages" in payload else [payload["message"]]
    probabilities = _pipeline.predict_proba(messages)[:, 1]
    predictions = [
        {"prediction": "spam" if p >= 0.5 else "ham", "spam_probability": float(p)} for p in probabilities
    ]
    result = {"predictions": predictions} if "messages" in payload else predictions[0]
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(result)}
'''


@dataclass
class Variant:
    """One package + model combination, and what its fresh starts measured."""

    name: str
    function_dir: Path
    handler: str
    env: dict[str, str]
    model_note: str
    init_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    predictions: set[str] = field(default_factory=set)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh starts per variant (median reported)")
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it (default: a temporary one)")
    parser.add_argument(
        "--model", type=Path, default=SHIPPED_MODEL, help="our model artifact (default: the shipped one)"
    )
    args = parser.parse_args()
    missing = [str(path) for path in (RIE, LAMBDA_PYTHON) if not path.is_file()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make tools`")
    if not SMS.is_file():
        sys.exit(f"missing the SMS corpus at {SMS}")
    os.environ.update(S3_ENV)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    work.mkdir(parents=True, exist_ok=True)
    weed = start_seaweedfs(work / "seaweedfs")
    try:
        variants = prepare(work, args.model)
        for run in range(args.runs):  # interleaved, so a busy moment on the machine hits every variant alike
            for number, variant in enumerate(variants):
                measure(variant, work / f"rie-{number}-{run}.log")
                print(
                    f"  {variant.name}: run {run + 1}: INIT {variant.init_ms[-1]:.0f} ms, first response "
                    f"{variant.first_ms[-1]:.0f} ms",
                    file=sys.stderr,
                )
        report(variants)
    finally:
        weed.send_signal(signal.SIGTERM)
        weed.wait(timeout=30)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def prepare(work: Path, model_dir: Path) -> list[Variant]:
    """Train the seed pipeline, put every model in S3, build both packages; the variants to measure."""
    import boto3
    import joblib
    from sklearn.pipeline import Pipeline

    from spam_classifier.compiler import save_model
    from spam_classifier.store import open_store
    from spam_classifier.train import build_pipeline

    print("bench: training the seed-style TF-IDF + MultinomialNB pipeline on the SMS corpus", file=sys.stderr)
    labels, messages = zip(
        *(line.split("\t", 1) for line in SMS.read_text(encoding="utf-8").splitlines() if line), strict=True
    )
    fitted = build_pipeline("seed").fit(list(messages), list(labels))
    # A plain scikit-learn Pipeline of the same fitted steps: build_pipeline returns our SpamPipeline subclass,
    # whose pickle would need spam_classifier, which the seed-style package does not (and must not) hold.
    pipeline = Pipeline(fitted.steps)
    pickled = io.BytesIO()
    joblib.dump(pipeline, pickled)  # as the seed did: an uncompressed joblib pickle
    s3 = boto3.session.Session().client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="seed/model.joblib", Body=pickled.getvalue())
    manifest = {"created": "2026-01-01T00:00:00Z", "model_kind": "seed", "metrics": {}}
    shutil.rmtree(work / "seed-compiled", ignore_errors=True)
    compiled = save_model(pipeline, work / "seed-compiled", kind="seed", manifest=manifest, include_pipeline=False)
    open_store(f"s3://{BUCKET}/models-seed").publish(work / "seed-compiled", alias="production")
    notes = {
        "seed": f"seed NB pipeline, joblib {len(pickled.getvalue()) / 1e6:.1f} MB, from S3",
        "compiled": f"same NB pipeline, model.json {len(compiled.files['model.json']) / 1e6:.1f} MB, from S3",
    }
    shipped = (model_dir / "manifest.json").is_file()
    if shipped:
        open_store(f"s3://{BUCKET}/models").publish(model_dir, alias="production")
        notes["shipped"] = (
            f"{model_dir.name}, model.json {(model_dir / 'model.json').stat().st_size / 1e6:.1f} MB, from S3"
        )
    packaged = (SHIPPED_MODEL / "manifest.json").is_file()  # build_lambda.py copies it into the package
    if packaged:
        notes["packaged"] = (
            f"{SHIPPED_MODEL.name}, model.json {(SHIPPED_MODEL / 'model.json').stat().st_size / 1e6:.1f} MB, "
            "in the package (MODEL_URI unset)"
        )

    print("bench: building both packages with scripts/build_lambda.py (python3.12, .pyc)", file=sys.stderr)
    ours, seed = work / "ours", work / "seed-style"
    build(
        ours,
        "--pure",
        "--source",
        str(ROOT / "src" / "spam_classifier"),
        "--requirements",
        str(ROOT / "deploy" / "requirements-lambda.txt"),
    )
    (work / "seed-src").mkdir(exist_ok=True)
    (work / "seed-src" / "seed_handler.py").write_text(SEED_HANDLER)
    pins = "".join(f"{name}=={version(name)}\n" for name in sorted(dependency_closure(SEED_PACKAGES)))
    (work / "seed-requirements.txt").write_text(pins)
    build(
        seed,
        "--source",
        str(work / "seed-src" / "seed_handler.py"),
        "--requirements",
        str(work / "seed-requirements.txt"),
    )

    handler = "spam_classifier.aws_lambda.handler"
    variants = [
        Variant(
            "seed-style",
            seed,
            "seed_handler.handler",
            {"MODEL_BUCKET": BUCKET, "MODEL_KEY": "seed/model.joblib"},
            notes["seed"],
        )
    ]
    variants.append(
        Variant(
            "ours (same NB model)",
            ours,
            handler,
            {"MODEL_URI": f"s3://{BUCKET}/models-seed@production"},
            notes["compiled"],
        )
    )
    if shipped:
        variants.append(
            Variant(
                f"ours ({model_dir.name} model, S3)",
                ours,
                handler,
                {"MODEL_URI": f"s3://{BUCKET}/models@production"},
                notes["shipped"],
            )
        )
    if packaged:
        variants.append(Variant(f"ours ({SHIPPED_MODEL.name} model, packaged)", ours, handler, {}, notes["packaged"]))
    return variants


def dependency_closure(names: tuple[str, ...]) -> set[str]:
    """`names` and everything they require, as installed here: the versions that trained and pickled the model."""
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name.lower() in found:
            continue
        found.add(name.lower())
        for requirement in requires(name) or ():
            if "extra ==" not in requirement:
                pending.append(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
    return found


def build(out: Path, *arguments: str) -> None:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # uv
    subprocess.run(
        [str(LAMBDA_PYTHON), str(BUILD_SCRIPT), "--out", str(out), *arguments],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def measure(variant: Variant, log_path: Path) -> None:
    """One fresh start: RIE up, one cold invoke (timed), five warm ones, INIT from the log, RIE down."""
    port, api_port = free_port(), free_port()
    cache_dir = Path(tempfile.mkdtemp(prefix="model-cache-", dir=log_path.parent))  # a new environment's empty /tmp
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("MODEL_", "PYTHON"))},
        **variant.env,
        "MODEL_CACHE_DIR": str(cache_dir),
        "PATH": f"{LAMBDA_PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's code folder is read-only
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
    }
    command = [
        str(RIE),
        "--runtime-interface-emulator-address",
        f"127.0.0.1:{port}",
        "--runtime-api-address",
        f"127.0.0.1:{api_port}",
        str(LAMBDA_PYTHON),
        "-m",
        "awslambdaric",
        variant.handler,
    ]
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    event = EVENT.read_bytes()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=variant.function_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process)
        started = time.perf_counter()
        result = invoke(url, event)
        variant.first_ms.append((time.perf_counter() - started) * 1000)
        for _ in range(5):
            started = time.perf_counter()
            invoke(url, event)
            variant.warm_ms.append((time.perf_counter() - started) * 1000)
        variant.predictions.add(json.loads(result["body"])["prediction"])
        deadline = time.monotonic() + 5
        while not (found := re.findall(r"INIT REPORT\(durationMs: ([0-9.]+)\)", log_path.read_text())):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no INIT REPORT in {log_path}")
            time.sleep(0.05)
        variant.init_ms.append(float(found[0]))
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(cache_dir, ignore_errors=True)


def invoke(url: str, event: bytes) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, data=event, method="POST"), timeout=60) as response:
        result = json.loads(response.read())
    if result.get("statusCode") != 200:
        raise RuntimeError(f"the function answered {result}")
    return result


def report(variants: list[Variant]) -> None:
    sizes = {path: package_size(path) for path in {variant.function_dir for variant in variants}}
    seed = variants[0]
    print(
        f"\nLambda package size and cold start under the RIE (python3.12, x86_64, {len(seed.init_ms)} fresh starts "
        "each, medians; models from SeaweedFS S3 on 127.0.0.1 unless packaged)\n"
    )
    print("| package | model | unzipped MB | zipped MB | files | INIT ms | first response ms | warm ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for variant in variants:
        unzipped, zipped, files = sizes[variant.function_dir]
        print(
            f"| {variant.name} | {variant.model_note} | {unzipped / 1e6:.1f} | {zipped / 1e6:.1f} | {files} | "
            f"{median(variant.init_ms):.0f} | {median(variant.first_ms):.0f} | {median(variant.warm_ms):.1f} |"
        )
    seed_size = sizes[seed.function_dir]
    print("\n| seed-style / ours | unzipped size | zipped size | INIT | first response |")
    print("|---|---:|---:|---:|---:|")
    for variant in variants[1:]:
        size = sizes[variant.function_dir]
        print(
            f"| {variant.name} | {seed_size[0] / size[0]:.0f}x | {seed_size[1] / size[1]:.0f}x | "
            f"{median(seed.init_ms) / median(variant.init_ms):.1f}x | "
            f"{median(seed.first_ms) / median(variant.first_ms):.1f}x |"
        )
    print(
        f"\npredictions for tests/events/http-api/predict-spam.json: "
        f"{ {variant.name: sorted(variant.predictions) for variant in variants} }"
    )


def package_size(path: Path) -> tuple[int, int, int]:
    """Unzipped bytes, zipped bytes (deflate), files."""
    files = sorted(p for p in path.rglob("*") if p.is_file())
    with tempfile.TemporaryFile() as scratch:
        with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in files:
                archive.write(file, file.relative_to(path).as_posix())
        zipped = scratch.tell()
    return sum(file.stat().st_size for file in files), zipped, len(files)


def median(values: list[float]) -> float:
    return statistics.median(values)


def start_seaweedfs(data_dir: Path) -> subprocess.Popen[bytes]:
    """`weed mini` on 127.0.0.1 (telemetry off), as tests/s3_server.py runs it; returns once S3 answers."""
    busy = [port for port in WEED_PORTS if port_open(port)]
    if busy:
        sys.exit(f"ports {busy} on 127.0.0.1 are in use (a test session's SeaweedFS?); stop it and run again")
    shutil.rmtree(data_dir, ignore_errors=True)  # a fresh, empty store every run
    data_dir.mkdir(parents=True)
    command = [
        str(Path(sys.executable).parent / "weed"), "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-s3.port={S3_PORT}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
        "-master.telemetry=false",
    ]  # fmt: skip
    with (data_dir.parent / "seaweedfs.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir)
    deadline = time.monotonic() + 60
    while not port_open(S3_PORT) or not s3_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"SeaweedFS did not start; see {data_dir.parent / 'seaweedfs.log'}")
        time.sleep(0.2)
    return process


def s3_answers() -> bool:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.session.Session().client("s3").list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the RIE did not listen on {port}")
        time.sleep(0.02)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
