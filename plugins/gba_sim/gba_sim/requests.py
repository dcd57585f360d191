"""``gba sim requests``: the teacher writes user requests for the installed tools.

As in the seed project: single-step requests for each tool, and batches on a topic the
teacher picks within a random category, each batch holding requests that need from one
to six steps. The tool descriptions come from whatever plugins are installed, output is
schema-guided, and near-duplicates (of each other or of requests already stored) are
dropped.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from gba_core.llm.base import LLM
from gba_core.prompts import render_messages
from gba_core.schema import Request

CATEGORIES = (
    "travel",
    "cooking",
    "sports",
    "science",
    "history",
    "films and television",
    "music",
    "personal finance",
    "health and fitness",
    "technology",
    "work and meetings",
    "family events",
    "shopping",
    "weather and outdoors",
    "education",
    "gardening",
    "cars and transport",
    "pets",
    "home repair",
    "art and museums",
)
TEXT_CHARS = 300
MAX_STEPS = 6


class GeneratedRequest(BaseModel):
    request: str = Field(max_length=TEXT_CHARS, description="What the user asks, in their words.")
    explanation: str = Field(
        max_length=TEXT_CHARS, description="Which tools answer it, in which order, and why."
    )


class RequestBatch(BaseModel):
    topic: str = Field(max_length=80, description="The topic of the batch.")
    requests: list[GeneratedRequest] = Field(min_length=1, max_length=MAX_STEPS)


class SingleStepRequests(BaseModel):
    requests: list[GeneratedRequest] = Field(min_length=1, max_length=5)


def _tokens(items: int) -> int:
    return items * (2 * TEXT_CHARS + 48) + 160


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def near_duplicate(a: frozenset[str], b: frozenset[str], threshold: float = 0.8) -> bool:
    """Jaccard similarity of the word sets at or above ``threshold``."""
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= threshold


@dataclass
class Deduplicator:
    seen: list[frozenset[str]]

    def keep(self, text: str) -> bool:
        words = _words(text)
        if any(near_duplicate(words, other) for other in self.seen):
            return False
        self.seen.append(words)
        return True


def request_id(kind: str, text: str) -> str:
    return f"{kind}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def generate(
    llm: LLM,
    tools: Mapping[str, str],
    *,
    batches: int,
    single_per_tool: int,
    seed: int,
    existing: list[str],
    categories: tuple[str, ...] = CATEGORIES,
    split: str | None = None,
    budget: Any = None,
    prices: Any = None,
) -> tuple[list[Request], dict[str, str]]:
    """New requests (and the teacher's explanation of each, by id), near-duplicates
    dropped. Sampling is seeded per batch, so with the call cache a re-run replays.
    With a ``budget`` (gba_sim.usage.Budget) it stops asking once that is used up and
    returns what it has."""

    meter = None
    if budget is not None:
        from .usage import Meter, MeteredLLM, priced

        meter = Meter()
        llm = MeteredLLM(llm, "teacher", meter)

    def spent() -> bool:
        """Charge the budget with the calls since the last one; whether it is used up."""
        return meter is not None and budget.charge(priced(meter.take(), prices or {}))

    rng = random.Random(seed)
    dedup = Deduplicator([_words(t) for t in existing])
    out: list[Request] = []
    explanations: dict[str, str] = {}
    workers = {n: d for n, d in tools.items() if n != "final_answer"}
    for number, (name, description) in enumerate(sorted(workers.items())):
        if single_per_tool <= 0:
            break
        messages = render_messages(
            "requests_single.j2",
            package=__package__,
            tool=name,
            description=description,
            tools=tools,
            count=single_per_tool,
        )
        completion = llm.complete(
            messages,
            schema=SingleStepRequests,
            temperature=0.7,
            seed=seed * 1000 + number,
            max_tokens=_tokens(5),
        )
        for item in completion.parsed.requests[:single_per_tool]:
            if dedup.keep(item.request):
                out.append(
                    Request(
                        id=request_id("single", item.request),
                        text=item.request,
                        category=f"single:{name}",
                        split=split,
                    )
                )
                explanations[out[-1].id] = item.explanation
        if spent():
            return out, explanations
    for number in range(batches):
        category = rng.choice(categories)
        messages = render_messages(
            "requests_batch.j2",
            package=__package__,
            category=category,
            tools=tools,
            max_steps=MAX_STEPS,
        )
        completion = llm.complete(
            messages,
            schema=RequestBatch,
            temperature=0.7,
            seed=seed * 1000 + 500 + number,
            max_tokens=_tokens(MAX_STEPS),
        )
        batch = completion.parsed
        for item in batch.requests:
            if dedup.keep(item.request):
                out.append(
                    Request(
                        id=request_id("batch", item.request),
                        text=item.request,
                        topic=batch.topic,
                        category=category,
                        split=split,
                    )
                )
                explanations[out[-1].id] = item.explanation
        if spent():
            break
    return out, explanations
