"""The built-in LLM backends: ``llama-cpp:`` (in process) and ``openai:``.

Backend modules are imported only when a backend is created, so listing backends stays
cheap (llama_cpp and openai are slow to import)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gba_core import hookimpl


def llama_cpp(
    name: str,
    *,
    lora: str | None = None,
    n_ctx: int | str = 8192,
    n_threads: int | str | None = None,
    chat_template: str | None = None,
) -> Any:
    from gba_core.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM(
        name, lora=lora, n_ctx=n_ctx, n_threads=n_threads, chat_template=chat_template
    )


def openai(
    name: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float | str = 120.0,
    retries: int | str = 3,
    backoff: float | str = 0.5,
) -> Any:
    from gba_core.llm.openai_compat import OpenAICompatLLM

    return OpenAICompatLLM(
        name,
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )


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
