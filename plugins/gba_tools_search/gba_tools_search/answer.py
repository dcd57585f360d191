"""The last stage shared by both search tools.

Two ways to answer, chosen by the ``search_answer`` setting:

* ``extract`` (the default): the sentence of the found documents that best answers the
  task and the user's request (``rank``) is the answer, followed by the next best sentences of its
  document. No LLM call: a 270M model asked to condense found text rewrites the numbers
  and names it was given (the benchmark's search failures were mostly that), while the
  retrieved sentence holds them verbatim, and it costs no tool-model time.
* ``generate``: for each document found, the tool LLM condenses its evidence (the
  sentences most similar to the task) to what matters, then writes one concise answer
  from those notes. Worth it with a strong tool model; an answer that degenerates
  (empty, or looping) is left out.

Either way the observation is the answer, evidence from the top document and the
sources, so the planner always gets the facts that were found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from gba_core.llm.base import degenerate
from gba_core.roles import ToolRole
from gba_core.tools import ToolContext

from .rank import bonus

NOTE_CHARS = 400
EVIDENCE_SENTENCES = 4
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# A full stop that ends an initial or a title, not a sentence ("William R. Chase").
_ABBREVIATION = re.compile(r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Mt|Lt|Col|Gen|Capt|No|vs))\.$")
MODES = ("extract", "generate")
# With extract: how many sentences make the answer line. The best sentence holds the
# answer for 69 % of the search role examples, the best two for 91 %, but the planner
# copies the first line, and one sentence there (the next two as evidence) answered more
# of the benchmark's requests. Below RELEVANT cosine similarity to the task the best
# sentence is taken as unrelated: the role examples whose answer is "unknown" mostly
# score under it, the answered ones above.
ANSWER_SENTENCES = 1
RELEVANT = 0.42


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


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences, whitespace collapsed, initials kept whole."""
    out: list[str] = []
    for piece in _SENTENCE.split(text):
        piece = " ".join(piece.split())
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return out


def _doc_sentences(doc: Found) -> list[str]:
    return list(dict.fromkeys(s for p in (doc.snippet, *doc.passages) for s in sentences(p)))


def evidence(query: str, doc: Found, k: int = EVIDENCE_SENTENCES) -> str:
    """The ``k`` sentences of ``doc`` most similar to ``query``, in document order."""
    import numpy as np

    from .embed import load_embedder

    sentences = _doc_sentences(doc)
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


def roles_in_use() -> tuple[ToolRole, ...]:
    """The LLM calls a search makes as configured: none when answers are extracted, so
    the shipped tool-role adapter trains only on calls that are made."""
    from .settings import settings

    return ROLES if settings().search_answer == "generate" else ()


def _ask(ctx: ToolContext, role: ToolRole, task: str, **variables: Any) -> Any:
    return role.ask(ctx, request="", task=task, scratchpad=[], **variables)


def extract(task: str, request: str, docs: list[Found]) -> str:
    """The ``ANSWER_SENTENCES`` sentences of ``docs`` that best answer the task and the
    request, then the next best sentence of the best one's document, then the sources.
    When even the best sentence is far from the task, the first line says nothing was
    found, so the planner does not take an unrelated sentence for the answer."""
    import numpy as np

    from .embed import load_embedder

    pool = [(i, s) for i, d in enumerate(docs) for s in _doc_sentences(d)]
    if not pool:
        return "Nothing was found for this search."
    # The request guards against a planner's garbled query; the task says which part of
    # a many-part request this search is for, so it counts for more.
    queries = [task, request] if request.strip() else [task]
    weights = [1.0, 0.5][: len(queries)]
    vectors = load_embedder("").encode([*queries, *(s for _, s in pool)])
    similarity = vectors[len(queries) :] @ vectors[: len(queries)].T
    scores = similarity @ np.asarray(weights)
    scores = scores + np.asarray(bonus(queries, weights, [s for _, s in pool]))
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    best = order[0]
    top_doc = pool[best][0]
    same_doc = [i for i in order if pool[i][0] == top_doc]
    if float(similarity[best, 0]) < RELEVANT:
        lines = ["Nothing was found that answers this directly."]
        shown = same_doc[:2]
    else:
        answer_ids = order[:ANSWER_SENTENCES]
        lines = [" ".join(pool[i][1] for i in answer_ids)]
        shown = [i for i in same_doc if i not in answer_ids][:2]
    if shown:
        text = " ".join(pool[i][1] for i in sorted(shown))
        lines.append(f'Evidence from "{docs[top_doc].title}": {text}')
    lines.append("Sources: " + "; ".join(dict.fromkeys(d.title for d in docs)))
    return "\n".join(lines)


def answer(
    ctx: ToolContext, task: str, docs: list[Found], request: str = "", mode: str | None = None
) -> str:
    """One concise answer to ``task`` from ``docs``, naming its sources; ``mode`` is
    ``extract`` or ``generate`` (default: the ``search_answer`` setting)."""
    if not docs:
        return "Nothing was found for this search."
    from .settings import settings

    mode = mode or settings().search_answer
    if mode not in MODES:
        return f"Error: search_answer must be one of {', '.join(MODES)}, not {mode!r}"
    if mode == "extract":
        return extract(task, request, docs)
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
