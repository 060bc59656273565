"""An RFC 822 email -> the words it carries: subject, sender name, bodies, file names and MIME shape.

Part of `spam_classifier.preprocess`, kept apart so that the stdlib `email` and `html.parser`
packages (about 20 ms of imports) load only when the first email arrives (`html.parser` also with
the first text that carries markup, `spam_classifier.html_text`): a Lambda function that only ever
sees plain SMS-like text never pays for them at cold start.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.message
import email.utils
import re

from .html_text import HTMLText
from .preprocess import MAX_TEXT_CHARS

__all__ = ["email_text", "part_text"]

# Bounded work (issue #10): every step below reads at most a fixed prefix, so a 1 MB email, a 250 KB
# header or 10,000 MIME parts cost about what an ordinary email does. The same caps run at training
# time, so the scorer's parity with scikit-learn holds with them.
#: The header block is read up to here: SpamAssassin's longest is 15,169 characters (Received chains);
#: a message without a blank line in it is read as headers only.
_MAX_HEADER_CHARS = 20_000
#: The body is parsed up to here: the text parts come first and the model reads only `MAX_TEXT_CHARS`
#: of it; 98.8 % of SpamAssassin bodies are shorter, the rest is mostly base64 attachments.
_MAX_BODY_CHARS = 32_000
#: MIME parts walked, and boundary-like lines ("\n--") let through to the parser: SpamAssassin has at
#: most 28 in a body; the parser's cost grows with the parts, not only with the characters.
_MAX_MIME_PARTS = 64
#: A subject or From header is decoded up to here; real ones are under 200 characters.
_MAX_HEADER_VALUE_CHARS = 2_000
#: An HTML part (or attached file) is parsed up to here: markup is about three quarters tags,
#: so this yields about the text the model reads; the rest of a long newsletter changes nothing.
_MAX_HTML_CHARS = 4 * MAX_TEXT_CHARS
_HTML_FILES = (".htm", ".html")
_HEADER_END = re.compile(r"\n\r?\n")
#: A line that opens a footer: the "-- " of a signature, or a rule of dashes, underscores, equals signs...
_FOOTER_RULE = re.compile(r"^(?:-- ?|[-_=~*]{8,}.*)$", re.MULTILINE)
#: What a list manager's footer says: how to leave the list, where it lives, who sponsors it.
_LIST_MARKS = re.compile(r"(?i)unsubscri|mailing list|listinfo|\(un\)subscri|sponsor")
#: A Mailman list's address alone on the last line (some lists append only that), looked for in the
#: last `_LISTINFO_CHARS` characters.
_LISTINFO_LINE = re.compile(r"\n[ \t]*\S*(?:listinfo|mailman)\S*[ \t]*$")
_LISTINFO_CHARS = 300
#: A footer is looked for in the last this many characters of a body; list footers are a few lines.
_FOOTER_CHARS = 1_500


def email_text(raw: str, hints: list[str] | None = None) -> str:
    """The subject, sender display name, decoded bodies and attachment names of `raw`; never raises.

    Given a `hints` list, it also appends tokens for the shape of the subject and sender name
    (`_subject_hints`) and for the tricks of the HTML (`HTMLText.hints`).
    """
    raw = _bounded(raw)
    try:
        return _extract_email(raw, hints)
    except Exception:  # noqa: BLE001 - hostile or broken mail must never break scoring
        return raw


def _bounded(raw: str) -> str:
    """The part of `raw` that is read: its headers and the opening of its body (see the caps above).

    The body is also cut before its `_MAX_MIME_PARTS` + 1st line starting with "--" (a MIME boundary,
    or a signature), so a message of 10,000 tiny parts is parsed as its first few dozen.
    """
    end = _HEADER_END.search(raw, 0, _MAX_HEADER_CHARS)
    if end is None:
        return raw[:_MAX_HEADER_CHARS]
    fields = _without_unread_fields(raw[: end.start()])
    # The blank line after the fields; if every field went, it must not end a (now gone) last field.
    head = fields + raw[end.start() : end.end()] if fields or not end.start() else raw[end.start() + 1 : end.end()]
    body = raw[end.end() : end.end() + _MAX_BODY_CHARS]
    position = 0
    for _ in range(_MAX_MIME_PARTS):
        position = body.find("\n--", position) + 1
        if not position:
            return head + body
    cut = body.find("\n--", position)
    return head + (body if cut < 0 else body[:cut])


#: The header fields anything below reads; the parser needs the Content-* ones to find and decode parts.
#: Not List-Id or List-Unsubscribe, though they would separate the catalog's email well: they head all of
#: CSDMC2010's ham (and 0.8 % of its spam) and 68 % of SpamAssassin's ham (12 % of its spam): both
#: collected their ham largely from mailing lists. A model would learn that mail without them is spam,
#: and most personal and business mail has neither; any spammer can add them.
_READ_FIELDS = frozenset(
    {"subject", "from", "mime-version", "content-type", "content-transfer-encoding", "content-disposition"}
)
#: A message with none of these fields is pasted text ("Subject: ..." and a body), not mail as sent.
_DECLARING_FIELDS = ("from", "content-type", "mime-version")
_FIELD_NAME = re.compile(r"([!-9;-~]+):")  # the email package's header line, with a non-empty name


def _without_unread_fields(head: str) -> str:
    """The header block without the fields nothing reads: half of it is `Received:` chains, and the
    parser and every `Message.get` pay for each field. The parse of what is read stays the same: it
    stops dropping at the first line that is not a field (where the parser stops reading headers), and
    leaves a block with a bare carriage return alone (the parser breaks lines there too).
    """
    if "\r" in head and head.count("\r") != head.count("\r\n"):  # no copy of the block for the usual LF mail
        return head
    lines = head.split("\n")
    kept: list[str] = []
    dropping = False
    for number, line in enumerate(lines):
        if line[:1] in (" ", "\t"):  # a folded continuation of the field before
            if not dropping:
                kept.append(line)
            continue
        field = _FIELD_NAME.match(line)
        if field is None:
            if number == 0 and line.startswith("From "):  # an mbox envelope line
                kept.append(line)
                continue
            kept += lines[number:]
            break
        dropping = field.group(1).lower() not in _READ_FIELDS
        if not dropping:
            kept.append(line)
    return "\n".join(kept)


def _extract_email(raw: str, hints: list[str] | None) -> str:
    msg = email.message_from_string(raw)  # the compat32 policy: lenient, and no email.policy import
    # Mail pasted as "Subject: ..." and its text says nothing of its sender or MIME structure; the parser's
    # default (a text/plain part, no sender name) would read as strong ham and spam evidence it never gave.
    declared = any(msg.get(field) is not None for field in _DECLARING_FIELDS)
    subject = _decode_header(msg.get("Subject"))
    sender = email.utils.parseaddr(_decode_header(msg.get("From")))[0]
    sections = [subject, sender]
    parser = HTMLText()
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
        content_type, name = _content_type(part), (filename or "").lower()
        attached = bool(name) and _is_attached_text(content_type, name)
        if attached or content_type == "text/plain" or (content_type == "text/html" and not name):
            is_html = name.endswith(_HTML_FILES) if attached else content_type == "text/html"
            body = part_text(part)
            text = parser.text_of(body[:_MAX_HTML_CHARS]) if is_html else _without_list_footer(body[:MAX_TEXT_CHARS])
            sections.append(text)
    if len(sections) == 2 and msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), str):
        sections.append(msg.get_payload()[:MAX_TEXT_CHARS])  # no usable boundary: its raw body, not nothing
    if "zmime_text_html" in structure and "zmime_text_plain" not in structure:
        structure.append("zhtmlonly")
    if declared:
        # The training ham of 2002-10 is mostly plain text ("zmime_text_plain" weighs -2.8) where today's
        # newsletters are HTML, but these tokens help every left-out corpus. Without them (full
        # cross-corpus run, 2026-12-06): SpamAssassin 0.9610 -> 0.9575 (ham FPR 14.7 -> 17.2 %), YouTube
        # 0.8658 -> 0.8366, SMS 0.9902 -> 0.9896, CSDMC2010 0.9941 -> 0.9928; phishing_pot 81.9 -> 75.8 %.
        sections.append(" ".join(structure))
    if hints is not None:
        hints += _subject_hints(subject, sender if declared else None)
        hints += ["zsubj_charset_" + _token(charset) for charset in _header_charsets(msg.get("Subject"))]
        hints += parser.hints()
    return "\n".join(section for section in sections if section)


def _without_list_footer(body: str) -> str:
    """`body` without the footers a mailing-list manager appends: how to unsubscribe, the list's address
    and archive, a sponsor's advert. Up to three, last first, each after a rule line (or a bare listinfo link).

    They mark how a corpus was collected, not what the mail says: 53 % of SpamAssassin's ham ends in one
    (12 % of its spam, forwarded to a list) and 70 % of CSDMC2010's (0.1 % of its spam), and models
    learnt them as the surest sign of ham ("debian", "lists", "unsubscribe" were the weights that most
    set a CSDMC2010-trained model's ham apart from SpamAssassin's), so mail without one, most personal
    and business mail, looked like spam. Without them (full cross-corpus run, 2026-12-02), left-out
    SpamAssassin ranks at ROC-AUC 0.954 (0.934 with them) and 18 % of its ham is flagged (32 %); see
    README, "Quality". Two more marks of collection were screened with it (full runs, left-out
    SpamAssassin ROC-AUC, phishing_pot recall; footers alone 0.954, 0.824) and not kept: a subject's
    leading list tag ("[ILUG] ...") dropped too, 0.954, 0.793; and, on top of that, years (1980-2049)
    read as one token "zyear", so that 2002 and 2010 stop meaning ham, 0.957 (YouTube 0.866 against
    0.860) but 0.737: phishing_pot's 2022-24 spam then shares the token that the dates of quoted
    replies ("On Mon, Oct 4, 2010, ... wrote") made a sign of ham. Those reply lines alone read as
    "zreply wrote:" (dates and names gone): SpamAssassin 0.953, 18.1 % of its ham flagged (17.8 %).
    """
    kept = stripped = body.rstrip()
    for _ in range(3):
        listinfo = _LISTINFO_LINE.search(kept, max(0, len(kept) - _LISTINFO_CHARS))
        if listinfo:
            kept = kept[: listinfo.start()].rstrip()
            continue
        rules = [rule.start() for rule in _FOOTER_RULE.finditer(kept, max(0, len(kept) - _FOOTER_CHARS))]
        if not rules or not _LIST_MARKS.search(kept, rules[-1]):
            break
        kept = kept[: rules[-1]].rstrip()
    return kept if len(kept) < len(stripped) else body  # untouched when nothing was cut


def _token(value: str) -> str:
    return re.sub(r"\W+", "_", value.lower()).strip("_")[:40]


def _decode_header(value: object) -> str:
    if value is None:
        return ""
    value = str(value)[:_MAX_HEADER_VALUE_CHARS]
    try:
        pieces = email.header.decode_header(value)
    except Exception:  # noqa: BLE001
        return value
    # Between encoded words the parser hands back the str's own text re-encoded with raw-unicode-escape.
    return "".join(
        piece if isinstance(piece, str)
        else piece.decode("raw-unicode-escape" if charset is None else _known_charset(charset), errors="replace")
        for piece, charset in pieces
    )


def _content_type(part: email.message.Message) -> str:
    """The part's content type, also when its header forgot the ";" ("text/plain charset=us-ascii")."""
    return part.get_content_type().split(None, 1)[0].rstrip(";")


