"""preprocess: plain text, shape tokens, email detection, RFC 822 extraction and robustness on hostile input."""

from __future__ import annotations

import base64
import importlib
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import HAM_DOCS, SPAM_DOCS
from spam_classifier import email_text
from spam_classifier.preprocess import MAX_TEXT_CHARS, looks_like_email, message_channel, preprocess_messages
from spam_classifier.preprocess import preprocess as full_preprocess

preprocess_module = importlib.import_module("spam_classifier.preprocess")  # the package exports a function of that name

_SHAPE_LINE = re.compile(r"\nzlen\d+ zdig\d+ zupp\d+ zexcl\d+$")
_MIME_LINE = re.compile(r"\n?zmime_\w+(?: (?:zmime|zcharset)_\w+| zhtmlonly)*$")
_HINTS_LINE = re.compile(r"\n(?:zsubj|zfrom|zh)_\w+(?: (?:zsubj|zfrom|zh)_\w+)*$")


def _without_hints(out: str) -> str:
    """`out` without its shape-token last line and, for an email, the hints line before it."""
    match = _SHAPE_LINE.search(out)
    assert match, f"no shape-token line at the end of {out[-80:]!r}"
    out = out[: match.start()]
    hints = _HINTS_LINE.search(out)  # emails: subject/sender/HTML hints, tested on their own below
    return out[: hints.start()] if hints else out


def _hints(message: str) -> list[str]:
    out = full_preprocess(message)[: _SHAPE_LINE.search(full_preprocess(message)).start()]  # type: ignore[union-attr]
    hints = _HINTS_LINE.search(out)
    return hints.group().split() if hints else []


def preprocess(message: str, **options: str) -> str:
    """The extracted text alone: the shape-token and hints lines are checked here and tested on their own below."""
    out = _without_hints(full_preprocess(message, **options))
    structure = _MIME_LINE.search(out)  # emails: the MIME-structure line, tested on its own below
    return out[: structure.start()] if structure else out


@pytest.mark.parametrize(
    ("message", "structure"),
    [
        ("From: a@b.test\nSubject: x\nContent-Type: text/html; charset=GB2312\n\n<b>hi</b>",
         "zmime_text_html zcharset_gb2312 zhtmlonly"),
        ("From: a@b.test\nSubject: x\n\nplain", "zmime_text_plain"),
        ('From: a@b.test\nSubject: x\nContent-Type: multipart/alternative; boundary="b"\n\n--b\n'
         "Content-Type: text/plain; charset=utf-8\n\nhi\n--b\nContent-Type: text/html\n\n<p>hi</p>\n--b--\n",
         "zmime_multipart_alternative zmime_text_plain zcharset_utf_8 zmime_text_html"),
    ],
)
def test_preprocess_email_adds_a_mime_structure_line(message: str, structure: str) -> None:
    assert _without_hints(full_preprocess(message)).splitlines()[-1] == structure


@pytest.mark.parametrize("message", ["Subject: lunch\n\nare we on?", "subject: lunch\nare we on?"])
def test_preprocess_pasted_mail_says_nothing_of_a_sender_or_mime_structure_it_never_gave(message: str) -> None:
    """Only a subject and a text: no "zmime_text_plain" (the parser's default) and no "zfrom_none"."""
    out = full_preprocess(message)
    assert message_channel(message) == "email"
    assert _without_hints(out) == "lunch\nare we on?"
    assert "zmime" not in out and "zfrom" not in out


@pytest.mark.parametrize(
    ("headers", "hints"),
    [
        ("From: Alice <a@b.test>\nSubject: lunch on friday?\n", []),
        ("From: a@b.test\nSubject: lunch\n", ["zfrom_none"]),
        ("From: BEST DEALS <a@b.test>\nSubject: FREE CASH $$$ NOW!!\n", ["zsubj_caps", "zsubj_excl", "zsubj_money",
                                                                       "zfrom_caps"]),
        ("From: Alice <a@b.test>\nTo: b@c.test\n", ["zsubj_none"]),
        ("From: Alice <a@b.test>\nSubject: Re: [list] caf\u00e9\n", ["zsubj_nonascii", "zsubj_reply"]),
        ("From: Alice <a@b.test>\nSubject: Lower your rates now          28534\n", ["zsubj_gap"]),
        ("From: Alice <a@b.test>\nSubject: Weekly Stock Report vjf\n", ["zsubj_junk"]),
        ("From: Alice <a@b.test>\nSubject: Re: [ILUG] tcpd\n", ["zsubj_reply"]),
        ("From: Alice <a@b.test>\nSubject: =?gb2312?q?MBA?=\n", ["zsubj_charset_gb2312"]),
    ],
)
def test_preprocess_email_hints_the_shape_of_subject_and_sender(headers: str, hints: list[str]) -> None:
    assert _hints(headers + "\nbody") == hints


