"""The LLM layer: one protocol, backends chosen by a ``PREFIX:NAME`` spec string.

A spec may carry options as a query string, e.g.
``llama-cpp:/models/base.gguf?lora=/models/adapter.gguf&n_ctx=4096`` or
``openai:gpt-4o-mini?base_url=http://127.0.0.1:8080/v1``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from gba_core.errors import ConfigError
from gba_core.llm.base import LLM, Completion, Message, SchemaLike

__all__ = [
    "LLM",
    "Backend",
    "Completion",
    "Message",
    "SchemaLike",
    "get_llm",
    "llm_backends",
    "parse_spec",
]


@dataclass(frozen=True)
class Backend:
    prefix: str
    factory: Any
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


def llm_backends() -> dict[str, Backend]:
    """Backends registered by every loaded plugin, by prefix."""
    from gba_core.plugins import collect

    def key(prefix: str, factory: Any, help: str = "") -> tuple[str, Backend]:
        return prefix, Backend(prefix, factory, help)

    return dict(collect("register_llms", "LLM backend", key).items)


def get_llm(spec: str, **options: Any) -> LLM:
    """Create the LLM for ``spec``; keyword options override options in the spec."""
    prefix, name, spec_options = parse_spec(spec)
    backends = llm_backends()
    if prefix not in backends:
        known = ", ".join(sorted(backends)) or "none"
        raise ConfigError(f"unknown LLM backend prefix {prefix!r} in {spec!r}; known: {known}")
    factory = backends[prefix].factory
    merged = {**spec_options, **options}
    try:
        inspect.signature(factory).bind(name, **merged)
    except TypeError as exc:
        raise ConfigError(f"bad options for {spec!r}: {exc}") from exc
    try:
        return factory(name, **merged)
    except ValueError as exc:  # e.g. n_ctx=big
        raise ConfigError(f"bad option value in {spec!r}: {exc}") from exc
