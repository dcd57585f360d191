"""Corpora for the search index: documents streamed from JSONL, Parquet, a folder of
text/Markdown files or a MediaWiki XML dump, and their split into passages.

Every source is read as a stream in a fixed order, so an interrupted build can skip the
documents it already committed, and memory stays bounded whatever the corpus size.
"""

from __future__ import annotations

import bz2
import hashlib
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
    record: int = -1  # position of its raw record (line, row, file, page) in the source


class Source:
    """A stream of documents with a progress measure: ``done`` out of ``total`` units
    (bytes, rows or files, whichever the format offers).

    ``skip`` raw records (lines, rows, files, pages) are passed over without being
    parsed or converted: how a resumed build gets back to where it stopped cheaply.
    """

    unit = "documents"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total: int | None = None
        self.done = 0
        self.skip = 0

    def __iter__(self) -> Iterator[Document]:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """Changes when the source's content may have changed."""
        stat = self.path.stat()
        return json.dumps([str(self.path.resolve()), stat.st_size, int(stat.st_mtime)])


def _document(record: dict[str, object], where: str, number: int) -> Document | None:
    title = str(record.get("title") or "").strip()
    text = str(record.get("text") or record.get("content") or "").strip()
    if not text:
        return None
    url = str(record.get("url") or "")
    return Document(title=title or where, text=text, url=url, record=number)


class JsonlSource(Source):
    unit = "bytes"

    def __iter__(self) -> Iterator[Document]:
        self.total = self.path.stat().st_size
        with self.path.open("rb") as f:
            for number, line in enumerate(f):
                self.done += len(line)
                if number < self.skip or not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:  # bad JSON or bad UTF-8
                    reason = getattr(exc, "msg", None) or type(exc).__name__
                    raise ConfigError(f"{self.path}:{number + 1}: not JSON ({reason})") from None
                if not isinstance(record, dict):
                    raise ConfigError(
                        f"{self.path}:{number + 1}: expected an object with title/text"
                    )
                if doc := _document(record, f"{self.path.stem} {number + 1}", number):
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
        batches = table.iter_batches(batch_size=1024, columns=columns)
        while True:
            try:
                batch = next(batches, None)
            except Exception as exc:  # pyarrow's errors for a damaged file
                raise ConfigError(f"{self.path}: unreadable rows ({exc})") from None
            if batch is None:
                return
            if self.done + batch.num_rows <= self.skip:
                self.done += batch.num_rows
                continue
            for record in batch.to_pylist():
                number = self.done
                self.done += 1
                if number >= self.skip and (
                    doc := _document(record, f"{self.path.stem} {number + 1}", number)
                ):
                    yield doc


_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")


class FolderSource(Source):
    """Text and Markdown files, in sorted path order; a leading ``# Heading`` is the
    title, else the file name."""

    unit = "files"

    def __iter__(self) -> Iterator[Document]:
        files = self._files()
        self.total = len(files)
        for number, file in enumerate(files):
            self.done += 1
            if number < self.skip:
                continue
            text = file.read_text(encoding="utf-8-sig", errors="replace").strip()
            lines = text.splitlines()
            title = file.stem.replace("_", " ")
            if lines and (m := _HEADING.match(lines[0])):
                title, text = m.group(1), "\n".join(lines[1:]).strip()
            if text:
                url = file.relative_to(self.path).as_posix()
                yield Document(title=title, text=text, url=url, record=number)

    def _files(self) -> list[Path]:
        return sorted(
            p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
        )

    def fingerprint(self) -> str:
        digest = hashlib.sha256(str(self.path.resolve()).encode())
        for file in self._files():
            stat = file.stat()
            digest.update(
                f"{file.relative_to(self.path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
            )
        return digest.hexdigest()


class MediaWikiSource(Source):
    """A MediaWiki XML export (``pages-articles.xml`` or ``.xml.bz2``): main-namespace
    pages that are not redirects, with wikitext turned into plain text."""

    unit = "bytes"

    def __init__(self, path: Path, *, base_url: str = "https://en.wikipedia.org/wiki/") -> None:
        super().__init__(path)
        self.base_url = base_url

    def _open(self) -> tuple[IO[bytes], IO[bytes]]:
        raw = self.path.open("rb")
        return raw, (bz2.open(raw) if self.path.suffix.lower() == ".bz2" else raw)  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Document]:
        import xml.etree.ElementTree as ET

        self.total = self.path.stat().st_size
        raw, stream = self._open()
        try:
            page: dict[str, str] = {}
            number = 0
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
                    number += 1
                    wanted = number > self.skip
                    if wanted and page.get("ns", "0") == "0" and "redirect" not in page:
                        text = wikitext_to_text(page.get("text", ""))
                        if text:
                            title = page.get("title", "")
                            url = self.base_url + title.replace(" ", "_")
                            yield Document(title=title, text=text, url=url, record=number - 1)
                    page = {}
                    # The root would keep every (cleared) page element: clear it too, so
                    # memory stays flat on multi-GB dumps.
                    root.clear()
        except ET.ParseError as exc:
            raise ConfigError(f"{self.path}: broken XML ({exc})") from None
        except (OSError, EOFError) as exc:  # a truncated or damaged .bz2
            raise ConfigError(f"{self.path}: unreadable ({exc})") from None
        finally:
            stream.close()
            raw.close()


_REF = re.compile(r"<ref\b[^>]*?/\s*>|<ref\b[^>]*>.*?</ref\s*>", re.S | re.I)
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
            if len(sentence) > max_chars:
                if current:
                    pieces.append(current)
                    current = ""
                # Walk an index through the sentence: no copying of the rest at each cut.
                start = 0
                while len(sentence) - start > max_chars:
                    cut = sentence.rfind(" ", start, start + max_chars)
                    cut = cut if cut > start + max_chars // 2 else start + max_chars
                    pieces.append(sentence[start:cut].strip())
                    start = cut
                sentence = sentence[start:].strip()
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
