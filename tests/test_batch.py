"""`spam-classifier score` over real mail and table files: every input kind, error rows, order, exit codes, Ctrl-C.

Issue #12. The inputs are built in tmp_path from the SMS corpus and small generated emails, including
broken records; rows are compared with `load_model().score` on the same messages.
"""

from __future__ import annotations

import csv
import io
import json
import mailbox
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SMS_PATH
from s3_server import s3_client
from spam_classifier.batch import BatchOptions, read_records
from spam_classifier.cli import cli
from spam_classifier.scorer import load_model

SMS = [line.split("\t", 1)[1].rstrip("\n") for line in SMS_PATH.read_text(encoding="utf-8").splitlines(True)[:300]]


def _email(number: int, subject: str, body: str) -> bytes:
    return (f"From: Sender {number} <sender{number}@example.com>\nTo: you@example.org\nSubject: {subject}\n"
            f"Message-ID: <{number}@example.com>\n\n{body}\n").encode()


EMAILS = [
    _email(1, "Lunch tomorrow?", "Are we still on for lunch tomorrow at noon?"),
    _email(2, "WINNER!! Claim your prize", "You have won a FREE iPhone. Claim now at www.free-prizes.example.com"),
    _email(3, "Meeting notes", "Here are the notes.\n\nFrom the team: thanks.\n>From quoted line\n"),
    _email(4, "Cheap loans", "No credit check, reply YES for cash today!!! Call 09061701461"),
]


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture
def mail_inputs(tmp_path: Path) -> dict[str, Path]:
    """An mbox, a maildir, a folder of .eml (with an unreadable one), a CSV and a JSONL with broken records."""
    mbox = tmp_path / "inbox.mbox"
    mbox.write_bytes(b"".join(b"From sender@example.com Mon Jan  1 00:00:00 2026\n"
                              + email.replace(b"\nFrom ", b"\n>From ") + b"\n" for email in EMAILS))
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1700000000.M1P1.host:2,S").write_bytes(EMAILS[0])
    (maildir / "new" / "1700000001.M2P2.host").write_bytes(EMAILS[1])
    (maildir / "tmp" / "1700000002.M3P3.host").write_bytes(EMAILS[2])  # still being delivered: skipped
    eml = tmp_path / "eml"
    eml.mkdir()
    (eml / "a.eml").write_bytes(EMAILS[2])
    (eml / "b.eml").write_bytes(EMAILS[3].replace(b"Cheap", b"Cheap \xff\xfe"))  # 8-bit junk: still an email
    (eml / "c.eml").symlink_to(tmp_path / "gone.eml")  # unreadable
    table = tmp_path / "sms.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([f"m{number}", text] for number, text in enumerate(SMS[:20]))
    with table.open("ab") as handle:
        handle.write(b"short-row\n")  # no text value
        handle.write(b"bad-bytes,caf\xe9 au lait\n")  # latin-1, not UTF-8
        handle.write(b"m-last,See you at lunch?\n")
    lines = tmp_path / "sms.jsonl"
    with lines.open("wb") as handle:
        for text in SMS[20:30]:
            handle.write(json.dumps({"text": text}).encode() + b"\n")
        handle.write(b"{not json\n")
        handle.write(b'{"text": "caf\xe9"}\n')
        handle.write(b'{"body": "no text column"}\n')
        handle.write(b'{"text": 42}\n')
    return {"mbox": mbox, "maildir": maildir, "eml": eml, "csv": table, "jsonl": lines}