@pytest.mark.parametrize(
    ("markup", "hints"),
    [
        ('<p>Hi, see <a href="https://www.example.com/x">www.example.com</a> or '
         '<a href="http://example.com/"><img src="http://cdn.other.test/logo.gif"></a></p>', []),
        ('<a href="http://10.1.2.3/login">click</a>', ["zh_iplink"]),
        ('<a href="http://phish.test/login">https://www.paypal.com/</a>', ["zh_linkmismatch"]),
        ('<div style="display: none">hidden words</div>visible', ["zh_hidden"]),
        ("V<xq>i</xq>a<zz>g</zz>r<yy>a</yy>", ["zh_badtags"]),
        ("V<!-- a -->i<!-- b -->a<!-- c -->g<!-- d -->r<!-- e -->a", ["zh_comments"]),
    ],
)
def test_preprocess_email_hints_the_tricks_of_its_html(markup: str, hints: list[str]) -> None:
    message = f"From: Alice <a@b.test>\nSubject: news\nContent-Type: text/html\n\n{markup}"
    assert _hints(message) == hints


def test_preprocess_text_gets_no_hints() -> None:
    assert full_preprocess("FREE CASH!! <a href='http://10.1.2.3/'>x</a>").count("\n") == 1


@pytest.mark.parametrize(
    ("message", "shape"),
    [
        ("", "zlen0 zdig0 zupp0 zexcl0"),
        ("hi", "zlen1 zdig0 zupp0 zexcl0"),
        ("FREE entry!! Txt 80086 now", "zlen4 zdig1 zupp3 zexcl2"),
        ("WIN WIN WIN!!!!!!", "zlen4 zdig0 zupp10 zexcl4"),
        ("Call 09061701461 now or 08000930705", "zlen6 zdig8 zupp0 zexcl0"),  # a phone number counts twice
    ],
)
def test_preprocess_ends_with_bucketed_shape_tokens(message: str, shape: str) -> None:
    assert full_preprocess(message).rsplit("\n", 1)[1] == shape

_HEADERS = "From: Alice <alice@example.test>\nTo: bob@example.test\nSubject: lunch\n\n"


def _email(*, headers: str, body: str) -> str:
    return "From: Prize Team <prizes@lottery.test>\nTo: you@inbox.test\n" + headers + "\n" + body


def _nested_multipart(depth: int) -> str:
    body = "Content-Type: text/plain\n\ninnermost words\n"
    for level in range(depth):
        boundary = f"b{level}"
        body = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n--{boundary}\n{body}--{boundary}--\n'
    return "From: a@b.test\nSubject: deep\nMIME-Version: 1.0\n" + body


# --- plain text --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", HAM_DOCS)
def test_preprocess_plain_text_passes_through(message: str) -> None:
    assert preprocess(message) == message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Awsome<br />song<br><BR/>", "Awsome song"),
        (
            '<a rel="nofollow" href="http://www.youtube.com/watch?v=x&amp;t=2m19s">2:19</a> best part',
            "  zurl youtube.com http://www.youtube.com/watch?v=x&t=0m00s   0:00  best part",
        ),
        ("<b>FREE</b> prize, <I>today</I> &amp; now", "FREE  prize,  today  & now"),
    ],
)
def test_preprocess_text_reads_its_markup_as_html(message: str, expected: str) -> None:
    # YouTube comments carry markup: its tags and attribute names are no words of the message
    assert preprocess(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [("I owe you <DECIMAL> at <TIME>, <#>", "I owe you <DECIMAL> at <TIME>, <#>"),
     ("x <br-ish> y <3 you &lt;br&gt;", "x <br-ish> y <0 you <br>")],
)
def test_preprocess_text_keeps_angle_brackets_that_are_no_markup(message: str, expected: str) -> None:
    assert preprocess(message) == expected


@pytest.mark.parametrize("message", ["<br /><![0", "<b>win</b> <![%"])
def test_preprocess_reads_text_whose_markup_breaks_the_html_parser_as_plain_text(message: str) -> None:
    # html.parser raises AssertionError("expected name token") on these (found by the property below)
    assert preprocess(message) == message


