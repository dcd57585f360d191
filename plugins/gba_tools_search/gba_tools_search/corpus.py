"""Corpora for the search index: documents streamed from JSONL, Parquet, a folder of
text/Markdown files or a MediaWiki XML dump, and their split into passages.

Every source is read as a stream in a fixed order, so an interrupted build can skip the
documents it already committed, and memory stays bounded whatever the corpus size.
"""

from __future__ import annotations

import bz2
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gba_core.errors import ConfigError

TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".rst")


@dataclass(frozen=True)
class Document:
    title: str
    text: str
    url: str = ""


class Source:
    """A stream of documents with a progress measure: ``done`` out of ``total`` units
    (bytes, rows or files, whichever the format offers)."""

    unit = "documents"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total: int | None = None
        self.done = 0

    def __iter__(self) -> Iterator[Document]:
        raise NotImplementedError


def _document(record: dict[str, object], where: str) -> Document | None:
    title = str(record.get("title") or "").strip()
    text = str(record.get("text") or record.get("content") or "").strip()
    if not text:
        return None
    return Document(title=title or where, text=text, url=str(record.get("url") or ""))


class JsonlSource(Source):
    unit = "bytes"

    def __iter__(self) -> Iterator[Document]:
        self.total = self.path.stat().st_size
        with self.path.open("rb") as f:
            for number, line in enumerate(f, 1):
                self.done += len(line)
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{self.path}:{number}: not JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise ConfigError(f"{self.path}:{number}: expected an object with title/text")
                if doc := _document(record, f"{self.path.stem} {number}"):
                    yield doc


class ParquetSource(Source):
    unit = "rows"

    def __iter__(self) -> Iterator[Document]:
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(self.path)
        except Exception as exc:
            raise ConfigError(f"{self.path}: not a readable Parquet file ({exc})") from None
        names = set(table.schema_arrow.names)
        if "text" not in names and "content" not in names:
            raise ConfigError(f"{self.path}: needs a 'text' column (has {sorted(names)})")
        columns = [c for c in ("title", "text", "content", "url") if c in names]
        self.total = table.metadata.num_rows
        for batch in table.iter_batches(batch_size=1024, columns=columns):
            for record in batch.to_pylist():
                self.done += 1
                if doc := _document(record, f"{self.path.stem} {self.done}"):
                    yield doc


_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")


class FolderSource(Source):
    """Text and Markdown files, in sorted path order; a leading ``# Heading`` is the
    title, else the file name."""

    unit = "files"

    def __iter__(self) -> Iterator[Document]:
        files = sorted(
            p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
        )
        self.total = len(files)
        for file in files:
            self.done += 1
            text = file.read_text(encoding="utf-8", errors="replace").strip()
            lines = text.splitlines()
            title = file.stem.replace("_", " ")
            if lines and (m := _HEADING.match(lines[0])):
                title, text = m.group(1), "\n".join(lines[1:]).strip()
            if text:
                yield Document(title=title, text=text, url=file.relative_to(self.path).as_posix())


class MediaWikiSource(Source):
    """A MediaWiki XML export (``pages-articles.xml`` or ``.xml.bz2``): main-namespace
    pages that are not redirects, with wikitext turned into plain text."""

    unit = "bytes"

    def __init__(self, path: Path, *, base_url: str = "https://en.wikipedia.org/wiki/") -> None:
        super().__init__(path)
        self.base_url = base_url

    def _open(self) -> tuple[IO[bytes], IO[bytes]]:
        raw = self.path.open("rb")
        return raw, (bz2.open(raw) if self.path.suffix == ".bz2" else raw)  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Document]:
        import xml.etree.ElementTree as ET

        self.total = self.path.stat().st_size
        raw, stream = self._open()
        try:
            page: dict[str, str] = {}
            root = None
            for event, element in ET.iterparse(stream, events=("start", "end")):
                if root is None:
                    root = element
                if event == "start":
                    continue
                tag = element.tag.rsplit("}", 1)[-1]
                if tag in ("title", "ns", "text"):
                    page[tag] = element.text or ""
                elif tag == "redirect":
                    page["redirect"] = "1"
                elif tag == "page":
                    self.done = raw.tell()
                    if page.get("ns", "0") == "0" and "redirect" not in page:
                        text = wikitext_to_text(page.get("text", ""))
                        if text:
                            title = page.get("title", "")
                            url = self.base_url + title.replace(" ", "_")
                            yield Document(title=title, text=text, url=url)
                    page = {}
                    # The root would keep every (cleared) page element: clear it too, so
                    # memory stays flat on multi-GB dumps.
                    root.clear()
        except ET.ParseError as exc:
            raise ConfigError(f"{self.path}: broken XML ({exc})") from None
        finally:
            stream.close()
            raw.close()


