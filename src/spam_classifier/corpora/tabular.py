"""CSV and JSON-lines corpora with a text column and a label column."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import CorpusError
from ._files import read_text

if TYPE_CHECKING:
    from ..scorer import Label
    from . import LoadOptions

__all__ = ["CsvLoader", "JsonlLoader"]

_SPAM = frozenset({"spam", "1", "true", "yes"})
_HAM = frozenset({"ham", "0", "false", "no"})


def _label(value: Any, where: str) -> Label:
    text = str(value).strip().lower()
    if text in _SPAM:
        return "spam"
    if text in _HAM:
        return "ham"
    raise CorpusError(f"{where}: label {value!r} is neither spam (spam/1/true) nor ham (ham/0/false)")


def _pairs(rows: list[tuple[int, dict[str, Any]]], location: str, options: LoadOptions) -> list[tuple[str, Label]]:
    pairs: list[tuple[str, Label]] = []
    for number, row in rows:
        where = f"{location}:{number}"
        for column in (options.text_column, options.label_column):
            if column not in row:
                raise CorpusError(f"{where}: no {column!r} column (found {sorted(row)}); see --text-column")
        pairs.append((str(row[options.text_column] or ""), _label(row[options.label_column], where)))
    return pairs


class CsvLoader:
    kind: ClassVar[str] = "csv"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        if location is None:
            raise CorpusError("csv needs a path: --data csv:messages.csv")
        reader = csv.DictReader(io.StringIO(read_text(Path(location)), newline=""))
        try:
            rows = [(number, row) for number, row in enumerate(reader, start=2)]
        except csv.Error as exc:
            raise CorpusError(f"{location}: not valid CSV: {exc}") from None
        return _pairs(rows, location, options)


class JsonlLoader:
    kind: ClassVar[str] = "jsonl"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        if location is None:
            raise CorpusError("jsonl needs a path: --data jsonl:messages.jsonl")
        rows = []
        for number, line in enumerate(read_text(Path(location)).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise CorpusError(f"{location}:{number}: not valid JSON: {exc}") from None
            if not isinstance(row, dict):
                raise CorpusError(f"{location}:{number}: expected a JSON object per line")
            rows.append((number, row))
        return _pairs(rows, location, options)