def test_preprocess_email_whose_html_breaks_the_html_parser_keeps_the_rest_of_its_reading() -> None:
    message = (
        'From: Deals <d@x.test>\nSubject: offer\nContent-Type: multipart/alternative; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nplain words\n--b\nContent-Type: text/html\n\n<p>win</p><![0\n--b--\n"
    )
    assert preprocess(message) == "offer\nDeals\nplain words\n<p>win</p><![0"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Txt 80086 for 2 tickets", "Txt 00000 for 0 tickets"),  # every digit "0": the length stays
        ("from 1999 to 2024, not 1899 or 2100", "from 1999 to 2024, not 0000 or 0000"),  # years 1900-2099 kept
        ("ref 120245 or 20245", "ref 000000 or 00000"),  # a year only as a whole run of digits
        (  # a phone number: its digits and their zeros
            "Call 09061701461 or 0800 093 0705",
            "Call  zphone 09061701461 00000000000  or  zphone 0800 093 0705 0000 000 0000 ",
        ),
        ("٢٠٢٤ and ５", "0000 and 0"),  # any script's digits (NFKC makes the fullwidth one ASCII)
    ],
)
def test_preprocess_reads_digits_as_zeros_but_years_and_phone_numbers(message: str, expected: str) -> None:
    assert preprocess(message) == expected


def test_preprocess_keeps_the_digits_of_mime_structure_tokens() -> None:
    message = "From: a@b.test\nSubject: 5 x\nContent-Type: text/plain; charset=windows-1251\n\nhi 42"
    assert full_preprocess(message).split("\n")[:3] == ["0 x", "hi 00", "zmime_text_plain zcharset_windows_1251"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Hello there, how are you?", "Hello there, how are you?"),
        ("Visit www.example.com/win now", "Visit  zurl example.com www.example.com/win  now"),
        (
            "see https://Sub.Example.COM:8080/path?q=1 ok",
            "see  zurl sub.example.com https://Sub.Example.COM:0000/path?q=0  ok",
        ),
        ("go to cheap-meds.biz today", "go to  zurl cheap-meds.biz cheap-meds.biz  today"),
        ("mail me at bob@example.xyz today", "mail me at  zemail example.xyz  today"),
        ("Win £100 now", "Win  zmoney £000  now"),
        ("only 100 pounds", "only  zmoney 000 pounds "),
        ("Call 09061701461 today", "Call  zphone 09061701461 00000000000  today"),
        ("Call 12345 ok", "Call 00000 ok"),  # too few digits for a phone number: a number, read as zeros
        ("tel:08712460324", "tel: zphone 08712460324 00000000000 "),
        # digit runs that are not phone numbers: dates, dotted addresses, a link's path or query
        ("on 2002-09-26 we met", "on 2002-00-00 we met"),
        ("due 26.09.2002 ok", "due 00.00.2002 ok"),
        ("server 192.168.100.1 down", "server 000.000.000.0 down"),
        ("see http://x.test/click/-4,8279860,215/", "see  zurl x.test http://x.test/click/-0,0000000,000/ "),
        ("order id=12345678&x=1", "order id=00000000&x=0"),
        ("fish &amp; chips", "fish & chips"),  # HTML entities are unescaped
        ("ﬁne", "fine"),  # NFKC folds compatibility characters
    ],
)
def test_preprocess_adds_shape_tokens_next_to_the_original_text(message: str, expected: str) -> None:
    assert preprocess(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # the form of Enron-Spam and Ling-Spam: lower-cased, punctuation spaced out
        (
            "click here : http : / / www . win-now . com / claim / now !",
            "click here:  zurl win-now.com http://www.win-now.com/claim/now! ",
        ),
        ("mail bob @ example . com today", "mail  zemail example.com  today"),
        ("i haven ' t got $ 100 , sorry", "i haven't got  zmoney $000,  sorry"),
        ("see x . com . thanks , bye . ok , then", "see  zurl x.com x.com . thanks, bye. ok, then"),
        # three spaced marks make a text tokenised; a sentence's words are never glued into a host
        ("it was a deal . i can , then . so , yes", "it was a deal. i can, then. so, yes"),
        ("See you at 5 . Bring the cake , ok ?", "See you at 0 . Bring the cake , ok ?"),  # two: as written
    ],
)
def test_preprocess_glues_tokenised_text_back(message: str, expected: str) -> None:
    assert _without_hints(full_preprocess(message)) == expected


@pytest.mark.parametrize("address", ["bob@example.org", "bob@mail.example.com", "me@my-site.net", "foo@www.bar.com"])
def test_preprocess_email_address_in_a_common_tld_is_an_email_not_a_url(address: str) -> None:
    """A bare domain is a URL, but not when it is the domain of an e-mail address."""
    domain = address.split("@")[1]
    assert preprocess(f"mail {address} today") == f"mail  zemail {domain}  today"


