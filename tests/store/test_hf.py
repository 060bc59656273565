"""``hf://owner/repo[@revision]``: the real huggingface_hub client resolves it from a Hub cache, offline.

The cache is laid out as huggingface_hub lays it out (``models--owner--repo/{blobs,snapshots/<commit>,refs/<ref>}``,
blobs named by their git object id, snapshot files relative symlinks), its folder name comes from the
library's own `repo_folder_name`, and the library's `scan_cache_dir` must read it back before any test
relies on it. Every command then runs in a fresh process with ``HF_HUB_OFFLINE=1``, so the real
`hf_hub_download` resolves refs to commits and snapshot files exactly as it does for a user offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import SPAM_DOCS, make_test_artifact, stop_process
from spam_classifier.errors import ConfigurationError, StoreError
from spam_classifier.scorer import load_model
from spam_classifier.source import parse_model_uri
from spam_classifier.store import HFStore, open_store

CLI = Path(sys.executable).with_name("spam-classifier")
REPO = "alice/spam-classifier"
COMMIT_V1 = "1" * 40
COMMIT_V2 = "2" * 40
TAMPERED = "alice/tampered"


def _git_blob_id(data: bytes) -> str:
    """The name the Hub gives a non-LFS file's blob: its git object id."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lay_out_hub_cache(cache: Path, repo_id: str, commit: str, files: dict[str, bytes], refs: list[str]) -> Path:
    """Put `files` at `commit` of `repo_id` into a Hub cache the way hf_hub_download stores a download."""
    from huggingface_hub.file_download import repo_folder_name

    storage = cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    for name, data in files.items():
        blob = storage / "blobs" / _git_blob_id(data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        pointer = storage / "snapshots" / commit / name
        pointer.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    (storage / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (storage / "refs" / ref).write_text(commit)
    return storage


def _runtime_files(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in ("model.json", "manifest.json")}


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 (tag v1) and v2 (tag v2, branch main) of REPO, plus a README the loader must not need."""
    root = tmp_path_factory.mktemp("hf")
    cache = root / "hub"
    for version, commit, refs in (("v1", COMMIT_V1, ["v1"]), ("v2", COMMIT_V2, ["v2", "main"])):
        make_test_artifact(root / version, version=version, intercept=-1.0 if version == "v1" else -2.0)
        files = {**_runtime_files(root / version), "README.md": b"---\nlicense: apache-2.0\n---\n"}
        lay_out_hub_cache(cache, REPO, commit, files, refs)
    from huggingface_hub import scan_cache_dir

    scanned = scan_cache_dir(cache)
    assert scanned.warnings == []
    [repo] = scanned.repos  # the tampered copy of `offline` comes later
    assert repo.repo_id == REPO
    assert {revision.commit_hash: set(revision.refs) for revision in repo.revisions} == {
        COMMIT_V1: {"v1"}, COMMIT_V2: {"v2", "main"}}
    return cache


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("HF_", "MODEL_URI"))}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(cache.parent / "home"),
            **extra}


#: Each case runs once, through click's CliRunner, in ONE fresh offline process (huggingface_hub reads
#: HF_HUB_OFFLINE and HF_HUB_CACHE at import, and importing it costs a second or more per process).
_CASES = {
    "info-tag": ["info", "--model", f"hf://{REPO}@v1", "--json"],
    "info-main": ["info", "--model", f"hf://{REPO}"],
    "predict-commit": ["predict", "--model", f"hf://{REPO}@{COMMIT_V1}", "--json", SPAM_DOCS[0]],
    "tampered": ["info", "--model", f"hf://{TAMPERED}@v1"],
    "missing-revision": ["info", "--model", f"hf://{REPO}@v9"],
    "missing-repo": ["info", "--model", "hf://nobody/nothing"],
    "bad-uri": ["info", "--model", "hf://not-a-repo-id"],
}
_CHILD = """
import json, sys
from click.testing import CliRunner
from spam_classifier import load_model
from spam_classifier.cli import cli
cases, docs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
runs = {name: CliRunner().invoke(cli, arguments) for name, arguments in cases.items()}
out = {name: {"exit_code": run.exit_code, "stdout": run.stdout, "stderr": run.stderr} for name, run in runs.items()}
model = load_model(sys.argv[3])
out["load_model"] = [model.version, model.predict_proba(docs)]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def offline(hub_cache: Path) -> dict[str, Any]:
    """What each case printed, run offline against the prepared Hub cache."""
    root = hub_cache.parent
    make_test_artifact(root / "tampered", version="v1")
    files = _runtime_files(root / "tampered")
    storage = lay_out_hub_cache(hub_cache, TAMPERED, COMMIT_V1, files, ["v1"])
    blob = storage / "blobs" / _git_blob_id(files["model.json"])
    blob.write_bytes(blob.read_bytes().replace(b'"free"', b'"fre3"'))  # the weight of "free" now reads "fre3"
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(_CASES), json.dumps(SPAM_DOCS), f"hf://{REPO}@v1"],
        capture_output=True, text=True, timeout=120, env=_env(hub_cache), check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_hf_info_reads_a_tag_offline_from_the_hub_cache(offline: dict[str, Any]) -> None:
    assert offline["info-tag"]["exit_code"] == 0, offline["info-tag"]["stderr"]
    assert json.loads(offline["info-tag"]["stdout"])["version"] == "v1"


def test_hf_uri_without_a_revision_means_main(offline: dict[str, Any]) -> None:
    assert offline["info-main"]["exit_code"] == 0, offline["info-main"]["stderr"]
    assert offline["info-main"]["stdout"].splitlines()[0] == "version     v2"
    assert parse_model_uri(f"hf://{REPO}") == (f"hf://{REPO}", "main")


def test_hf_commit_hash_is_a_revision_too(offline: dict[str, Any]) -> None:
    assert offline["predict-commit"]["exit_code"] == 0, offline["predict-commit"]["stderr"]
    assert json.loads(offline["predict-commit"]["stdout"])["model_version"] == "v1"


def test_hf_load_model_in_python_matches_the_artifact(offline: dict[str, Any], tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "v1", version="v1")
    assert offline["load_model"] == ["v1", load_model(tmp_path / "v1").predict_proba(SPAM_DOCS)]


def test_hf_tampered_cached_file_is_refused_with_one_line(offline: dict[str, Any]) -> None:
    run = offline["tampered"]
    assert run["exit_code"] == 1
    assert run["stderr"].count("\n") == 1
    assert run["stderr"].startswith(f"Error: hf://{TAMPERED}@v1 (commit {COMMIT_V1}): model.json does not match "
                                    "its sha256 in the manifest")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing-revision", f"Error: hf://{REPO}@v9: not in the local Hub cache, and the Hub cannot be reached"),
        ("missing-repo", "Error: hf://nobody/nothing@main: not in the local Hub cache"),
        ("bad-uri", "Error: 'hf://not-a-repo-id' is not a Hugging Face model URI"),
    ],
)
def test_hf_missing_revision_or_repo_is_one_line(offline: dict[str, Any], case: str, message: str) -> None:
    assert offline[case]["exit_code"] == 1
    assert offline[case]["stderr"].count("\n") == 1
    assert offline[case]["stderr"].startswith(message)


