"""Load test: our server against the seed-style Flask + scikit-learn server, same load, same machine, one table.

Starts both on free loopback ports, each with one worker process:

- ours: ``spam-classifier serve`` (uvicorn, one process) with the shipped model, or when the package has none,
  a model trained here once with ``spam-classifier train`` on the SMS corpus (kept in build/bench-model);
- seed: bench/seed_server.py (Flask, a joblib-loaded TF-IDF + MultinomialNB pipeline as in the article) under
  gunicorn, one process with 8 threads (gthread, so it keeps connections alive as uvicorn does).

Then drives each in turn with CONCURRENCY keep-alive connections (asyncio, raw HTTP/1.1 on loopback, one message
per POST /predict, messages from the SMS corpus) for DURATION seconds after a warm-up, and prints requests/s,
latency p50/p99 and errors per server, with the ratios. Loopback only; bounded in time and in request count.

The seed server needs Flask, scikit-learn, joblib and gunicorn, which are not project dependencies: give it a
Python that has them (default /tmp/seed-venv/bin/python; create it with
``python3 -m venv /tmp/seed-venv && /tmp/seed-venv/bin/pip install flask scikit-learn joblib gunicorn``).

Usage:  .venv/bin/python bench/load.py [--duration 20] [--concurrency 32] [--seed-python PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMS = ROOT.parent / "shared" / "data" / "sms-spam-collection" / "SMSSpamCollection"
SHIPPED_MODEL = ROOT / "src" / "spam_classifier" / "models" / "default"
MAX_REQUESTS = 2_000_000  # a hard cap per server, whatever the duration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _our_model(build: Path) -> tuple[str, Path | None]:
    if (SHIPPED_MODEL / "manifest.json").is_file():
        return "shipped model", None
    model = ROOT / "build" / "bench-model"
    if not (model / "manifest.json").is_file():
        cli = Path(sys.executable).with_name("spam-classifier")
        subprocess.run([str(cli), "train", "--data", f"sms:{SMS}", "--out", str(model)], check=True)
    return f"trained on SMS ({model.relative_to(ROOT)})", model


def _seed_model(build: Path, seed_python: str) -> Path:
    model = build / "seed.joblib"
    if not model.is_file():
        subprocess.run([seed_python, str(ROOT / "bench" / "seed_server.py"), "train", str(SMS), str(model)], check=True)
    return model


def _wait_until_up(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    body = b'{"message": "hello"}'
    request = (b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{name} did not answer within 60 s")


class _Load:
    """CONCURRENCY keep-alive connections posting messages until the deadline; latencies and errors."""

    def __init__(self, port: int, messages: list[bytes], concurrency: int) -> None:
        self.port = port
        self.requests = [
            b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
            for body in messages
        ]
        self.concurrency = concurrency
        self.latencies: list[float] = []
        self.errors = 0
        self.count = 0

    async def run(self, seconds: float, *, record: bool) -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(self._connection(index, deadline, record) for index in range(self.concurrency)))

    async def _connection(self, index: int, deadline: float, record: bool) -> None:
        rng = random.Random(index)
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            while time.perf_counter() < deadline and self.count < MAX_REQUESTS:
                started = time.perf_counter()
                try:
                    writer.write(rng.choice(self.requests))
                    head = await reader.readuntil(b"\r\n\r\n")
                    status = int(head[9:12])
                    length, close = 0, False
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        name = name.strip().lower()
                        if name == b"content-length":
                            length = int(value)
                        elif name == b"connection" and value.strip().lower() == b"close":
                            close = True
                    await reader.readexactly(length)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    status, close = 0, True
                if record:
                    self.count += 1
                    self.latencies.append(time.perf_counter() - started)
                    self.errors += status != 200
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        finally:
            writer.close()


def _measure(name: str, port: int, messages: list[bytes], args: argparse.Namespace) -> dict[str, float | str]:
    load = _Load(port, messages, args.concurrency)
    asyncio.run(load.run(args.warmup, record=False))
    started = time.perf_counter()
    asyncio.run(load.run(args.duration, record=True))
    elapsed = time.perf_counter() - started
    latencies = sorted(load.latencies)
    return {
        "server": name,
        "requests": load.count,
        "rps": load.count / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        "errors": load.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per server")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed-python", default=os.environ.get("SEED_PYTHON", "/tmp/seed-venv/bin/python"))
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-load")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    our_label, our_model = _our_model(args.out)
    seed_model = _seed_model(args.out, args.seed_python)
    lines = [line.split("\t", 1)[1] for line in SMS.read_text(encoding="utf-8").splitlines() if "\t" in line]
    messages = [json.dumps({"message": text}).encode() for text in random.Random(0).sample(lines, 500)]

    our_port, seed_port = _free_port(), _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MODEL_", "API_KEY"))}
    cli = Path(sys.executable).with_name("spam-classifier")
    ours_command = [str(cli), "serve", "--host", "127.0.0.1", "--port", str(our_port)]
    if our_model is not None:
        ours_command += ["--model", str(our_model)]
    gunicorn = Path(args.seed_python).with_name("gunicorn")
    seed_command = [str(gunicorn), "-w", "1", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{seed_port}",
                    "--log-level", "warning", "seed_server:app"]  # fmt: skip
    processes = {
        "ours": subprocess.Popen(ours_command, env=env, stdout=subprocess.DEVNULL),
        "seed": subprocess.Popen(seed_command, env={**env, "SEED_MODEL": str(seed_model)}, cwd=ROOT / "bench",
                                 stdout=subprocess.DEVNULL),
    }  # fmt: skip
    try:
        _wait_until_up(our_port, processes["ours"], "spam-classifier serve")
        _wait_until_up(seed_port, processes["seed"], "the seed server")
        results = [
            _measure("ours: spam-classifier serve (uvicorn, 1 process)", our_port, messages, args),
            _measure("seed: Flask + sklearn (gunicorn gthread, 1 process, 8 threads)", seed_port, messages, args),
        ]
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(timeout=10)

    ours, seed = results
    print(f"\n{args.concurrency} keep-alive connections, {args.duration:.0f} s per server after {args.warmup:.0f} s "
          f"warm-up, one SMS message per POST /predict; our model: {our_label}\n")  # fmt: skip
    print("| server | requests | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in results:
        print(f"| {row['server']} | {row['requests']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} "
              f"| {row['errors']} |")  # fmt: skip
    print(f"| ratio ours / seed | | {ours['rps'] / seed['rps']:.1f}x | {ours['p50_ms'] / seed['p50_ms']:.2f}x "
          f"| {ours['p99_ms'] / seed['p99_ms']:.2f}x | |")  # fmt: skip
    report = {"args": {name: str(value) for name, value in vars(args).items()}, "our_model": our_label}
    (args.out / "results.json").write_text(json.dumps({**report, "results": results}, indent=2))


if __name__ == "__main__":
    main()