# The shape regexes as first written: on the whole text, each alternative starting with \b or \+?.
_PLAIN_MONEY = re.compile(
    r"(?i)[£$€¥]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s?(?:p|gbp|usd|eur|pounds?|dollars?)\b"
)
_PLAIN_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_FRAGMENTS = ["www.", "http://", "ftp://", ".com", ".co.uk", "@", ":", ".", "/", "-", "£", "$", "+", "(", ")", ",",
              "5", "42", "0", " ", "\n", "\t", "a", "bob", "x1", "K", "ſ", "é", "p", "usd", "pounds", "_", "'", "<",
              "2024", "19", "zcharset_", "zmime_"]


def _plain_normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = preprocess_module._URL.sub(preprocess_module._url_shape, text)
    text = preprocess_module._EMAIL_ADDRESS.sub(lambda m: f" zemail {m.group(1)} ", text)
    text = _PLAIN_MONEY.sub(lambda m: f" zmoney {m.group()} ", text)
    pieces, last = [], 0
    for match in _PLAIN_PHONE.finditer(text):  # phone numbers keep their digits beside the zeros
        if preprocess_module._is_phone(match):
            phone = match.group()
            pieces += [_plain_digits(text[last : match.start()]), f" zphone {phone} {_plain_digits(phone)} "]
            last = match.end()
    return "".join([*pieces, _plain_digits(text[last:])])


def _plain_digits(text: str) -> str:
    """Every digit "0", but a year 1900-2099 and the MIME-structure tokens."""
    return re.sub(r"\bz(?:mime|charset)_\w+|(?<!\d)(?:19|20)\d\d(?!\d)|\d",
                  lambda m: m.group() if len(m.group()) > 1 else "0", text)


@settings(max_examples=3_000, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join))
def test_the_fast_shape_regexes_find_what_the_plain_ones_do(text: str) -> None:
    """Links and addresses looked for token by token, and money, phone numbers and the digits read as zeros
    by patterns that start with a character class, mark up a text exactly as the plain whole-text patterns do."""
    assert preprocess_module._normalise(text) == _plain_normalise(text)


def test_preprocess_messages_is_preprocess_over_a_batch() -> None:
    messages = [*SPAM_DOCS, _HEADERS + "see you there"]
    assert preprocess_messages(messages) == [full_preprocess(message) for message in messages]
    assert preprocess_messages([]) == []


# --- looks_like_email --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        _HEADERS + "body",
        "From: a@b.test\nTo: c@d.test\n\nbody",
        "Subject: hi\nX-Custom-Header: folded\n  continuation line\n\nbody",
        "From spammer@example.net  Mon Jan  1 00:00:00 2024\nFrom: a@b.test\nSubject: s\n\nbody",
        "From: a@b.test\nX-Nil:\nSubject: s\n\nbody",  # an empty header is still a header
    ],
)
def test_looks_like_email_true_for_header_blocks(message: str) -> None:
    assert looks_like_email(message) is True


@pytest.mark.parametrize(
    "message",
    [
        "Subject: Your account is suspended\n\nDear customer, verify your details at http://x.test/login",
        "subject: your account is suspended\n\ndear customer, verify your details at http://x.test/login",
        "SUBJECT: MEETING MOVED\nThe review is now on Thursday at 10 in room 4.",
        "Subject: hi\nsee you later",
        "from: alice@example.org\n\nhere are the minutes of today's call",
    ],
)
def test_looks_like_email_true_for_a_subject_or_one_header_and_a_body(message: str) -> None:
    """Issue #10: an email given as only `Subject:` and a body (any case) is an email, not an SMS."""
    assert looks_like_email(message) is True
    assert message_channel(message) == "email"


@pytest.mark.parametrize(
    "message",
    [
        "",
        "From here on I will text you first",
        "From here\nSubject: x\n\nhi",
        "Subject: x",
        "Subject: x\n\n",
        "Foo: 1\nBar: 2\n\nno known header",
        "Re: lunch?\nok see you there",
        "Note: call me\n\nwhen you are free",
        "URGENT: your prize is waiting\nCall 09061701461 now",
        *SPAM_DOCS,
        *HAM_DOCS,
    ],
)
def test_looks_like_email_false_for_sms(message: str) -> None:
    assert looks_like_email(message) is False
    assert message_channel(message) == "text"


