"""Small file-reading helpers shared by the loaders: one clear CorpusError per failure."""

from __future__ import annotations

from pathlib import Path

from ..errors import CorpusError

__all__ = ["label_from_path", "read_text"]


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a directory; expected a file") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read: {exc.strerror}") from None


def label_from_path(path: Path, given: str | None) -> str:
    """The label given by the user, else the nearest folder (or file stem) named spam or ham."""
    if given:
        return given
    for part in (path.stem, *(parent.name for parent in path.parents)):
        if part.lower() in ("spam", "ham"):
            return part.lower()
    raise CorpusError(f"{path}: cannot tell spam from ham; put it in a folder named spam or ham, or add @spam / @ham")
