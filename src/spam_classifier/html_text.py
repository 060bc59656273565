"""HTML -> the visible text the model reads, the hosts its links point at and the markup tricks of spam.

Part of `spam_classifier.preprocess`: it reads an email's HTML parts (`spam_classifier.email_text`)
and the markup some text messages carry (YouTube comments: ``<br />``, ``<a href=...>``). It loads
only `html.parser`, so a text message with markup does not pay for the `email` package.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

__all__ = ["HTMLText"]

_IP_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_SHOWN_HOST = re.compile(r"(?i)(?:https?://)?(?:www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,})")
#: Tags real mail uses; spam sprinkles made-up ones (``<xbq>``) to break up words for filters.
_KNOWN_TAGS = frozenset({
    "a", "abbr", "address", "area", "b", "base", "basefont", "bdo", "big", "blink", "blockquote", "body", "br",
    "button", "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "dir", "div", "dl", "dt",
    "em", "embed", "fieldset", "font", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr",
    "html", "i", "iframe", "img", "input", "ins", "kbd", "label", "legend", "li", "link", "map", "marquee", "menu",
    "meta", "nobr", "noscript", "o:p", "object", "ol", "optgroup", "option", "p", "param", "pre", "q", "s", "samp",
    "script", "select", "small", "span", "strike", "strong", "style", "sub", "sup", "table", "tbody", "td",
    "textarea", "tfoot", "th", "thead", "title", "tr", "tt", "u", "ul", "var", "wbr", "xml",
})


def _link_host(url: str) -> str:
    url = url.strip().lower()
    if "://" not in url:
        return ""
    host = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return host.rsplit("@", 1)[-1].split(":", 1)[0].removeprefix("www.")


class HTMLText(HTMLParser):
    """Collects the visible text of an HTML body plus the hosts its links point at.

    It also counts the markup tricks of spam, across all the HTML parts of a message (`hints`).
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0
        self._anchor: tuple[str, list[str]] | None = None  # the open link's host and its shown text
        self.counts: Counter[str] = Counter()

    def text_of(self, markup: str) -> str:
        """The visible text and link targets of one HTML part; the trick counts carry on across parts.

        Markup that html.parser cannot read is returned as it is: it raises AssertionError("expected
        name token") on some broken declarations ("<![0"), and one bad part must not cost the rest.
        """
        start = len(self.chunks)
        try:
            self.feed(markup)
            self.close()
        except Exception:  # noqa: BLE001
            del self.chunks[start:]
            return markup
        finally:
            self.reset()
            self._hidden, self._anchor = 0, None
        return " ".join(self.chunks[start:])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        if tag not in _KNOWN_TAGS:
            self.counts["badtag"] += 1
        for name, value in attrs:
            if not value:
                continue
            if name in ("href", "src"):
                self.chunks.append(f" {value} ")
            if name == "href":
                host = _link_host(value)
                if host:
                    if _IP_HOST.match(host):
                        self.counts["iplink"] += 1
                    if tag == "a":
                        self._anchor = (host, [])
            elif name == "style":
                style = value.lower().replace(" ", "")
                if "display:none" in style or "visibility:hidden" in style or "font-size:0" in style:
                    self.counts["hidden"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1
        if tag == "a" and self._anchor:
            host, text = self._anchor
            shown = _SHOWN_HOST.search(" ".join(text))
            if shown and not _same_site(shown.group(1).lower(), host):
                self.counts["linkmismatch"] += 1
            self._anchor = None

    def handle_comment(self, data: str) -> None:
        self.counts["comment"] += 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)
            if self._anchor:
                self._anchor[1].append(data)

    def hints(self) -> list[str]:
        """Tokens for the markup tricks that mark spam: links to bare IP addresses, links that show one
        domain and go to another, hidden text, made-up tags and comments that break up words.

        Plain counts of links, images, tables or fonts were tried too and cost recall at a low ham
        false-positive rate: legitimate HTML newsletters have just as many.
        """
        found = [f"zh_{name}" for name in ("iplink", "linkmismatch", "hidden") if self.counts[name]]
        if self.counts["badtag"] >= 3:
            found.append("zh_badtags")
        if self.counts["comment"] >= 5:
            found.append("zh_comments")
        return found


def _same_site(shown: str, host: str) -> bool:
    """Whether a link's shown domain and its target share their last two labels (``a.x.com`` ~ ``x.com``)."""
    shown, host = shown.removeprefix("www."), host.removeprefix("www.")
    return shown.split(".")[-2:] == host.split(".")[-2:] or shown.endswith(host) or host.endswith(shown)