# --- RFC 822 extraction ------------------------------------------------------------------------------------------

_MULTIPART = """\
From spammer@example.net  Mon Jan  1 00:00:00 2024
Return-Path: <bounce-77@returnpathqqq.test>
Received: from relayqqq.collectorxyz.test (relayqqq.collectorxyz.test [10.1.2.3]) by mx.collectorxyz.test
From: "Prize Team" <prizes@lottery.test>
To: you@inbox.test
Subject: =?utf-8?B?WW91IGhhdmUgd29u?= =?iso-8859-1?Q?_a_caf=E9?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8

Plain body here
--XYZ
Content-Type: text/html; charset=utf-8

<html><head><style>.hidden{color:red}</style><script>var secretcode=1;</script></head>
<body><p>Click <a href="http://claim-now.example.com/go?id=5">here</a> today</p></body></html>
--XYZ
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--XYZ--
"""


def test_preprocess_email_extracts_subject_sender_bodies_and_attachment_names() -> None:
    assert preprocess(_MULTIPART) == (
        "You have won a café\n"
        "Prize Team\n"
        "Plain body here\n"
        "\n Click    zurl claim-now.example.com http://claim-now.example.com/go?id=0   here  today"
        "\ninvoice.pdf"
    )


def test_preprocess_email_reads_html_and_text_files_attached_as_octet_stream() -> None:
    html = base64.b64encode(b"<p>Premium <b>gifts</b> for you</p>").decode()
    message = (
        'From: a@b.test\nSubject: promo\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nsee attached\n"
        '--B\nContent-Type: application/octet-stream; name="Brand New.htm"\n'
        "Content-Transfer-Encoding: base64\n\n" + html + "\n"
        '--B\nContent-Type: application/octet-stream; name="photo.jpg"\n\nnot read\n--B--\n'
    )
    out = preprocess(message)
    assert "Premium  gifts  for you" in out and "not read" not in out and "photo.jpg" in out


def test_preprocess_email_reads_a_body_whose_content_type_forgot_the_semicolon() -> None:
    message = "From: a@b.test\nSubject: offer\nContent-Type: text/plain charset=us-ascii\n\nRomanian software export"
    assert "Romanian software export" in preprocess(message)


def test_preprocess_email_drops_routing_headers_and_scripts() -> None:
    text = preprocess(_MULTIPART)
    for hidden in ("returnpathqqq", "collectorxyz", "relayqqq", "10.1.2.3", "bounce-77", "secretcode", "color:red"):
        assert hidden not in text


_LIST_FOOTERS = {
    "mailman": "_______________________________________________\nRPM-List mailing list <RPM-List@freshrpms.net>\n"
               "http://lists.freshrpms.net/mailman/listinfo/rpm-list\n",
    "a listserv after a signature": "-- \nTo UNSUBSCRIBE, email to debian-user-REQUEST@lists.debian.org\n"
                                    'with a subject of "unsubscribe". Trouble? Contact listmaster@lists.debian.org\n',
    "a bare listinfo link": "\nhttp://xent.com/mailman/listinfo/fork\n\n",
    "a sponsor's advert, then how to unsubscribe":
        "\n------------------------ Yahoo! Groups Sponsor ---------------------~-->\n4 DVDs Free +s&p Join Now\n"
        "http://us.click.yahoo.com/pt6YBB\n---------------------------------------------------------------------~->\n"
        "\nTo unsubscribe from this group, send an email to:\nforteana-unsubscribe@egroups.com\n",
}


@pytest.mark.parametrize("footer", _LIST_FOOTERS.values(), ids=_LIST_FOOTERS)
def test_preprocess_email_drops_the_footer_a_mailing_list_appends(footer: str) -> None:
    body = "Is this mountain limestone or granite?\n-- \nBob\n"
    assert preprocess(f"From: Bob <bob@b.test>\nSubject: rocks\n\n{body}{footer}") == "rocks\nBob\n" + body.rstrip()


