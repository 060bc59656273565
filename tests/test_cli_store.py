"""The store commands: publish, promote, rollback and versions, run in-process with click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import make_test_artifact, tiny_model_spec
from spam_classifier.artifact import write_artifact
from spam_classifier.cli import cli


def _run(*arguments: str) -> Result:
    return CliRunner().invoke(cli, list(arguments), prog_name="spam-classifier")


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A folder store holding v1 (production) and v2 (with metrics, on no alias)."""
    make_test_artifact(tmp_path / "v1", version="v1")
    manifest = {"version": "v2", "created": "2026-01-02T00:00:00Z", "metrics": {"f1": 0.97125, "ham_fpr": 0.001}}
    write_artifact(tmp_path / "v2", model=tiny_model_spec(intercept=-2.0), manifest=manifest)
    uri = str(tmp_path / "store")
    assert _run("publish", str(tmp_path / "v1"), "--store", uri, "--alias", "production").exit_code == 0
    assert _run("publish", str(tmp_path / "v2"), "--store", uri).exit_code == 0
    return uri


def test_publish_prints_the_version_and_the_alias(tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "model", version="v1")
    uri = str(tmp_path / "store")

    result = _run("publish", str(tmp_path / "model"), "--store", uri, "--alias", "production")

    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        f"Published version v1 to {uri}\nAlias production now points at v1\n",
        "",
    )


def test_publish_without_alias_prints_only_the_version(tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "model", version="v1")

    result = _run("publish", str(tmp_path / "model"), "--store", "memory://cli-publish")

    assert (result.exit_code, result.stdout) == (0, "Published version v1 to memory://cli-publish\n")


def test_publish_tampered_artifact_fails_with_one_line(tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "model", version="v1")
    (tmp_path / "model" / "model.json").write_text("{}")

    result = _run("publish", str(tmp_path / "model"), "--store", str(tmp_path / "store"))

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: {tmp_path / 'model'}: model.json does not match its sha256 in the manifest (tampered with or "
        "truncated); refusing to load it\n"
    )


def test_publish_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = _run("publish", str(tmp_path / "nothing"), "--store", str(tmp_path / "store"))

    assert result.exit_code == 2
    assert f"Directory '{tmp_path / 'nothing'}' does not exist." in result.stderr


def test_promote_moves_the_alias(store: str) -> None:
    result = _run("promote", "v2", "--store", store, "--alias", "production")

    assert (result.exit_code, result.stdout) == (0, "Alias production now points at v2\n")
    assert json.loads((Path(store) / "aliases" / "production.json").read_text())["history"] == ["v1"]


def test_promote_unknown_version_fails_with_one_line(store: str) -> None:
    result = _run("promote", "v9", "--store", store, "--alias", "production")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: no version 'v9' in {store}; list them with: spam-classifier versions --store {store}\n"
    )


def test_promote_invalid_alias_fails_with_one_line(store: str) -> None:
    result = _run("promote", "v2", "--store", store, "--alias", "Production")

    assert (result.exit_code, result.stderr) == (
        1,
        "Error: alias 'Production' is not a valid alias name: use up to 63 lowercase letters, digits, '_' or '-', "
        "starting with a letter (e.g. production)\n",
    )


def test_rollback_returns_to_the_previous_version(store: str) -> None:
    _run("promote", "v2", "--store", store, "--alias", "production")

    result = _run("rollback", "--store", store, "--alias", "production")

    assert (result.exit_code, result.stdout) == (0, "Alias production rolled back to v1\n")


def test_rollback_without_history_fails_with_one_line(store: str) -> None:
    result = _run("rollback", "--store", store, "--alias", "production")

    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: alias 'production' in {store} has no earlier version to roll back to (it points at v1); "
        "promote a version instead\n",
    )


def test_versions_prints_a_table(store: str) -> None:
    result = _run("versions", "--store", store)

    assert (result.exit_code, result.stdout.splitlines()) == (
        0,
        [
            "VERSION  CREATED               F1      HAM_FPR  ALIASES",
            "v1       2026-01-01T00:00:00Z  -       -        production",
            "v2       2026-01-02T00:00:00Z  0.9712  0.0010   -",
        ],
    )


def test_versions_json_lists_every_field(store: str) -> None:
    result = _run("versions", "--store", store, "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {"version": "v1", "created": "2026-01-01T00:00:00Z", "metrics": {}, "aliases": ["production"]},
        {"version": "v2", "created": "2026-01-02T00:00:00Z", "metrics": {"f1": 0.97125, "ham_fpr": 0.001},
         "aliases": []},
    ]  # fmt: skip


def test_versions_missing_folder_fails_with_one_line(tmp_path: Path) -> None:
    result = _run("versions", "--store", str(tmp_path / "nowhere"))

    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: no model store at {tmp_path / 'nowhere'} (no such folder); publish a model there to create it\n",
    )


@pytest.mark.s3
def test_versions_missing_bucket_fails_with_one_line(s3_endpoint: str) -> None:
    result = _run("versions", "--store", "s3://no-such-bucket-cli/spam")

    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: s3://no-such-bucket-cli/spam: bucket 'no-such-bucket-cli' does not exist at {s3_endpoint}; "
        "create it or fix the store URI\n",
    )


@pytest.mark.s3
def test_publish_promote_and_versions_work_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    make_test_artifact(tmp_path / "model", version="v1")
    uri = f"s3://{s3_bucket}/spam"

    assert _run("publish", str(tmp_path / "model"), "--store", uri, "--alias", "staging").exit_code == 0
    assert _run("promote", "v1", "--store", uri, "--alias", "production").exit_code == 0
    assert _run("versions", "--store", uri).stdout.splitlines()[1] == (
        "v1       2026-01-01T00:00:00Z  -   -        production,staging"
    )


@pytest.mark.parametrize("command", ["publish", "promote", "rollback", "versions"])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_store_command_help_has_an_example(command: str, flag: str) -> None:
    result = _run(command, flag)

    assert result.exit_code == 0
    assert f"Usage: spam-classifier {command} [OPTIONS]" in result.stdout
    assert f"Example:\n      spam-classifier {command} " in result.stdout
    assert "--store URI" in result.stdout
