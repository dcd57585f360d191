"""The last stage shared by both search tools.

For each document found, the sentences most similar to the task are kept (evidence);
the tool LLM condenses each document's evidence to what matters for the task, then
writes one concise answer from those notes. Small models answer far better from a few
relevant sentences than from whole passages. The observation is the answer, the two best
sentences of the top document and the sources; an answer that degenerates (empty, or
looping) is left out, so the planner always gets the facts that were found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from gba_core.llm.base import degenerate
from gba_core.roles import ToolRole
from gba_core.tools import ToolContext

NOTE_CHARS = 400
EVIDENCE_SENTENCES = 4
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


class Note(BaseModel):
    note: str = Field(
        max_length=NOTE_CHARS, description="The relevant facts, or 'Nothing relevant.'"
    )


class Answer(BaseModel):
    answer: str = Field(max_length=NOTE_CHARS, description="One or two sentences.")


@dataclass
class Found:
    """A document and the passages of it that the search picked, in document order."""

    title: str
    url: str
    passages: list[str] = field(default_factory=list)
    snippet: str = ""

    @property
    def text(self) -> str:
        return "\n\n".join(p for p in (self.snippet, *self.passages) if p)


def evidence(query: str, doc: Found, k: int = EVIDENCE_SENTENCES) -> str:
    """The ``k`` sentences of ``doc`` most similar to ``query``, in document order."""
    import numpy as np

    from .embed import load_embedder

    sentences = [
        " ".join(s.split()) for p in (doc.snippet, *doc.passages) for s in _SENTENCE.split(p)
    ]
    sentences = [s for s in sentences if s]
    if len(sentences) <= k:
        return " ".join(sentences)
    vectors = load_embedder("").encode([query, *sentences])
    best = sorted(np.argsort(-(vectors[1:] @ vectors[0]), kind="stable")[:k])
    return " ".join(sentences[i] for i in best)


# Room for every character of a bounded string as its own token, plus the JSON.
_TOKENS = NOTE_CHARS + 32
NOTE = ToolRole(
    "summarize",
    "summarize.j2",
    package=__package__,
    schema=Note,
    max_tokens=_TOKENS,
    examples=("search_notes.jsonl",),
)
ANSWER = ToolRole(
    "answer",
    "answer.j2",
    package=__package__,
    schema=Answer,
    max_tokens=_TOKENS,
    examples=("search_answer.jsonl",),
)
# Both search tools make these calls; the examples are written for search_wikipedia.
ROLES = (NOTE, ANSWER)


def _ask(ctx: ToolContext, role: ToolRole, task: str, **variables: Any) -> Any:
    return role.ask(ctx, request="", task=task, scratchpad=[], **variables)


def answer(ctx: ToolContext, task: str, docs: list[Found]) -> str:
    """One concise answer to ``task`` from ``docs``, naming its sources."""
    if not docs:
        return "Nothing was found for this search."
    facts = [(d.title, evidence(task, d)) for d in docs]
    notes = []
    for title, text in facts:
        note = _ask(ctx, NOTE, task, title=title, text=text).note.strip()
        notes.append((title, text if degenerate(note) else note))
    reply = _ask(ctx, ANSWER, task, notes=notes).answer.strip()
    # The best evidence goes with the answer, so the planner can check it and still has
    # the facts when a small model's answer is off.
    lines = [] if degenerate(reply) else [reply]
    lines.append(f'Evidence from "{docs[0].title}": {evidence(task, docs[0], 2)}')
    lines.append("Sources: " + "; ".join(dict.fromkeys(d.title for d in docs)))
    return "\n".join(lines)