def test_hf_serve_a_tag_over_http(hub_cache: Path, tmp_path: Path) -> None:
    from test_server import free_port

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen([str(CLI), "serve", "--model", f"hf://{REPO}@v1", "--port", str(port)],
                                   env=_env(hub_cache), stdout=output, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                health = httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        assert health.status_code == 200
        assert health.json()["model_version"] == "v1"
        reply = httpx.post(f"{url}/predict", json={"message": SPAM_DOCS[0]}, timeout=10)
        assert reply.status_code == 200
        assert reply.json()["prediction"] == "spam"
        assert reply.json()["model_version"] == "v1"
    finally:
        stop_process(process)


def test_hf_store_is_read_only_and_checks_its_uri() -> None:
    store = open_store(f"hf://{REPO}")
    assert isinstance(store, HFStore)
    for operation in (lambda: store.publish("x"), lambda: store.promote("v1", alias="production"),
                      lambda: store.rollback(alias="production"), store.list_versions):
        with pytest.raises(StoreError, match="an hf:// store is read-only; write a folder with"):
            operation()
    with pytest.raises(ConfigurationError, match="is not a Hugging Face model URI"):
        open_store("hf://just-a-name")
    with pytest.raises(ConfigurationError, match="is not a branch, tag or commit name"):
        store.resolve("refs/pr/1")