def _mbox_messages(path: Path) -> list[bytes]:
    box = mailbox.mbox(path, create=False)
    try:
        return [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _score(*args: str, stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["score", *args], input=stdin)
    return result.exit_code, result.output


def test_batch_mbox_splitter_returns_what_mailbox_reads(mail_inputs):
    records = list(read_records([str(mail_inputs["mbox"])]))
    assert [record.content for record in records] == _mbox_messages(mail_inputs["mbox"])
    assert [record.id for record in records] == [f"{mail_inputs['mbox']}#{n}" for n in range(1, 5)]


def test_batch_every_input_kind_in_order_with_error_rows(mail_inputs, tmp_path, model):
    out = tmp_path / "scores.jsonl"
    inputs = [str(mail_inputs[kind]) for kind in ("mbox", "maildir", "eml", "csv", "jsonl")]
    code, output = _score(*inputs, "--out", str(out), "--jobs", "2", "--no-progress")
    rows = _rows(out)
    assert code == 3, output
    ids = [row["id"] for row in rows]
    m, md, e, c, j = (str(mail_inputs[kind]) for kind in ("mbox", "maildir", "eml", "csv", "jsonl"))
    assert ids == (
        [f"{m}#{n}" for n in range(1, 5)]
        + [f"{md}/cur/1700000000.M1P1.host:2,S", f"{md}/new/1700000001.M2P2.host"]
        + [f"{e}/a.eml", f"{e}/b.eml", f"{e}/c.eml"]
        + [f"{c}:{line}" for line in range(2, 25)]
        + [f"{j}:{line}" for line in range(1, 15)]
    )
    errors = {row["id"]: row["error"] for row in rows if row["error"] is not None}
    assert errors == {
        f"{e}/c.eml": "cannot read: No such file or directory",
        f"{c}:22": "no 'text' value; see --text-column",
        f"{c}:23": "not valid UTF-8",
        f"{j}:11": "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        f"{j}:12": "not valid UTF-8: invalid continuation byte at byte 13",
        f"{j}:13": "no 'text' value; see --text-column",
        f"{j}:14": "'text' is a int, not a string",
    }
    assert all(row["label"] is None and row["spam_probability"] is None for row in rows if row["error"])
    texts = [message.decode() for message in _mbox_messages(mail_inputs["mbox"])]
    texts += [EMAILS[0].decode(), EMAILS[1].decode(), EMAILS[2].decode(),
              EMAILS[3].replace(b"Cheap", b"Cheap \xff\xfe").decode("utf-8", errors="replace")]
    texts += [*SMS[:20], "See you at lunch?", *SMS[20:30]]
    scored = [row for row in rows if row["error"] is None]
    expected = model.score(texts)
    assert [(row["label"], row["spam_probability"]) for row in scored] == [(p.label, p.spam_probability)
                                                                         for p in expected]
    assert {row["model_version"] for row in rows} == {model.version}
    assert "errors 7" in output and f"read {len(rows)}, scored {len(scored)}" in output


def test_batch_csv_output_with_an_id_column_parses_back(mail_inputs, tmp_path, model):
    out = tmp_path / "scores.csv"
    code, output = _score(str(mail_inputs["csv"]), "--id-column", "id", "--out", str(out), "--jobs", "1")
    assert code == 3, output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert list(rows[0]) == ["id", "label", "spam_probability", "model_version", "error"]
    assert [row["id"] for row in rows] == [f"m{n}" for n in range(20)] + ["short-row", "bad-bytes", "m-last"]
    assert [float(row["spam_probability"]) for row in rows[:20]] == model.predict_proba(SMS[:20])


def test_batch_stdin_text_lines_and_a_missing_csv_column_is_one_error_row(tmp_path, mail_inputs, model):
    out = tmp_path / "stdin.jsonl"
    code, output = _score("-", "--out", str(out), stdin="\n".join(SMS[:5]).encode() + b"\n\n\xff\xfe\n")
    assert code == 3, output
    rows = _rows(out)
    assert [row["id"] for row in rows] == ["-:1", "-:2", "-:3", "-:4", "-:5", "-:7"]
    assert [row["spam_probability"] for row in rows[:5]] == model.predict_proba(SMS[:5])
    assert rows[5]["error"] == "not valid UTF-8: invalid start byte at byte 0"

    code, output = _score(str(mail_inputs["csv"]), "--text-column", "body", "--out", str(out))
    assert code == 3, output
    assert _rows(out)[0]["error"] == "no 'body' column (found ['id', 'text']); see --text-column"


def test_batch_unordered_writes_the_same_rows(tmp_path, model):
    source = tmp_path / "sms.txt"
    source.write_text("\n".join(SMS) + "\n", encoding="utf-8")
    ordered, unordered = tmp_path / "ordered.jsonl", tmp_path / "unordered.jsonl"
    assert _score(str(source), "--out", str(ordered), "--jobs", "2")[0] == 0
    assert _score(str(source), "--out", str(unordered), "--jobs", "2", "--unordered")[0] == 0
    first, second = _rows(ordered), _rows(unordered)
    assert [row["id"] for row in first] == [f"{source}:{n}" for n in range(1, len(SMS) + 1)]
    assert sorted(first, key=lambda row: row["id"]) == sorted(second, key=lambda row: row["id"])
    assert [row["spam_probability"] for row in first] == model.predict_proba(SMS)


def test_batch_progress_line_and_summary_go_to_stderr(tmp_path):
    source = tmp_path / "sms.txt"
    source.write_text("\n".join(SMS[:10]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["score", str(source), "--out", "-", "--progress", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [f"{source}:{n}" for n in range(1, 11)]
    assert "\r10 messages  " in result.stderr and " msgs/s  0 errors" in result.stderr
    last = result.stderr.rstrip().splitlines()[-1]
    assert last.startswith("read 10, scored 10 (spam ") and last.endswith("; wrote -")


def test_batch_bad_arguments_are_one_line_errors(tmp_path):
    code, output = _score(str(tmp_path / "nope.mbox"), "--out", str(tmp_path / "x.jsonl"))
    assert code == 2 and "nope.mbox: no such file or folder" in output
    (tmp_path / "a.txt").write_text("hello\n")
    code, output = _score(str(tmp_path / "a.txt"), "--out", str(tmp_path / "x.out"))
    assert code == 1
    assert output.strip().splitlines()[-1].startswith("Error: cannot tell the output format of")


@pytest.mark.s3
def test_batch_reads_an_s3_prefix_with_a_model_from_an_s3_store(s3_bucket, tmp_path, model):
    client = s3_client()
    client.put_object(Bucket=s3_bucket, Key="mail/2026/a.eml", Body=EMAILS[0])
    client.put_object(Bucket=s3_bucket, Key="mail/2026/b", Body=EMAILS[1])  # no extension: sniffed as an email
    client.put_object(Bucket=s3_bucket, Key="mail/2026/c.jsonl",
                      Body=b"".join(json.dumps({"text": text}).encode() + b"\n" for text in SMS[:3]))
    client.put_object(Bucket=s3_bucket, Key="other/skip.eml", Body=EMAILS[2])
    from spam_classifier.scorer import DEFAULT_MODEL_DIR
    from spam_classifier.store import open_store

    open_store(f"s3://{s3_bucket}/models").publish(DEFAULT_MODEL_DIR, alias="production")
    out = tmp_path / "s3.jsonl"
    code, output = _score(f"s3://{s3_bucket}/mail/", "--out", str(out), "--jobs", "2",
                          "--model", f"s3://{s3_bucket}/models@production")
    assert code == 0, output
    rows = _rows(out)
    base = f"s3://{s3_bucket}/mail/2026"
    assert [row["id"] for row in rows] == [f"{base}/a.eml", f"{base}/b", f"{base}/c.jsonl:1", f"{base}/c.jsonl:2",
                                           f"{base}/c.jsonl:3"]
    assert [row["spam_probability"] for row in rows] == model.predict_proba(
        [EMAILS[0].decode(), EMAILS[1].decode(), *SMS[:3]])


def test_batch_ctrl_c_leaves_whole_rows_and_exits_130(tmp_path):
    source = tmp_path / "many.txt"
    with source.open("w", encoding="utf-8") as handle:
        for _ in range(100):
            handle.write("\n".join(SMS) + "\n")
    out = tmp_path / "partial.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "spam_classifier", "score", str(source), "--out", str(out), "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while (not out.exists() or out.stat().st_size < 20_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    rows = [json.loads(line) for line in text.splitlines()]
    assert 0 < len(rows) < 100 * len(SMS)
    assert [row["id"] for row in rows] == [f"{source}:{n}" for n in range(1, len(rows) + 1)]
    assert "interrupted: read" in stderr and f"read {len(rows)}," in stderr


def test_batch_options_default_to_every_core():
    assert BatchOptions().jobs == (os.cpu_count() or 1)


def test_batch_mbox_is_streamed_not_loaded(tmp_path):
    """The splitter holds one message: reading the first record of a large mbox touches only its start."""
    mbox = tmp_path / "big.mbox"
    with mbox.open("wb") as handle:
        for _ in range(2000):
            handle.write(b"From x Mon Jan  1 00:00:00 2026\n" + EMAILS[0] + b"\n")
    from spam_classifier.batch import _split_mbox

    with io.BufferedReader(io.FileIO(mbox), buffer_size=8192) as stream:
        first = next(_split_mbox(stream, "big"))
        assert first.content == EMAILS[0]
        assert stream.tell() < 20_000
