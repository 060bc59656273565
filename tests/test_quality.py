"""The quality bars of the default model, measured the honest way (`spam-classifier evaluate`).

Each fold trains from scratch on de-duplicated data and is scored at the threshold it chose from
its own training part. Bars (issue #2): SMS f1 >= 0.96, mcc >= 0.95, ham_fpr <= 0.0015;
SpamAssassin f1 >= 0.98, ham_fpr <= 0.003 (the f1 bar is not met yet: a strict xfail records it).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import SMS_PATH
from spam_classifier.cli import cli

pytestmark = pytest.mark.slow


def _evaluate(source: str, report, *extra: str) -> dict:
    result = CliRunner().invoke(cli, ["evaluate", "--data", source, "--cv", "5", "--json", "--report", str(report),
                                      *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sms_default(tmp_path_factory) -> dict:
    return _evaluate(f"sms:{SMS_PATH}", tmp_path_factory.mktemp("sms-default"))


def test_quality_default_model_on_sms(sms_default):
    assert (sms_default["n"], sms_default["duplicates_removed"]) == (5159, 415)
    assert sms_default["ham_fpr"] <= 0.0015, sms_default
    assert sms_default["mcc"] >= 0.95, sms_default
    assert sms_default["f1"] >= 0.96, sms_default


def test_quality_default_beats_seed_on_sms(sms_default, tmp_path):
    seed = _evaluate(f"sms:{SMS_PATH}", tmp_path, "--model", "seed")
    assert sms_default["f1"] > seed["f1"] + 0.02, (seed, sms_default)


@pytest.fixture(scope="module")
def spamassassin_default(tmp_path_factory) -> dict:
    return _evaluate("spamassassin", tmp_path_factory.mktemp("sa-default"))


def test_quality_default_model_on_spamassassin_keeps_ham(spamassassin_default):
    assert spamassassin_default["ham_fpr"] <= 0.003, spamassassin_default
    assert spamassassin_default["mcc"] >= 0.95, spamassassin_default


@pytest.mark.xfail(strict=True, reason="issue #2 bar not met yet: measured f1 0.9774 (recall 0.959 at ham FPR 0.0015) "
                                       "at the default 0.1 % ham FPR target; strict, so meeting it fails this mark")
def test_quality_default_model_on_spamassassin_f1(spamassassin_default):
    assert spamassassin_default["f1"] >= 0.98, spamassassin_default
