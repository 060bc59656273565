"""Mail on disk: mbox files, maildir folders and folders of .eml files.

The label comes from the folder (or file) name `spam` / `ham`, or from an explicit `@spam` / `@ham`.
"""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..errors import CorpusError
from ._files import label_from_path

if TYPE_CHECKING:
    from ..scorer import Label
    from . import LoadOptions

__all__ = ["EmlLoader", "MaildirLoader", "MboxLoader"]


def _as_text(message: mailbox.Message | bytes) -> str:
    data = message if isinstance(message, bytes) else message.as_bytes()
    return data.decode("utf-8", errors="replace")


def _existing(location: str | None, kind: str, *, directory: bool) -> Path:
    if location is None:
        raise CorpusError(f"{kind} needs a path: --data {kind}:PATH")
    path = Path(location)
    if not (path.is_dir() if directory else path.is_file()):
        raise CorpusError(f"{path}: no such {'folder' if directory else 'file'}")
    return path


class MboxLoader:
    kind: ClassVar[str] = "mbox"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        path = _existing(location, self.kind, directory=False)
        tag = label_from_path(path, label)
        box = mailbox.mbox(path, create=False)
        try:
            return [(_as_text(message), tag) for message in box]  # type: ignore[misc]
        finally:
            box.close()


class MaildirLoader:
    kind: ClassVar[str] = "maildir"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        path = _existing(location, self.kind, directory=True)
        tag = label_from_path(path, label)
        try:
            box = mailbox.Maildir(path, factory=None, create=False)
            return [(_as_text(message), tag) for message in box]  # type: ignore[misc]
        except (OSError, mailbox.Error) as exc:
            raise CorpusError(f"{path}: not a readable maildir: {exc}") from None


class EmlLoader:
    kind: ClassVar[str] = "eml"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        path = _existing(location, self.kind, directory=True)
        files = sorted(p for p in path.rglob("*.eml") if p.is_file())
        return [(_as_text(file.read_bytes()), label_from_path(file.relative_to(path.parent), label)) for file in files]
