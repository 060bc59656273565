"""An email as it often arrives instead of as it was sent: re-typed into its subject and text.

API callers paste "Subject: ..." and the mail's text; public corpora such as Enron-Spam and Ling-Spam
ship mail lower-cased and tokenised ("http : / / www . x . com", "haven ' t"). None of them keeps the
sender, the MIME structure or the HTML. `make quality` scores the corpora the shipped model never
trained on in each of these forms, to show how much of its judgement rests on what re-typing drops.

>>> retyped("From: a@b.test\\nSubject: Win NOW\\n\\nIt's free, see www.x.com!", "tokenised")
"Subject: win now\\nit ' s free , see www . x . com !"
"""

from __future__ import annotations

import email
import email.message
import html
import re
from typing import Literal

from ..email_text import part_text

__all__ = ["FORMS", "Form", "retyped"]

Form = Literal["as sent", "subject and body", "lower-cased", "tokenised"]
#: From the mail as sent to the Enron-Spam form, each dropping a little more.
FORMS: tuple[Form, ...] = ("as sent", "subject and body", "lower-cased", "tokenised")

_TAG = re.compile(r"(?s)<[^>]*>")
_PUNCTUATION = re.compile(r"([^\w\s])")


def retyped(raw: str, form: Form) -> str:
    """`raw` in `form`: as sent, or "Subject: <subject>" and its text, lower-cased and then tokenised."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, not {form!r}")
    if form == "as sent":
        return raw
    message = email.message_from_string(raw)
    subject, body = str(message.get("Subject", "") or ""), _body_text(message)
    if form == "tokenised":
        return f"Subject: {_tokenised(subject)}\n{_tokenised(body)}"
    if form == "lower-cased":
        subject, body = subject.lower(), body.lower()
    return f"Subject: {subject}\n{_lines(body)}"


def _body_text(message: email.message.Message) -> str:
    """The text/plain parts, else the text/html parts with their tags stripped (what a mail client shows)."""
    plain, markup = [], []
    for part in message.walk():
        if part.is_multipart() or part.get_content_type() not in ("text/plain", "text/html"):
            continue
        (plain if part.get_content_type() == "text/plain" else markup).append(part_text(part))
    return "\n".join(plain) if plain else html.unescape(_TAG.sub(" ", "\n".join(markup)))


def _tokenised(text: str) -> str:
    return _lines(_PUNCTUATION.sub(r" \1 ", text.lower()))


def _lines(text: str) -> str:
    """The non-blank lines, white space folded: no line may start with a blank (a header continuation)."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
