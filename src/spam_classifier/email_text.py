"""An RFC 822 email -> the words it carries: subject, sender name, bodies, file names and MIME shape.

Part of `spam_classifier.preprocess`, kept apart so that the stdlib `email` and `html.parser`
packages (about 20 ms of imports) load only when the first email arrives: a Lambda function that
only ever sees SMS-like text never pays for them at cold start.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.message
import email.utils
import re
from html.parser import HTMLParser

__all__ = ["email_text"]

_MAX_MIME_PARTS = 64


def email_text(raw: str) -> str:
    """The subject, sender display name, decoded bodies and attachment names of `raw`; never raises."""
    try:
        return _extract_email(raw)
    except Exception:  # noqa: BLE001 - hostile or broken mail must never break scoring
        return raw


def _extract_email(raw: str) -> str:
    msg = email.message_from_string(raw)  # the compat32 policy: lenient, and no email.policy import
    sections = [_decode_header(msg.get("Subject")), email.utils.parseaddr(_decode_header(msg.get("From")))[0]]
    structure: list[str] = []  # MIME shape: spam is far more often HTML-only, or in an unusual charset
    for number, part in enumerate(msg.walk()):
        if number >= _MAX_MIME_PARTS:
            break
        structure.append("zmime_" + _token(part.get_content_type()))
        charset = part.get_param("charset")
        if isinstance(charset, str) and charset:
            structure.append("zcharset_" + _token(charset))
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            sections.append(_decode_header(filename))
        content_type = part.get_content_type()
        if content_type == "text/plain" or (content_type == "text/html" and not filename):
            body = _decode_payload(part)
            sections.append(_html_text(body) if content_type == "text/html" else body)
    if len(sections) == 2 and msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), str):
        sections.append(msg.get_payload())  # a multipart without a usable boundary: its raw body, not nothing
    if "zmime_text_html" in structure and "zmime_text_plain" not in structure:
        structure.append("zhtmlonly")
    sections.append(" ".join(structure))
    return "\n".join(section for section in sections if section)


def _token(value: str) -> str:
    return re.sub(r"\W+", "_", value.lower()).strip("_")[:40]


def _decode_header(value: object) -> str:
    if value is None:
        return ""
    try:
        pieces = email.header.decode_header(str(value))
    except Exception:  # noqa: BLE001
        return str(value)
    return "".join(
        piece if isinstance(piece, str) else piece.decode(_known_charset(charset), errors="replace")
        for piece, charset in pieces
    )


def _decode_payload(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(_known_charset(part.get_content_charset()), errors="replace")
    return payload if isinstance(payload, str) else ""


def _known_charset(charset: str | None) -> str:
    if charset:
        try:
            return codecs.lookup(charset).name
        except (LookupError, ValueError):
            pass
    return "utf-8"


class _HTMLText(HTMLParser):
    """Collects the visible text of an HTML body plus the hosts its links point at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.chunks.append(f" {value} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)


def _html_text(markup: str) -> str:
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    return " ".join(parser.chunks)
