"""The LLM protocol every backend implements, and helpers shared by backends."""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

from pydantic import BaseModel, Field, ValidationError

from gba_core.errors import InvalidOutputError


class Message(TypedDict):
    role: str  # "system", "user" or "assistant"
    content: str


SchemaLike = type[BaseModel] | dict[str, Any]


class Completion(BaseModel):
    """One LLM answer. ``parsed`` is set when a schema was given: a model instance for a
    pydantic schema, a plain JSON value for a dict schema."""

    content: str
    parsed: Any = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model: str = ""
    cached: bool = False
    # Prompt tokens actually evaluated (the rest came from a reused KV-cache prefix).
    prompt_tokens_evaluated: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Contrast:
    """Context-aware decoding for one call: ``messages`` are the same prompt with its
    context left out, and each next token is chosen by (1 + ``weight``) times its logits
    with the context less ``weight`` times its logits without, so what the context says
    outweighs what the model would say anyway. It starts once the output holds ``after``
    (at the first token when empty). Only backends with ``accepts_contrast`` take it."""

    messages: list[Message]
    weight: float
    after: str = ""

    def key(self) -> list[Any]:
        return [self.messages, self.weight, self.after]


def accepts_contrast(llm: object) -> bool:
    """Whether ``llm.complete`` takes ``contrast=`` (wrappers answer for what they wrap)."""
    return bool(getattr(llm, "accepts_contrast", False))


@runtime_checkable
class LLM(Protocol):
    """A chat model. ``spec`` is the string it was created from (``PREFIX:NAME``)."""

    spec: str

    def complete(
        self,
        messages: list[Message],
        *,
        schema: SchemaLike | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> Completion: ...


class LLMWrapper:
    """An LLM around another one (metering, rate limiting, ...): the same protocol,
    and the inner model's other attributes (``render``, ``tokenize``) pass through.
    Subclasses override ``complete`` and call ``super().complete``."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.spec = inner.spec

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        return self.inner.complete(messages, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def schema_dict(schema: SchemaLike) -> dict[str, Any]:
    """The JSON schema of a pydantic model class, or the dict itself."""
    if isinstance(schema, dict):
        return schema
    return schema.model_json_schema()


def parse_output(content: str, schema: SchemaLike) -> Any:
    """Parse JSON output and validate it against a pydantic schema.

    Raises ``InvalidOutputError`` (carrying the raw content) when it does not parse or
    validate. Dict schemas are only parsed: validation is the decoder's job there.
    """
    text = content.strip()
    if text.startswith("```"):
        # Some chat models wrap JSON in a fence even when asked for JSON.
        text = text.strip("`").removeprefix("json").strip()
    try:
        if isinstance(schema, dict):
            return json.loads(text)
        return schema.model_validate_json(text)
    except json.JSONDecodeError as exc:
        raise InvalidOutputError(f"output is not valid JSON: {exc}", content) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise InvalidOutputError(
            f"output does not match the schema at {where}: {first['msg']}", content
        ) from exc


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def degenerate(text: str) -> bool:
    """Whether model output is empty or looping: a sentence or a three-word sequence
    that comes back, or text that compresses to almost nothing ("100000…"). Small models
    at greedy decoding do this; callers then fall back to something they know."""
    words = text.lower().split()
    if not words:
        return True
    if len(text) >= 40 and len(zlib.compress(text.encode())) < len(text) / 5:
        return True
    sentences = [" ".join(s.lower().split()) for s in _SENTENCE_END.split(text) if s.strip()]
    if len(sentences) != len(set(sentences)):
        return True
    grams = Counter(zip(words, words[1:], words[2:], strict=False))
    return bool(grams) and max(grams.values()) >= 3
