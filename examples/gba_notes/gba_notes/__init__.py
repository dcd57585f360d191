"""Notes kept in SQLite: add_note, search_notes and summarise_notes, real and simulated.

A worked example of a domain plugin (see README.md). Two tools are typed functions: gba
builds their argument schema from the signature and docstring, the tool LLM fills it
from the planner's task, and ``simulate()`` derives their twins. The third is a class
whose real side asks its LLM to summarise what the search found, and whose twin has its
own prompt. The notes live in ``GBA_NOTES_DB`` (default: the user's data folder).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from gba_core import hookimpl
from gba_core.prompts import render_messages
from gba_core.schema import Scratchpad
from gba_core.tools import (
    FunctionTool,
    SimulatedTool,
    Tool,
    ToolContext,
    simulate,
    structured_answer,
)

SEARCH_LIMIT = 5
# Words that would match almost every note; a query keeps the others.
# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "are", "about", "at", "be", "did", "do", "does", "for", "from", "how",
    "i", "in", "is", "it", "me", "my", "note", "notes", "of", "on", "or", "the", "to",
    "was", "what", "when", "where", "which", "who", "with", "write", "wrote",
})
# fmt: on


def database() -> sqlite3.Connection:
    path = os.environ.get("GBA_NOTES_DB")
    if not path:
        from platformdirs import user_data_dir

        path = str(Path(user_data_dir("gba-notes")) / "notes.sqlite")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    # FTS5 ranks matches with bm25; the rowid is the note's number.
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS notes USING fts5(title, text, tags)")
    return db


def add_note(title: str, text: str, tags: str = "") -> str:
    """Save a note for the user, to find it again later.

    Args:
        title: A short title, a few words.
        text: What to remember, in full.
        tags: Comma-separated keywords, may be empty.
    """
    with database() as db:
        number = db.execute(
            "INSERT INTO notes (title, text, tags) VALUES (?, ?, ?)", (title, text, tags)
        ).lastrowid
    return f"Saved note {number}: {title}"


def _match(query: str) -> str:
    # Plain words joined by OR: the model's text must never be read as FTS5 syntax.
    words = [w for w in re.findall(r"\w+", query.lower()) if w not in STOPWORDS]
    return " OR ".join(f'"{word}"' for word in dict.fromkeys(words))


def find_notes(query: str, limit: int = SEARCH_LIMIT) -> list[tuple[int, str, str]]:
    match = _match(query)
    if not match:
        return []
    with database() as db:
        return db.execute(
            "SELECT rowid, title, text FROM notes WHERE notes MATCH ? ORDER BY bm25(notes) LIMIT ?",
            (match, limit),
        ).fetchall()


def search_notes(query: str) -> str:
    """Search the user's saved notes by keywords; returns the best matches.

    Args:
        query: Keywords to look for in titles, texts and tags.
    """
    found = find_notes(query)
    if not found:
        return f"No note matches {query!r}."
    return "\n".join(f"Note {number}: {title}: {text}" for number, title, text in found)


DESCRIBE_SUMMARY = (
    "Summarise what the user's saved notes say about a topic. The task names the topic."
)


class Topic(BaseModel):
    topic: str = Field(max_length=200, description="Keywords naming the topic.")


class SummariseNotes(Tool):
    name = "summarise_notes"
    description = DESCRIBE_SUMMARY

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        # Two LLM calls: one picks the topic's keywords out of the task (gba's own
        # argument-filling prompt), one summarises the notes the search finds.
        topic = structured_answer(
            ctx,
            "function_tool.j2",
            Topic,
            request=request,
            task=task,
            scratchpad=scratchpad,
            name=self.name,
            description=self.description,
        ).topic
        found = find_notes(topic, limit=20)
        if not found:
            return "There are no notes on this topic."
        messages = render_messages("summarise_notes.j2", package=__name__, task=task, notes=found)
        return ctx.llm.complete(messages, max_tokens=200).content.strip()


class SimulatedSummariseNotes(SimulatedTool):
    name = "summarise_notes"
    description = DESCRIBE_SUMMARY
    template = "summarise_notes_simulated.j2"
    template_package = __name__
    failure_rate = 0.1  # "no notes on this topic": planners should learn to cope


ADD_NOTE = FunctionTool(add_note)
SEARCH_NOTES = FunctionTool(search_notes)


@hookimpl
def register_tools(register: Callable[[Tool], None]) -> None:
    register(ADD_NOTE)
    register(SEARCH_NOTES)
    register(SummariseNotes())


@hookimpl
def register_simulated_tools(register: Callable[[SimulatedTool], None]) -> None:
    register(simulate(ADD_NOTE))
    register(simulate(SEARCH_NOTES, failure_rate=0.1))
    register(SimulatedSummariseNotes())
