"""Which found sentence answers a search: embedding similarity, plus the words the
question shares with the sentence, plus whether the sentence holds the kind of answer
asked for.

A small sentence embedder ranks "launched on a Saturn V on 16 July" above "landed on
20 July" for "when did Apollo 11 land?": both are about Apollo 11 and a date. The word
"land" and a year settle it, as they did in the question-answering systems before
embeddings. On the search role examples (not the benchmark) the answer sentence came
first for 45 of 64 tasks against 42 with embeddings alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

# How much the shared words and the answer kind count beside the cosine similarity
# (about 0.3 to 0.7 for related sentences); chosen on the search role examples.
LEXICAL = 0.3
ANSWER_KIND = 0.1

_WORD = re.compile(r"[A-Za-z]+|\d+")
_STOP_WORDS = """a an the of in on at to for from by with and or is was were be been are am
    what which
    who whom whose when where how many much did do does it its this that these those as
    into than then there their his her he she they you your i my me we our about after
    before find search look up out tell give show please"""
_STOP = frozenset(_STOP_WORDS.split())
_SUFFIXES = ("ing", "ed", "es", "s", "er", "ly")
_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2})\b|\b\d{1,4} BC\b")
_DIGIT = re.compile(r"\d")
_ASKS_DATE = re.compile(
    r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|century)\b|\bin what year\b", re.I
)
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|much|long|tall|high|deep|far|old|big|wide|heavy|large)\b", re.I
)


def terms(text: str) -> set[str]:
    """Content words of ``text``, crudely stemmed so "landed" meets "land"."""
    out = set()
    for word in _WORD.findall(text):
        word = word.lower()
        if word in _STOP:
            continue
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        out.add(word[:6])
    return out


def overlap(query: str, sentences: Sequence[str]) -> list[float]:
    """For each sentence, the share of the query's words it holds, each word weighted by
    how rare it is among ``sentences`` (so "Apollo" in every sentence counts little)."""
    return _overlap(terms(query), [terms(s) for s in sentences])


def _overlap(query: set[str], words: Sequence[set[str]]) -> list[float]:
    counts = Counter(w for ws in words for w in ws)
    n = len(words)
    weight = {w: math.log((n + 1) / (counts[w] + 0.5)) for w in query}
    total = sum(weight.values())
    if total <= 0:
        return [0.0] * n
    return [sum(weight[w] for w in weight.keys() & ws) / total for ws in words]


def answer_kind(query: str, sentences: Sequence[str]) -> list[float] | None:
    """1 for a sentence holding what the question asks for (a year for "when", a number
    for "how many"), else 0; None when the question asks for neither."""
    if _ASKS_DATE.search(query):
        pattern = _YEAR
    elif _ASKS_NUMBER.search(query):
        pattern = _DIGIT
    else:
        return None
    return [1.0 if pattern.search(s) else 0.0 for s in sentences]


def bonus(
    queries: Sequence[str], weights: Sequence[float], sentences: Sequence[str]
) -> list[float]:
    """What shared words and the answer kind add to each sentence's similarity score.
    The kind is the first query's (the task's) that asks for one: a vague task ("the
    lighthouse") leaves it to the user's question."""
    extra = [0.0] * len(sentences)
    words = [terms(s) for s in sentences]  # once, for every query
    for query, weight in zip(queries, weights, strict=True):
        for i, share in enumerate(_overlap(terms(query), words)):
            extra[i] += LEXICAL * weight * share
    kinds = (answer_kind(query, sentences) for query in queries)
    for i, hit in enumerate(next((k for k in kinds if k is not None), [])):
        extra[i] += ANSWER_KIND * hit
    return extra
