from __future__ import annotations

import pytest

from spam_classifier.corpora.retype import FORMS, retyped
from spam_classifier.preprocess import message_channel

HTML_MAIL = (
    'From: "Deals" <d@x.test>\nSubject: Win a PRIZE\nContent-Type: multipart/alternative; boundary="b"\n\n'
    "--b\nContent-Type: text/html; charset=utf-8\n\n<p>It's <b>free</b> &amp; easy: www.x.com</p>\n--b--\n"
)


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("as sent", HTML_MAIL),
        ("subject and body", "Subject: Win a PRIZE\nIt's free & easy: www.x.com"),
        ("lower-cased", "Subject: win a prize\nit's free & easy: www.x.com"),
        ("tokenised", "Subject: win a prize\nit ' s free & easy : www . x . com"),
    ],
)
def test_retyped_drops_headers_structure_and_markup_form_by_form(form: str, expected: str) -> None:
    assert retyped(HTML_MAIL, form) == expected  # type: ignore[arg-type]


def test_retyped_prefers_the_plain_part_and_decodes_it() -> None:
    raw = ('Subject: x\nContent-Type: multipart/alternative; boundary="b"\n\n'
           "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nY2Fmw6k=\n"
           "--b\nContent-Type: text/html\n\n<p>no</p>\n--b--\n")
    assert retyped(raw, "subject and body") == "Subject: x\ncafé"


def test_retyped_keeps_the_non_ascii_text_of_an_unencoded_body() -> None:
    raw = "Subject: x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n£5 café €\n"
    assert retyped(raw, "subject and body") == "Subject: x\n£5 café €"


@pytest.mark.parametrize("form", FORMS)
def test_every_retyped_form_is_still_read_as_an_email(form: str) -> None:
    assert message_channel(retyped(HTML_MAIL, form)) == "email"  # type: ignore[arg-type]


def test_retyped_refuses_an_unknown_form() -> None:
    with pytest.raises(ValueError, match="form must be one of"):
        retyped(HTML_MAIL, "upper-cased")  # type: ignore[arg-type]
