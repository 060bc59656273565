"""UCI SMS Spam Collection: one `ham|spam<TAB>text` per line (Almeida & Gómez Hidalgo, 2011; CC BY 4.0)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..errors import CorpusError
from ._files import read_text

if TYPE_CHECKING:
    from ..scorer import Label
    from . import LoadOptions

__all__ = ["SmsLoader"]


class SmsLoader:
    kind: ClassVar[str] = "sms"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        if location is None:
            raise CorpusError("sms needs a path: --data sms:path/to/SMSSpamCollection")
        pairs: list[tuple[str, Label]] = []
        for number, line in enumerate(read_text(Path(location)).split("\n"), start=1):
            if not line.strip():
                continue
            tag, tab, text = line.partition("\t")
            if not tab or tag not in ("ham", "spam"):
                raise CorpusError(f"{location}:{number}: expected 'ham<TAB>text' or 'spam<TAB>text', got {line[:40]!r}")
            pairs.append((text, tag))  # type: ignore[arg-type]
        return pairs
