"""Gated retraining (issue #11, "Done when"): poisoned feedback is refused, honest feedback is promoted.

A folder store holds a seed champion trained on the base corpus minus the trusted check set; each test
adds feedback and runs `spam-classifier retrain` through CliRunner. The base check set holds 133 spam,
so one spam is 0.0075 of recall: the recall margin is 0.03 (4 spam), wider than the default 0.01.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from retrain_data import champion, honest, poison
from spam_classifier.cli import cli
from spam_classifier.corpora.catalog import CATALOG
from spam_classifier.errors import CorpusError
from spam_classifier.evaluate import source_weights
from spam_classifier.feedback import new_report, record_feedback
from spam_classifier.retrain import EXIT_REFUSED, base_sources, check_set_mask
from spam_classifier.store import ModelStore, open_store
from spam_classifier.workflows import parse_source_weights


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return champion(tmp_path_factory.mktemp("retrain-base"))


def fresh_store(tmp_path: Path, champion_dir: Path) -> tuple[ModelStore, str]:
    store = open_store(str(tmp_path / "store"))
    return store, store.publish(champion_dir, alias="production")


def run_retrain(store: ModelStore, base: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["retrain", "--store", store.uri, "--alias", "production", "--data", base,
                                      "--model", "seed", "--recall-margin", "0.03", "--jobs", "1", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_retrain_refuses_poisoned_feedback_and_the_champion_keeps_serving(
    built: tuple[Path, str], tmp_path: Path
) -> None:
    champion_dir, base = built
    store, champion_version = fresh_store(tmp_path, champion_dir)
    record_feedback(store, poison(500))  # 500 reports labelling clear spam as ham
    report = tmp_path / "report.json"

    code, output = run_retrain(store, base, "--report", str(report))

    assert code == EXIT_REFUSED, output
    assert store.resolve("production") == champion_version
    assert "Verdict: REFUSE." in output
    assert "trusted_check_set recall: challenger" in output and "REGRESSION" in output
    found = json.loads(report.read_text())
    assert found["decision"] == "refuse" and found["promoted"] is False and found["published"] is True
    assert found["counts"]["feedback_used"] == 375 and found["counts"]["feedback_held_out"] == 125
    assert found["challenger"] in {info.version for info in store.list_versions()}  # published, not promoted
    trusted = found["figures"]["challenger"]["trusted_check_set"]
    assert trusted["recall"] < found["figures"]["champion"]["trusted_check_set"]["recall"] - 0.03


def test_retrain_promotes_honest_feedback_that_fixes_a_gap(built: tuple[Path, str], tmp_path: Path) -> None:
    champion_dir, base = built
    store, champion_version = fresh_store(tmp_path, champion_dir)
    conflicted = new_report(honest(200)[1].message, "spam", source="cli")  # a ham reported both ways: spam first
    record_feedback(store, [conflicted, *honest(200)])
    report = tmp_path / "report.json"

    code, output = run_retrain(store, base, "--dry-run", "--report", str(report))
    assert (code, store.resolve("production"), len(store.list_versions())) == (0, champion_version, 1), output
    assert "Verdict: PROMOTE. Published nothing (--dry-run); would promote it (--dry-run)." in output

    code, output = run_retrain(store, base, "--report", str(report))
    found = json.loads(report.read_text())
    assert code == 0, output
    assert store.resolve("production") == found["challenger"] != champion_version
    assert found["decision"] == "promote" and found["promoted"] is True
    assert found["counts"]["conflicts"] == 1 and found["counts"]["feedback_messages"] == 400
    gap = found["figures"]
    assert gap["champion"]["feedback_held_out"]["recall"] < 0.1 < 0.9 < gap["challenger"]["feedback_held_out"]["recall"]
    assert "better on: feedback_held_out recall" in output


def test_retrain_without_feedback_is_one_line_error(built: tuple[Path, str], tmp_path: Path) -> None:
    store, _ = fresh_store(tmp_path, built[0])
    result = CliRunner().invoke(cli, ["retrain", "--store", store.uri, "--data", built[1], "--model", "seed",
                                      "--jobs", "1"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: no feedback to retrain on in ")


def test_retrain_without_the_alias_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["retrain", "--store", str(tmp_path / "empty"), "--alias", "production"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no alias or version 'production' in ")


def test_check_set_is_a_fixed_fifth_by_message_hash() -> None:
    messages = [f"message number {i}" for i in range(2000)]
    mask = check_set_mask(messages)
    assert 0.17 < mask.mean() < 0.23
    assert list(check_set_mask(messages[::-1])) == list(mask[::-1])  # the order does not matter


def test_base_sources_default_to_the_shippable_catalog() -> None:
    assert base_sources(None, ()) == [name for name, entry in CATALOG.items() if entry.may_train_shipped]
    assert base_sources(None, ("sms", "sms", "csv:x")) == ["sms", "csv:x"]


@pytest.mark.parametrize(("spec", "message"), [
    ("feedback:./models", "expected SOURCE=FACTOR with a positive factor"),
    ("feedback:./models=0", "expected SOURCE=FACTOR with a positive factor"),
    ("feedback:./models=x", "expected SOURCE=FACTOR with a positive factor"),
    ("sms=5", "'sms' is not one of the --data sources (feedback:./models)"),
])  # fmt: skip
def test_weight_specs_are_checked(spec: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_source_weights([spec], ["feedback:./models"])


def test_weight_multiplies_the_weight_of_its_source() -> None:
    factors = parse_source_weights(["feedback:s3://b/p=5", "sms=0.5"], ["sms", "feedback:s3://b/p"])
    assert list(source_weights(["sms", "feedback:s3://b/p", "other"], factors)) == [0.5, 5.0, 1.0]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])


def test_train_with_weight_records_it_in_the_manifest(tmp_path: Path) -> None:
    from conftest import HAM_DOCS, SPAM_DOCS

    public, local = tmp_path / "public.csv", tmp_path / "local.csv"
    write_csv(public, [(d, "ham") for d in HAM_DOCS] + [(d, "spam") for d in SPAM_DOCS[:3]])
    write_csv(local, [(d, "spam") for d in SPAM_DOCS[3:]] + [("Lunch at noon?", "ham")])
    result = CliRunner().invoke(cli, ["train", "--data", f"csv:{public}", "--data", f"csv:{local}", "--model", "seed",
                                      "--folds", "2", "--jobs", "1", "--weight", f"csv:{local}=5",
                                      "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["training"]["source_weight"] == {f"csv:{local}": 5.0}
    refused = CliRunner().invoke(cli, ["train", "--data", f"csv:{public}", "--weight", "csv:nope=5", "--model", "seed",
                                       "--out", str(tmp_path / "n")])
    assert refused.exit_code == 1 and refused.output.startswith("Error: --weight 'csv:nope=5': 'csv:nope' is not one")


def test_evaluate_cross_corpus_refuses_weight() -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--cross-corpus", "--data", "sms", "--data", "youtube",
                                      "--weight", "youtube=5"])
    assert result.exit_code == 2
    assert "--cross-corpus leaves each source out in turn, so drop --weight" in result.output
