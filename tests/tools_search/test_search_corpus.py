"""Corpus readers and passage splitting."""

import bz2
import json

import pytest

from gba_core.errors import ConfigError
from gba_tools_search.corpus import open_source, split_passages, wikitext_to_text

DUMP = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/">
  <page><title>Ada Lovelace</title><ns>0</ns><id>1</id>
    <revision><text>'''Ada Lovelace''' (1815&#8211;1852) was an English [[mathematician]].
{{Infobox person|name=Ada}}
She wrote the first published [[algorithm|program]] for Babbage's engine.
&lt;ref&gt;Some book, p. 3&lt;/ref&gt;

== Legacy ==
Ada Lovelace Day is held in October.

== References ==
* a reference line
</text></revision></page>
  <page><title>Lovelace</title><ns>0</ns><id>2</id><redirect title="Ada Lovelace" />
    <revision><text>#REDIRECT [[Ada Lovelace]]</text></revision></page>
  <page><title>Talk:Ada Lovelace</title><ns>1</ns><id>3</id>
    <revision><text>Talk page text.</text></revision></page>
</mediawiki>
"""


def titles(source):
    return [doc.title for doc in source]


def test_jsonl_reads_title_text_and_url_and_skips_empty(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"title": "A", "text": "alpha", "url": "u"}, {"title": "B", "text": ""}, {"text": "c"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    docs = list(open_source(path))
    assert [(d.title, d.text, d.url) for d in docs] == [("A", "alpha", "u"), ("c 3", "c", "")]


def test_jsonl_reports_the_bad_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"title": "A", "text": "a"}\nnot json\n')
    with pytest.raises(ConfigError, match=r"c.jsonl:2: not JSON"):
        list(open_source(path))


def test_parquet_needs_a_text_column_and_streams_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"title": ["A", "B"], "text": ["alpha", "beta"]}), path)
    source = open_source(path)
    assert titles(source) == ["A", "B"] and source.done == source.total == 2
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(ConfigError, match="needs a 'text' column"):
        list(open_source(tmp_path / "bad.parquet"))


def test_folder_takes_the_heading_as_title(tmp_path):
    (tmp_path / "b_doc.txt").write_text("no heading here")
    (tmp_path / "a.md").write_text("# Alpha Title\n\nFirst.\n\nSecond.")
    (tmp_path / "skip.bin").write_bytes(b"\0")
    docs = list(open_source(tmp_path))
    assert [(d.title, d.text) for d in docs] == [
        ("Alpha Title", "First.\n\nSecond."),
        ("b doc", "no heading here"),
    ]


@pytest.mark.parametrize("compressed", [False, True])
def test_mediawiki_dump_keeps_articles_as_plain_text(tmp_path, compressed):
    path = tmp_path / ("dump.xml.bz2" if compressed else "dump.xml")
    data = DUMP.encode()
    path.write_bytes(bz2.compress(data) if compressed else data)
    source = open_source(path)
    docs = list(source)
    assert [d.title for d in docs] == ["Ada Lovelace"]  # no redirect, no talk page
    text = docs[0].text
    assert "English mathematician" in text and "first published program" in text
    assert "Infobox" not in text and "Some book" not in text and "[[" not in text
    assert "Ada Lovelace Day" in text and "reference line" not in text
    assert docs[0].url == "https://en.wikipedia.org/wiki/Ada_Lovelace"
    assert source.done == source.total


def test_broken_xml_is_a_clear_error(tmp_path):
    path = tmp_path / "dump.xml"
    path.write_text(DUMP[:300])
    with pytest.raises(ConfigError, match="broken XML"):
        list(open_source(path))


def test_unknown_or_missing_sources_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        open_source(tmp_path / "nope.jsonl")
    (tmp_path / "x.csv").write_text("a,b")
    with pytest.raises(ConfigError, match="cannot tell the format"):
        open_source(tmp_path / "x.csv")


def test_wikitext_headings_become_paragraph_breaks():
    text = wikitext_to_text("Intro [[link|shown]].\n== History ==\nOld times.")
    assert text.split("\n\n") == ["Intro shown.", "Old times."]


def test_split_passages_keeps_paragraphs_joins_short_and_cuts_long():
    long_sentences = " ".join(f"Sentence number {i} is here." for i in range(60))
    text = f"Short one.\n\nAnother paragraph of text.\n\n{long_sentences}"
    passages = split_passages(text, max_chars=300, min_chars=50)
    assert passages[0] == "Short one.\nAnother paragraph of text."
    assert all(len(p) <= 300 for p in passages)
    assert all(p.endswith(".") for p in passages)  # cut at sentence ends
    assert " ".join(passages[1:]) == long_sentences
    no_spaces = "x" * 700
    assert [len(p) for p in split_passages(no_spaces, max_chars=300)] == [300, 300, 100]


def test_self_closing_references_with_slashes_keep_the_text_around_them():
    text = wikitext_to_text('Alpha.<ref name="bbc/2019" /> Middle text.<ref>cite</ref> End.')
    assert text == "Alpha. Middle text. End."


def test_damaged_files_are_clear_errors(tmp_path):
    bad_utf8 = tmp_path / "c.jsonl"
    bad_utf8.write_bytes(b'{"title": "A", "text": "\xff\xfe"}\n')
    with pytest.raises(ConfigError, match=r"c.jsonl:1: not JSON"):
        list(open_source(bad_utf8))
    truncated = tmp_path / "dump.xml.bz2"
    truncated.write_bytes(bz2.compress(DUMP.encode())[:200])
    with pytest.raises(ConfigError, match=r"dump.xml.bz2: (unreadable|broken XML)"):
        list(open_source(truncated))


def test_skipped_records_are_not_parsed(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('not json at all\n{"title": "B", "text": "beta"}\n')
    source = open_source(path)
    source.skip = 1
    assert [(d.title, d.record) for d in source] == [("B", 1)]


def test_a_folder_fingerprint_follows_its_files(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nalpha")
    before = open_source(tmp_path).fingerprint()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# B\n\nbeta")
    assert open_source(tmp_path).fingerprint() != before


def test_splitting_a_huge_unpunctuated_text_is_linear():
    import time

    started = time.perf_counter()
    passages = split_passages("word " * 400_000, max_chars=1000)
    assert time.perf_counter() - started < 2
    assert sum(len(p) for p in passages) >= 1_999_000 - len(passages)
