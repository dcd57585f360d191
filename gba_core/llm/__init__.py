"""The LLM layer: one protocol, backends chosen by a ``PREFIX:NAME`` spec string.

A spec may carry options as a query string, e.g.
``llama-cpp:/models/base.gguf?lora=/models/adapter.gguf&n_ctx=4096`` or
``openai:gpt-4o-mini?base_url=http://127.0.0.1:8080/v1``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from gba_core.errors import ConfigError
from gba_core.llm.base import LLM, Completion, Message, SchemaLike

__all__ = [
    "LLM",
    "Backend",
    "Completion",
    "LLMFactory",
    "Message",
    "SchemaLike",
    "parse_spec",
]


LLMFactory = Callable[..., LLM]
"""``factory(NAME, **options)`` for a ``PREFIX:NAME?options`` spec."""


@dataclass(frozen=True)
class Backend:
    prefix: str
    factory: LLMFactory
    help: str = ""


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``"prefix:name?k=v"`` -> ``("prefix", "name", {"k": "v"})``."""
    if ":" not in spec:
        raise ConfigError(
            f"LLM spec {spec!r} must look like PREFIX:NAME (e.g. llama-cpp:gemma-3-270m)"
        )
    prefix, rest = spec.split(":", 1)
    name, _, query = rest.partition("?")
    return prefix, name, dict(parse_qsl(query, keep_blank_values=True))