@pytest.mark.parametrize("body", [
    "Claim your prize\n-----\nClick here to see more offers",  # a rule, but nothing of a list after it
    "We will unsubscribe you from the mailing list next week, as you asked.\nBob",  # list words, no footer rule
])
def test_preprocess_email_keeps_text_that_only_looks_like_a_list_footer(body: str) -> None:
    assert preprocess(f"From: Bob <bob@b.test>\nSubject: x\n\n{body}") == "x\nBob\n" + body


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1", None])
@pytest.mark.parametrize("encoding", ["8bit", "7bit", None])
def test_email_text_keeps_the_non_ascii_text_of_an_unencoded_body(charset: str | None, encoding: str | None) -> None:
    # The mail arrives as a str, so its body is text already, whatever charset its header names: the
    # parser's own decoding re-encoded it with raw-unicode-escape ("£" and "é" read as "\ufffd", "€" as
    # a literal "\\u20ac").
    headers = "Subject: win\n"
    headers += f"Content-Type: text/plain; charset={charset}\n" if charset else ""
    headers += f"Content-Transfer-Encoding: {encoding}\n" if encoding else ""
    body = "Win £1000 or 900 € at the café"
    assert email_text.email_text(_email(headers=headers, body=body)).split("\n")[:3] == ["win", "Prize Team", body]


def test_preprocess_email_keeps_raw_non_ascii_beside_an_encoded_word_in_a_header() -> None:
    message = "From: Zoë <z@b.test>\nSubject: Prix € =?iso-8859-1?q?gagn=E9?= à Noël\n\nhello"
    assert preprocess(message) == "Prix € gagné à Noël\nZoë\nhello"


def test_preprocess_email_decodes_rfc2047_subject_and_sender() -> None:
    message = (
        "From: =?utf-8?Q?Jos=C3=A9_Garc=C3=ADa?= <jose@example.test>\nSubject: =?utf-8?B?0J/RgNC40LLQtdGC?=\n\nhello"
    )
    assert preprocess(message) == "Привет\nJosé García\nhello"


def test_preprocess_email_decodes_base64_and_quoted_printable_bodies() -> None:
    encoded = base64.b64encode("naïve body".encode()).decode()
    b64 = _email(
        headers="Subject: b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n", body=encoded
    )
    qp = _email(
        headers="Subject: q\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        body="caf=E9 cr=\n\u00e8me",
    )
    assert preprocess(b64) == "b\nPrize Team\nnaïve body"
    assert preprocess(qp) == "q\nPrize Team\ncafé crème"


def test_preprocess_email_html_only_body_becomes_text() -> None:
    message = _email(
        headers="Subject: offer\nContent-Type: text/html\n",
        body='<script>track()</script><p>Buy <b>now</b></p><img src="https://img.pixelhost.test/a.gif">',
    )
    assert (
        preprocess(message)
        == "offer\nPrize Team\nBuy  now   zurl img.pixelhost.test https://img.pixelhost.test/a.gif  "
    )


# --- format= -----------------------------------------------------------------------------------------------------


def test_preprocess_format_text_reads_headers_as_words() -> None:
    assert preprocess(_HEADERS + "hello", format="text") == (
        "From: Alice < zemail example.test >\nTo:  zemail example.test \nSubject: lunch\n\nhello"
    )


def test_preprocess_format_email_reads_headerless_text_as_a_body() -> None:
    assert preprocess("hello world", format="email") == "hello world"


def test_preprocess_format_auto_detects_email() -> None:
    assert preprocess(_HEADERS + "hello") == preprocess(_HEADERS + "hello", format="email") == "lunch\nAlice\nhello"
    assert preprocess("From here on, hello") == preprocess("From here on, hello", format="text")


@pytest.mark.parametrize("bad_format", ["mime", "EMAIL", "", None])
def test_preprocess_invalid_format_raises(bad_format: object) -> None:
    with pytest.raises(ValueError, match=r"format must be 'auto', 'text' or 'email', not "):
        preprocess("hello", format=bad_format)  # type: ignore[arg-type]


# --- robustness --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            _email(headers="Subject: x\nContent-Type: text/plain; charset=x-unknown\n", body="hello unknown"),
            "x\nPrize Team\nhello unknown",
            id="unknown-charset",
        ),
        pytest.param(
            _email(headers="Subject: x\nContent-Transfer-Encoding: base64\n", body="!!!notbase64@@@"),
            "x\nPrize Team\n!!!notbase00@@@",
            id="broken-base64",
        ),
        pytest.param(
            _email(
                headers='Subject: x\nContent-Type: multipart/mixed; boundary="zz"\n',
                body="--zz\nContent-Type: text/plain\n\nunterminated part",
            ),
            "x\nPrize Team\nunterminated part",
            id="unterminated-multipart",
        ),
    ],
)
def test_preprocess_email_malformed_mime_still_reads_the_text(message: str, expected: str) -> None:
    assert preprocess(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(
            _email(headers="Subject: j\x00unk\n", body="\x00\x01\x02\xff\xfe binary \x00 end"), id="nul-bytes"
        ),
        pytest.param("\ud800 lone \udfff surrogates", id="lone-surrogates-text"),
        pytest.param(_email(headers="Subject: \ud800 hi\n", body="body \udfff"), id="lone-surrogates-email"),
        pytest.param(_email(headers="Content-Type: multipart/mixed\n", body="no boundary"), id="multipart-no-boundary"),
        pytest.param(_email(headers='Content-Type: text/plain; charset="utf-8\x00"\n', body="x"), id="nul-charset"),
        pytest.param(bytes(range(256)).decode("latin-1") * 40, id="binary-junk"),
        pytest.param(_nested_multipart(100), id="nested-100"),
        pytest.param(_nested_multipart(2000), id="nested-2000"),
    ],
)
def test_preprocess_hostile_input_never_raises(message: str) -> None:
    text = preprocess(message)
    assert isinstance(text, str)
    assert len(text) <= MAX_TEXT_CHARS