def _is_attached_text(content_type: str, filename: str) -> bool:
    """Whether a named part is an HTML or text file worth reading: spam attaches its pitch as
    "Brand New Premium.htm", often as application/octet-stream so that filters skip it."""
    if filename.endswith(_HTML_FILES):
        return content_type in ("text/html", "application/octet-stream")
    return filename.endswith(".txt") and content_type == "application/octet-stream"


def _header_charsets(value: object) -> list[str]:
    """The charsets of a header's RFC 2047 encoded words (``=?gb2312?q?...?=``), each once."""
    value = str(value)[:_MAX_HEADER_VALUE_CHARS]
    if "=?" not in value:
        return []
    try:
        return sorted({charset for _, charset in email.header.decode_header(value) if charset})
    except Exception:  # noqa: BLE001
        return []


#: Transfer encodings whose text stands for bytes; any other body of a parsed str is text already.
_BYTE_ENCODINGS = frozenset({"base64", "quoted-printable", "x-uuencode", "uuencode", "uue", "x-uue"})


def part_text(part: email.message.Message) -> str:
    """The text of a non-multipart `part` of a message parsed from a str.

    A base64 or quoted-printable body is decoded to bytes, then read in the part's charset. Any other
    body was decoded before parsing (the mail arrives as a str): it is used as it is, because the
    parser's ``get_payload(decode=True)`` would re-encode it with raw-unicode-escape, and reading those
    bytes in the declared charset turned "£1000 café" in a UTF-8 body into "�1000 caf�" and "€" into
    a literal "\\u20ac".
    """
    payload = part.get_payload()
    if not isinstance(payload, str):
        return ""
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() not in _BYTE_ENCODINGS:
        return payload
    data = part.get_payload(decode=True)
    return data.decode(_known_charset(part.get_content_charset()), errors="replace") if isinstance(data, bytes) else ""


