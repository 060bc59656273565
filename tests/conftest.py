"""Shared fixtures: literal mini-corpora and a hand-written compiled model (no scikit-learn needed)."""

from __future__ import annotations

import base64
import os
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from spam_classifier.artifact import Artifact, write_artifact

if TYPE_CHECKING:
    from spam_classifier.store import ModelStore

SHARED = Path(__file__).resolve().parents[2] / "shared"
SMS_PATH = SHARED / "data" / "sms-spam-collection" / "SMSSpamCollection"
# Catalog corpora (`--data NAME`) fill the data directory from this mirror, as `make` does.
os.environ.setdefault("SPAM_CLASSIFIER_MIRROR", str(SHARED / "data"))

HAM_DOCS = [
    "Are we still on for lunch tomorrow at noon?",
    "Can you send me the meeting notes from today",
    "Running late, be there in ten minutes",
    "Happy birthday! Hope you have a lovely day",
    "Did you remember to buy milk on the way home",
    "The train is delayed again, sorry",
]
SPAM_DOCS = [
    "WINNER!! You have won a free prize, claim now",
    "Free entry to win a cash prize, text WIN to 80086",
    "URGENT! Your mobile has won a guaranteed award, call now",
    "Claim your free iPhone now at www.free-prizes.example.com",
    "Congratulations, you won a holiday! Call 09061701461 to claim",
    "Cheap loans, no credit check, reply YES for cash today",
]


#: Packages the serving path must never import: scikit-learn and its stack cost about 800 ms of cold
#: start, boto3 plus a client about 340 ms.
HEAVY_PACKAGES = frozenset({"sklearn", "numpy", "scipy", "joblib", "boto3", "botocore"})


def heavy_modules(modules: list[str]) -> list[str]:
    """The names in `modules` (a child's ``sorted(sys.modules)``) that belong to a heavy package."""
    return [name for name in modules if name.split(".")[0] in HEAVY_PACKAGES]


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Terminate a server a test started, and kill it if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def encode_floats(values: list[float]) -> str:
    """The compiler's float-array encoding: base64 of little-endian float64s."""
    return base64.b64encode(struct.pack(f"<{len(values)}d", *values)).decode("ascii")


def tiny_model_spec(*, intercept: float = -1.0, threshold: float = 0.5) -> dict[str, Any]:
    """A hand-written compiled model: a few word weights, enough to tell SPAM_DOCS from HAM_DOCS."""
    weights = {"free": 3.0, "win": 3.0, "won": 3.0, "prize": 3.0, "claim": 3.0, "cash": 2.0, "urgent": 2.0,
               "lunch": -3.0, "meeting": -3.0, "late": -2.0, "birthday": -2.0, "train": -2.0, "milk": -2.0}
    return {
        "format_version": 1,
        "kind": "test",
        "labels": ["ham", "spam"],
        "threshold": threshold,
        "intercept": intercept,
        "vectorizers": [
            {
                "analyzer": "word",
                "ngram_range": [1, 1],
                "lowercase": True,
                "token_pattern": r"(?u)\b\w\w+\b",
                "stop_words": None,
                "sublinear_tf": True,
                "norm": "l2",
                "terms": list(weights),
                "idf": encode_floats([1.0] * len(weights)),
                "weights": encode_floats(list(weights.values())),
            }
        ],
    }


def make_test_artifact(directory: Path, *, version: str = "v1", intercept: float = -1.0) -> Artifact:
    """Write a small, valid, verified artifact to `directory` and return it."""
    manifest = {"version": version, "created": "2026-01-01T00:00:00Z", "model_kind": "test", "metrics": {}}
    return write_artifact(directory, model=tiny_model_spec(intercept=intercept), manifest=manifest)


@pytest.fixture
def test_artifact_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "artifact"
    make_test_artifact(directory)
    return directory

class Clock:
    """A monotonic clock the test moves by hand (for reload intervals)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def publish(tmp_path: Path) -> Callable[..., str]:
    """Publish test artifact `version` to a store (each with its own intercept), optionally moving `alias`."""
    count = 0

    def publish_version(store: ModelStore, version: str, *, alias: str | None = None) -> str:
        nonlocal count
        count += 1
        directory = tmp_path / "artifacts" / f"{version}-{count}"
        make_test_artifact(directory, version=version, intercept=-float(count))
        return store.publish(directory, alias=alias)

    return publish_version


from s3_server import boto3_reads, s3_bucket, s3_endpoint, s3_outage  # noqa: E402,F401

#: Fixtures of the session's SeaweedFS server, which binds fixed ports.
_S3_FIXTURES = frozenset({"s3_endpoint", "s3_bucket", "s3_outage"})


def _shared_resource(item: pytest.Item) -> str | None:
    """The machine-wide thing `item` shares with other tests, if any."""
    if item.get_closest_marker("s3") or _S3_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "s3"
    module = getattr(item, "module", None)
    if module is not None and "trained" in vars(module):  # tests/trained.py's models take minutes to fit
        return "trained"
    if item.get_closest_marker("spark"):  # one JVM per session
        return "spark"
    return None


#: The groups by how long they run (the trained models take minutes), longest first.
_GROUP_ORDER = ("trained", "s3", "spark")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`-n auto --dist loadgroup`, as `make test` runs), a shared resource stays in one worker.

    The groups also run first, longest first: xdist hands out work in collection order, and a group
    that starts last would finish minutes after everything else.
    """
    groups = {}
    for item in items:
        group = groups[item] = _shared_resource(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: _GROUP_ORDER.index(groups[item]) if groups[item] else len(_GROUP_ORDER))
