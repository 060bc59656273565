"""Fuzzing POST /predict with random raw emails: bad MIME, unknown charsets, endless headers, huge header lines,
nested multiparts, broken base64 and quoted-printable, encoded words in any charset.

Through the ASGI app in-process (`test_fuzz_http`), with ``format`` "email" or "auto", one message or a batch. Every
case must be a 200 with a complete prediction (or the documented 413 when it is over MAX_MESSAGE_BYTES), and no
single request may take long: the MIME parser must not be a way to tie up the server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_http import AsgiClient, check_reply, fuzz, post_json

from conftest import SPAM_DOCS, make_test_artifact
from spam_classifier.app import create_app
from spam_classifier.config import Settings
from spam_classifier.source import ModelSource

#: A generous bound per request (CI machines are slow); a quadratic parser on a 256 KB email would blow through it.
SLOW_REQUEST_SECONDS = 5.0

_CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "gb2312", "shift_jis", "utf-16", "utf-7",
             "x-unknown", "", "utf-8'en'", "\"utf-8\"", "../../etc/passwd", "a" * 300, "idna", "rot13", "base64",
             "unicode-escape", "zip"]  # fmt: skip
_ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "uuencode", "BASE64", "gzip", ""]
_TYPES = ["text/plain", "text/html", "multipart/mixed", "multipart/alternative", "multipart/related", "message/rfc822",
          "application/octet-stream", "image/png", "text/", "/", "", "multipart/", "text/plain/extra"]  # fmt: skip

_line_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=80)
_KNOWN_HEADERS = ["From", "To", "Subject", "Content-Type", "Content-Transfer-Encoding", "Date", "Received",
                  "Message-ID", "MIME-Version", "Content-Disposition", "Reply-To"]  # fmt: skip
_header_names = st.sampled_from(_KNOWN_HEADERS) | st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz-XYZ:", min_size=1, max_size=20
)


@st.composite
def _encoded_word(draw: st.DrawFn) -> str:
    charset = draw(st.sampled_from(_CHARSETS))
    kind = draw(st.sampled_from("BQbqX"))
    payload = draw(st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=_?", max_size=40))
    return f"=?{charset}?{kind}?{payload}?="


@st.composite
def _content_type(draw: st.DrawFn, boundary: str | None = None) -> str:
    value = draw(st.sampled_from(_TYPES))
    if draw(st.booleans()):
        value += f"; charset={draw(st.sampled_from(_CHARSETS))}"
    if boundary is not None:
        value += f'; boundary="{boundary}"' if draw(st.booleans()) else f"; boundary={boundary}"
    if draw(st.booleans()):
        value += f"; name={draw(_encoded_word())}"
    return value


@st.composite
def _body(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["text", "base64", "broken-base64", "qp", "html", "binary"]))
    if kind == "text":
        return "\n".join(draw(st.lists(_line_text, max_size=8)))
    if kind == "base64":
        import base64

        return base64.encodebytes(draw(st.binary(max_size=300))).decode()
    if kind == "broken-base64":
        return draw(st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=!*\n ", max_size=300))
    if kind == "qp":
        return draw(st.text(alphabet="=ABCDEF0123456789 xyz\n", max_size=300))
    if kind == "html":
        pieces = ["<a href='http://x.example.com'>", "</a>", "<p>", "<script>", "<!--", "<b", "&amp;", "&#xffffff;",
                  "&#0;", "]]>", "<![CDATA["]  # fmt: skip
        tags = draw(st.lists(st.sampled_from(pieces), max_size=30))
        return "".join(tags) + draw(_line_text)
    code_points = st.integers(0, 0xFFFF).filter(lambda code: not 0xD800 <= code < 0xE000)  # no lone surrogates
    return "".join(chr(code) for code in draw(st.lists(code_points, max_size=200)))


def _headers(draw: st.DrawFn, *, content_type: str | None) -> list[str]:
    lines = [f"{draw(_header_names)}: {draw(_line_text | _encoded_word())}" for _ in range(draw(st.integers(0, 6)))]
    if draw(st.booleans()):
        lines.insert(0, f"From: {draw(_encoded_word())} <{draw(_line_text)}@example.com>")
    if draw(st.booleans()):
        lines.append(f"Subject: {draw(_line_text | _encoded_word())}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if draw(st.booleans()):
        lines.append(f"Content-Transfer-Encoding: {draw(st.sampled_from(_ENCODINGS))}")
    if draw(st.booleans()):
        lines.append(f"Content-Disposition: attachment; filename={draw(_encoded_word() | _line_text)}")
    if draw(st.booleans()):  # folded continuation lines, some of them empty-looking
        lines.append("X-Folded: a" + "".join(f"\n{draw(st.sampled_from([' ', chr(9)]))}{draw(_line_text)}"
                                              for _ in range(draw(st.integers(1, 5)))))  # fmt: skip
    return lines


@st.composite
def _part(draw: st.DrawFn, depth: int) -> str:
    if depth > 0 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b", "==x==", "", "a" * 70, "--", "b b"])) + str(depth)
        parts = [draw(_part(depth - 1)) for _ in range(draw(st.integers(0, 3)))]
        closing = draw(st.sampled_from([f"\n--{boundary}--\n", "", f"\n--{boundary}\n", "\n--wrong--\n"]))
        head = _headers(draw, content_type=draw(_content_type(boundary)))
        body = draw(_line_text) + "".join(f"\n--{boundary}\n{part}" for part in parts) + closing
        return "\n".join(head) + "\n\n" + body
    return "\n".join(_headers(draw, content_type=draw(_content_type() | st.none()))) + "\n\n" + draw(_body())


@st.composite
def _raw_email(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["mime", "mime", "mime", "endless-headers", "huge-header", "deep", "mbox", "junk"]))
    if shape == "endless-headers":
        count = draw(st.integers(1_000, 8_000))
        return "".join(f"X-H{index}: {index}\n" for index in range(count)) + "Subject: free prize\n\nclaim now\n"
    if shape == "huge-header":
        size = draw(st.integers(10_000, 250_000))
        return f"Subject: {'free ' * (size // 5)}\nFrom: a@b.example\n\n{draw(_body())}"
    if shape == "deep":
        depth = draw(st.integers(50, 3_000))
        opening = "".join(
            f'Content-Type: multipart/mixed; boundary="b{index}"\n\n--b{index}\n' for index in range(depth)
        )
        return "From: x@example.com\nSubject: deep\n" + opening + "Content-Type: text/plain\n\nfree prize\n"
    if shape == "mbox":
        return f"From sender@example.com Mon Jan  1 00:00:00 2026\n{draw(_part(2))}"
    if shape == "junk":
        return draw(st.text(max_size=500).map(lambda text: text.replace("\ud800", "")))
    return draw(_part(draw(st.integers(0, 4))))


@pytest.fixture(scope="module")
def client() -> Iterator[AsgiClient]:
    client = AsgiClient()
    yield client
    client.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("fuzz-email") / "artifact"
    make_test_artifact(directory)
    return create_app(ModelSource(str(directory), reload_seconds=0), Settings())


def _predict(client: AsgiClient, app: Any, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    started = time.perf_counter()
    status, headers, reply, _ = post_json(client, app, json.dumps(payload).encode())
    elapsed = time.perf_counter() - started
    check_reply(status, headers, reply, method="POST", path="/predict")
    assert elapsed < SLOW_REQUEST_SECONDS, f"one request took {elapsed:.1f} s"
    return status, json.loads(reply)


@fuzz(1500)
@given(message=_raw_email(), message_format=st.sampled_from(["email", "auto"]))
def test_fuzz_email_one_message(client: AsgiClient, app: Any, message: str, message_format: str) -> None:
    status, reply = _predict(client, app, {"message": message, "format": message_format})
    too_large = len(message.encode("utf-8", "surrogatepass")) > Settings().max_message_bytes
    assert (status, reply.get("error", {}).get("code")) == ((413, "message_too_large") if too_large else (200, None))


@fuzz(300)
@given(messages=st.lists(_raw_email().filter(lambda m: len(m) < 20_000), min_size=1, max_size=8))
def test_fuzz_email_batches(client: AsgiClient, app: Any, messages: list[str]) -> None:
    status, reply = _predict(client, app, {"messages": [*messages, SPAM_DOCS[0]], "format": "email"})
    assert status == 200 and len(reply["predictions"]) == len(messages) + 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("10,000 headers", "".join(f"X-H{index}: v\n" for index in range(10_000)) + "\nfree prize"),
        ("one 250 KB header line", "Subject: " + "a" * 250_000 + "\n\nbody"),
        (
            "4,000 nested multiparts",
            "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(4_000)),
        ),
        ("10,000 sibling parts", "Content-Type: multipart/mixed; boundary=b\n\n" + "--b\n\nfree\n" * 10_000),
        ("250 KB of base64 junk", "Content-Transfer-Encoding: base64\nSubject: x\n\n" + "!@#$" * 62_000),
        (
            "a charset that is a codec trap",
            "Content-Type: text/plain; charset=zip\nContent-Transfer-Encoding: base64\n\nZnJlZSBwcml6ZQ==\n",
        ),
        (
            "encoded words in 1,000 charsets",
            "Subject: " + " ".join(f"=?x-cs{i}?B?ZnJlZQ==?=" for i in range(1_000)) + "\n\nhi",
        ),
    ],
)
def test_fuzz_email_extremes_are_scored_quickly(client: AsgiClient, app: Any, name: str, message: str) -> None:
    status, reply = _predict(client, app, {"message": message, "format": "email"})
    assert status == 200, (name, reply)