def test_preprocess_nested_multipart_reads_the_inner_text() -> None:
    assert preprocess(_nested_multipart(10)) == "deep\ninnermost words"


@pytest.mark.parametrize(
    ("message", "prefix"),
    [
        pytest.param("free prize " * 100_000, "free prize free", id="text-1MB"),
        pytest.param(_HEADERS + "free prize " * 100_000, "lunch\nAlice\nfree prize free", id="email-1MB"),
        pytest.param("£5 " * 350_000, " zmoney £0   zmoney £0 ", id="money-1MB"),
    ],
)
def test_preprocess_caps_output_at_max_text_chars(message: str, prefix: str) -> None:
    assert len(message) >= 1_000_000
    text = full_preprocess(message)
    assert len(text) == MAX_TEXT_CHARS
    assert text.startswith(prefix)
    assert _SHAPE_LINE.search(text)


# --- properties --------------------------------------------------------------------------------------------------

_PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY_SETTINGS
@given(st.text())
def test_preprocess_never_raises_on_arbitrary_text(message: str) -> None:
    text = preprocess(message)
    assert isinstance(text, str)
    assert len(text) <= MAX_TEXT_CHARS


@_PROPERTY_SETTINGS
@given(st.text(alphabet="<>/!?[]&#;=\"' abr-x"), st.text())
def test_preprocess_never_raises_on_arbitrary_text_with_markup(markup: str, message: str) -> None:
    text = preprocess(f"<br />{markup}{message}")  # read as HTML: broken tags and declarations included
    assert isinstance(text, str)
    assert len(text) <= MAX_TEXT_CHARS


@_PROPERTY_SETTINGS
@given(st.text(), st.text())
def test_preprocess_never_raises_on_arbitrary_email(header_value: str, body: str) -> None:
    message = f"From: someone@example.test\nSubject: {header_value}\nContent-Type: text/plain\n\n{body}"
    text = preprocess(message)
    assert isinstance(text, str)
    assert len(text) <= MAX_TEXT_CHARS


def test_preprocess_multipart_without_boundary_keeps_its_body():
    raw = "From: a@b.example\nSubject: hi\nContent-Type: multipart/mixed\n\nbody text here, free money"
    assert preprocess(raw) == "hi\nbody text here, free money"


# --- bounded work per message (issue #10) ------------------------------------------------------------------------


def _parts(count: int, *, first: str = "opening words") -> str:
    parts = "".join(f"--b\nContent-Type: text/plain\n\npart {number}\n" for number in range(count))
    return _email(headers='Content-Type: multipart/mixed; boundary="b"\n',
                  body=f"--b\nContent-Type: text/plain\n\n{first}\n{parts}--b--\n")


_IP_LINK_PART = '--b\nContent-Type: text/html\n\n<a href="http://10.1.2.3/x">claim</a>\n--b--\n'


def _hidden_after(filler: int) -> str:
    """An email whose HTML part (a link to a bare IP address) comes after `filler` characters of text."""
    return _email(headers='Content-Type: multipart/mixed; boundary="b"\n',
                  body=f"--b\nContent-Type: text/plain\n\n{'word ' * (filler // 5)}\n{_IP_LINK_PART}")


def test_email_text_bounded_keeps_the_headers_it_reads_and_the_opening_of_the_body() -> None:
    body = "free prize " * 100_000
    read = _HEADERS.replace("To: bob@example.test\n", "")
    assert email_text._bounded(_HEADERS + body) == read + body[: email_text._MAX_BODY_CHARS]


