"""A scripted LLM: queued answers, every call recorded. For fast deterministic tests."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from gba_core.llm.base import Completion, Contrast, Message, SchemaLike, parse_output

Response = str | dict[str, Any] | BaseModel | Exception | Callable[..., Any]


@dataclass
class Call:
    messages: list[Message]
    schema: SchemaLike | None
    temperature: float
    max_tokens: int | None
    seed: int | None
    contrast: Contrast | None = None

    @property
    def prompt(self) -> str:
        """All message contents joined, for assertions on what the model was shown."""
        return "\n".join(m["content"] for m in self.messages)


@dataclass
class ScriptedLLM:
    """Answers from a queue, in order.

    A queued item may be a string (returned as content), a dict or pydantic model
    (serialised to JSON), an exception (raised), or a callable taking the ``Call`` and
    returning any of those. When the queue is empty, ``default`` answers (or an
    ``AssertionError`` says the script ran out).
    """

    responses: Iterable[Response] = ()
    spec: str = "scripted:test"
    default: Response | None = None
    calls: list[Call] = field(default_factory=list)
    # As a backend with logits would say; its calls then record the contrast asked for.
    accepts_contrast: bool = False

    def __post_init__(self) -> None:
        self._queue: deque[Response] = deque(self.responses)

    def add(self, *responses: Response) -> ScriptedLLM:
        self._queue.extend(responses)
        return self

    @property
    def remaining(self) -> int:
        return len(self._queue)

    def complete(
        self,
        messages: list[Message],
        *,
        schema: SchemaLike | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        contrast: Contrast | None = None,
    ) -> Completion:
        call = Call(list(messages), schema, temperature, max_tokens, seed, contrast)
        self.calls.append(call)
        if self._queue:
            item = self._queue.popleft()
        elif self.default is not None:
            item = self.default
        else:
            raise AssertionError(f"ScriptedLLM ran out of responses at call {len(self.calls)}")
        if callable(item) and not isinstance(item, BaseModel | type):
            item = item(call)
        if isinstance(item, Exception):
            raise item
        if isinstance(item, BaseModel):
            content = item.model_dump_json()
        elif isinstance(item, dict):
            content = json.dumps(item)
        else:
            content = str(item)
        completion = Completion(
            content=content,
            prompt_tokens=sum(len(m["content"].split()) for m in messages),
            completion_tokens=len(content.split()),
            model=self.spec,
        )
        if schema is not None:
            completion.parsed = parse_output(content, schema)
        return completion