_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_SECTION_TITLE = re.compile(r"^=+\s*(.*?)\s*=+\s*$", re.M)
_TAIL_SECTIONS = re.compile(
    r"^=+\s*(See also|References|External links|Further reading|Notes)\s*=+.*", re.S | re.M
)


def wikitext_to_text(wikitext: str) -> str:
    """Plain text of a page: references, templates, tables, files and the trailing
    reference sections removed; section headings become paragraph breaks."""
    import mwparserfromhell

    wikitext = _TAIL_SECTIONS.sub("", _REF.sub("", wikitext))
    wikitext = _SECTION_TITLE.sub("\n\n", wikitext)
    text = mwparserfromhell.parse(wikitext).strip_code(normalize=True, collapse=True)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if len(p) > 1)


def open_source(path: Path, kind: str = "auto") -> Source:
    """The source reader for ``path``: ``kind`` is auto, jsonl, parquet, folder or
    mediawiki."""
    if not path.exists():
        raise ConfigError(f"source not found: {path}")
    if kind == "auto":
        name = path.name.lower()
        if path.is_dir():
            kind = "folder"
        elif name.endswith((".jsonl", ".ndjson", ".json")):
            kind = "jsonl"
        elif name.endswith((".parquet", ".pq")):
            kind = "parquet"
        elif name.endswith((".xml", ".xml.bz2")):
            kind = "mediawiki"
        else:
            raise ConfigError(
                f"cannot tell the format of {path}: use a .jsonl, .parquet, .xml or .xml.bz2 "
                "file or a folder of .md/.txt files (or pass --format)"
            )
    readers: dict[str, type[Source]] = {
        "jsonl": JsonlSource,
        "parquet": ParquetSource,
        "folder": FolderSource,
        "mediawiki": MediaWikiSource,
    }
    if kind not in readers:
        raise ConfigError(f"unknown format {kind!r}; formats: auto, {', '.join(readers)}")
    if (kind == "folder") != path.is_dir():
        raise ConfigError(
            f"{path}: format {kind} needs a {'folder' if kind == 'folder' else 'file'}"
        )
    return readers[kind](path)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def split_passages(text: str, *, max_chars: int = 1000, min_chars: int = 200) -> list[str]:
    """Paragraphs as passages: short ones joined to their successor, long ones cut at
    sentence ends (or at ``max_chars`` when a sentence is longer)."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        current = ""
        for sentence in _SENTENCE_END.split(paragraph):
            while len(sentence) > max_chars:
                cut = sentence.rfind(" ", 0, max_chars)
                cut = cut if cut > max_chars // 2 else max_chars
                if current:
                    pieces.append(current)
                    current = ""
                pieces.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if current and len(current) + 1 + len(sentence) > max_chars:
                pieces.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            pieces.append(current)
    passages: list[str] = []
    for piece in pieces:
        if (
            passages
            and len(passages[-1]) < min_chars
            and len(passages[-1]) + len(piece) < max_chars
        ):
            passages[-1] = f"{passages[-1]}\n{piece}"
        else:
            passages.append(piece)
    return passages