def test_email_text_bounded_cuts_a_huge_header_block() -> None:
    message = "From: a@b.test\nSubject: " + "x" * 250_000 + "\n\nbody"
    assert email_text._bounded(message) == message[: email_text._MAX_HEADER_CHARS]
    text = full_preprocess(message)
    assert text.startswith("x" * 1_000) and len(text) <= MAX_TEXT_CHARS


def test_email_text_bounded_lets_through_a_fixed_number_of_mime_parts() -> None:
    body = email_text._bounded(_parts(10_000)).split("\n\n", 1)[1]
    assert body.count("\n--") == email_text._MAX_MIME_PARTS
    assert full_preprocess(_parts(10_000)) == full_preprocess(_parts(200))  # what lies past the cap is never read


def test_preprocess_does_not_read_parts_past_the_body_cap() -> None:
    assert "zh_iplink" in full_preprocess(_hidden_after(1_000))  # read when it is near the top...
    assert "zh_iplink" not in full_preprocess(_hidden_after(email_text._MAX_BODY_CHARS))  # ...not past the cap


def test_preprocess_reads_a_bounded_prefix_of_an_html_part() -> None:
    html = '<p>offer</p> ' * (email_text._MAX_HTML_CHARS // 13) + '<a href="http://10.1.2.3/x">claim</a>'
    message = _email(headers="Content-Type: text/html\n", body=html)
    assert len(html) > email_text._MAX_HTML_CHARS > len(html) - 100
    assert "zh_iplink" not in full_preprocess(message)
    assert "zh_iplink" in full_preprocess(_email(headers="Content-Type: text/html\n", body=html[-200:]))


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(_HEADERS + "x" * 1_000_000, id="1MB-single-line"),
        pytest.param(_parts(10_000), id="10k-parts"),
        pytest.param("From: a@b.test\nSubject: " + "=?utf-8?q?x?= " * 20_000 + "\n\nbody", id="250KB-subject"),
        pytest.param("From: a@b.test\nTo: c@d.test\n" + "X-Pad: y\n" * 30_000 + "\nbody", id="270KB-header"),
    ],
)
def test_preprocess_reads_only_a_bounded_prefix_of_hostile_email(message: str) -> None:
    bounded = email_text._bounded(message)
    assert len(bounded) <= email_text._MAX_HEADER_CHARS + email_text._MAX_BODY_CHARS < len(message)
    assert full_preprocess(message) == full_preprocess(bounded)  # the model reads the prefix and nothing else
    assert len(full_preprocess(message)) <= MAX_TEXT_CHARS


_RECEIVED = "Received: from relay.test (relay.test [10.0.0.1])\n\tby mx.test with SMTP id 42;\n\tMon, 1 Jul 2002\n"
_BASE64_PART = base64.b64encode(b"the body, in base64").decode()


@pytest.mark.parametrize("raw", [
    # Received chains, a folded boundary, a base64 part: every field the extraction reads survives
    _RECEIVED * 3 + "From: Shop <shop@x.test>\nX-Mailer: m\nSubject: offer\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed;\n\tboundary=\"b\"\n\n--b\nContent-Type: text/plain; charset=utf-8\n"
    f"Content-Transfer-Encoding: base64\n\n{_BASE64_PART}\n--b\nContent-Type: text/html\n"
    "Content-Disposition: attachment; filename=\"deal.htm\"\n\n<p>deal</p>\n--b--\n",
    # a line that is not a field ends the headers for the parser: "Subject: late" is body text
    _RECEIVED + "From: a@x.test\nnot a header line\nSubject: late\n\nbody",
    # a field with an empty name, and an mbox envelope line first
    "From sender@x.test Mon Jul  1 00:00:00 2002\n" + _RECEIVED + ":empty\nSubject: hi\n\nbody",
    # a first line that is a continuation, and CRLF line ends
    "\tcontinued\r\nReceived: r\r\n\tr2\r\nSubject: crlf\r\nFrom: b@x.test\r\n\r\nbody\r\n",
    # bare carriage returns break lines for the parser: the block is left whole
    "Received: r\rSubject: cr\nFrom: c@x.test\n\nbody",
    _RECEIVED + "\n\nonly routing headers",
])
def test_dropping_the_header_fields_nobody_reads_changes_nothing_read(raw: str) -> None:
    """email_text parses the headers without the fields it never reads (half of them are Received chains)."""
    pruned_hints: list[str] = []
    whole_hints: list[str] = []
    assert email_text.email_text(raw, pruned_hints) == email_text._extract_email(raw, whole_hints)
    assert pruned_hints == whole_hints
    assert "relay" not in email_text._without_unread_fields(raw.split("\n\n")[0]).lower() or "\r" in raw