def _known_charset(charset: str | None) -> str:
    if charset:
        try:
            return codecs.lookup(charset).name
        except (LookupError, ValueError):
            pass
    return "utf-8"


_REPLY_SUBJECT = re.compile(r"(?i)\s*(?:\[[^\]]*\]\s*)?(?:re|aw|fwd?)\s*:")  # "Re:", "[list] Fwd:"
#: Filler before a tracking tag ("Cheap meds now!          28534"); folded header lines start with a newline.
_SUBJECT_GAP = re.compile(r"\S[ \t]{3,}\S")
#: A subject's last word, lowercase letters after spaces or tabs that follow a word ("Weekly Stock
#: Report vjf"). The look-behind starts a match only at the first blank of a run, which keeps the
#: search linear in a hostile 250 KB subject; "(\S+)[ \t]+" in front of it made that search quadratic.
_SUBJECT_TAIL = re.compile(r"(?<=\S)[ \t]+([a-z]{3,})$")
_VOWEL = re.compile(r"[aeiou]")
_CAPITAL_OR_STOP = re.compile(r"[A-Z]|[.!?)]$")
def _subject_hints(subject: str, sender: str | None) -> list[str]:
    """Tokens for the shape of the subject and of the sender's name (None: the mail gives no sender).

    Spam shouts its pitch in the subject ("FREE", "$$$", "!!!") and often has no sender name or
    an all-capitals one; the words themselves are already in the text, but not where they stood.
    (Subject words marked as such, ``zs_<word>``, were tried too: no better, and a bigger vocabulary.)
    Spam also pads the subject with spaces before a number, or ends it with a random tag
    ("... 28534", "... vjf") to defeat checksum filters; real subjects almost never do either.
    """
    found = []
    letters = [char for char in subject if char.isalpha()]
    if not subject.strip():
        found.append("zsubj_none")
    elif len(letters) >= 4 and sum(char.isupper() for char in letters) >= 0.6 * len(letters):
        found.append("zsubj_caps")
    if "!" in subject:
        found.append("zsubj_excl")
    if any(char in subject for char in "$£€%"):
        found.append("zsubj_money")
    if not subject.isascii():
        found.append("zsubj_nonascii")
    if _REPLY_SUBJECT.match(subject):
        found.append("zsubj_reply")
    if _SUBJECT_GAP.search(subject):
        found.append("zsubj_gap")
    if _random_tail(subject):
        found.append("zsubj_junk")
    if sender is None:
        return found
    if not sender.strip():
        found.append("zfrom_none")
    elif sender.upper() == sender and any(char.isalpha() for char in sender):
        found.append("zfrom_caps")
    return found


def _random_tail(subject: str) -> bool:
    """Whether the subject ends in a made-up lowercase word: after a lone "." or "|", or a vowelless one
    after a capitalised word or a full stop ("Save Money! Refinance Now!!! szfdk"; not "[ILUG] tcpd")."""
    tail = _SUBJECT_TAIL.search(subject.rstrip())
    if not tail:
        return False
    before, last = tail.string[: tail.start()].rsplit(None, 1)[-1], tail.group(1)
    if before in (".", "|"):
        return True
    return not _VOWEL.search(last) and bool(_CAPITAL_OR_STOP.search(before)) and not before.startswith("[")
