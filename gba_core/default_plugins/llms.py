"""The built-in LLM backends: ``llama-cpp:`` (in process) and ``openai:``.

Backend modules are imported only when a backend is created, so listing backends stays
cheap (llama_cpp and openai are slow to import)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gba_core import hookimpl


def llama_cpp(name: str, **options: Any) -> Any:
    from gba_core.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM(name, **options)


def openai(name: str, **options: Any) -> Any:
    from gba_core.llm.openai_compat import OpenAICompatLLM

    return OpenAICompatLLM(name, **options)


@hookimpl
def register_llms(register: Callable[..., None]) -> None:
    register(
        "llama-cpp",
        llama_cpp,
        help="llama.cpp in process: gemma-3-270m (embedded) or a path to a .gguf "
        "(?lora=ADAPTER.gguf, ?n_ctx=N, ?chat_template=plain)",
    )
    register(
        "openai",
        openai,
        help="any OpenAI-compatible endpoint (?base_url=URL; OPENAI_BASE_URL, OPENAI_API_KEY)",
    )
