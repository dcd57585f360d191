"""The ``llama-cpp:`` backend: llama.cpp in process through llama-cpp-python.

Generation runs in our own token loop rather than llama-cpp-python's sampler chain
(``llamacpp_sampling``: the sampler and grammar check; ``llamacpp_model``: the loaded
model, its KV cache and the loop):

* Grammar-first-check sampling (as llama.cpp's own common sampler does): pick the token
  from the raw logits, check only that token against the grammar, and filter the whole
  262k-entry vocabulary through the grammar only when it is rejected. The stock chain
  filters the full vocabulary at every token (26-41 ms a pass on this model).
* Immunity to grammar aborts: a token reaches ``llama_sampler_accept`` only after the
  grammar admitted it, so llama.cpp never sees a token that empties the grammar stack
  (which aborts the process from C++, beyond Python's reach).
* KV-cache prefix reuse across calls: the steps of one request share a growing prefix,
  so only the new tokens are evaluated.
* Jump-forward: where the grammar allows only one way on (the rest of a key such as
  ``context_information_summary"``, or of a tool name once it is unambiguous), the forced
  text is tokenized and evaluated in one batch with the picked token instead of asking
  the model token by token; ``GBA_LLAMA_NO_JUMP_FORWARD=1`` turns it off.

One model is loaded once per process per (path, adapter, context size) and every call
holds its lock: llama.cpp contexts are not thread-safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path
from urllib.parse import quote

from gba_core.errors import InvalidOutputError
from gba_core.llm.base import (
    Completion,
    Contrast,
    Message,
    SchemaLike,
    parse_output,
    schema_dict,
)
from gba_core.llm.embedded import EMBEDDED_MODELS, embedded_model_path
from gba_core.llm.formats import format_messages, stop_strings
from gba_core.llm.llamacpp_contrast import ContrastRun
from gba_core.llm.llamacpp_process import check_gguf, load_model
from gba_core.llm.llamacpp_sampling import schema_to_grammar

DEFAULT_N_CTX = 8192
DEFAULT_MAX_TOKENS = 1024


class LlamaCppLLM:
    """``llama-cpp:gemma-3-270m`` (embedded) or ``llama-cpp:/path/model.gguf?lora=/a.gguf``."""

    def __init__(
        self,
        name: str,
        *,
        lora: str | None = None,
        n_ctx: int | str = DEFAULT_N_CTX,
        n_threads: int | str | None = None,
        chat_template: str | None = None,
    ) -> None:
        if name in EMBEDDED_MODELS:
            path = embedded_model_path(name)
        else:
            path = check_gguf(Path(name).expanduser(), "GGUF model")
        adapter = check_gguf(Path(lora).expanduser(), "LoRA adapter") if lora else None
        threads = int(n_threads or os.environ.get("GBA_LLAMA_THREADS") or os.cpu_count() or 1)
        self._model = load_model(path, adapter, int(n_ctx), threads)
        # "plain" forces the plain format even when the GGUF carries a template.
        self.chat_template = (
            None if chat_template == "plain" else chat_template or self._model.chat_template
        )
        # The spec names everything that changes the output (it keys the call cache).
        options = {"lora": lora}
        if chat_template:
            options["chat_template"] = (
                "plain"
                if chat_template == "plain"
                else "sha256-" + hashlib.sha256(chat_template.encode()).hexdigest()[:12]
            )
        # Quoted, so the spec parses back to the same options whatever the path holds.
        query = "&".join(f"{k}={quote(str(v), safe='/:')}" for k, v in options.items() if v)
        self.spec = f"llama-cpp:{name}" + (f"?{query}" if query else "")
        self._files = [path, *([adapter] if adapter else [])]

    @functools.cached_property
    def identity(self) -> str:
        """The spec plus the sha256 of the model and adapter files (read once per
        process while they are unchanged): a file replaced at the same path is another
        model to the call cache and to run identities."""
        from gba_core.llm.identity import file_digest

        return self.spec + "#" + "+".join(file_digest(f)[:16] for f in self._files)

    def reset_cache(self) -> None:
        """Forget the KV cache (the next call evaluates its whole prompt)."""
        with self._model.lock:
            self._model.llama.reset()
            self._model._reusable = 0

    def render(self, messages: list[Message]) -> str:
        """The exact prompt text the model sees for ``messages``."""
        return format_messages(
            messages,
            chat_template=self.chat_template,
            bos_token=self._model.bos_token,
            eos_token=self._model.eos_token,
        )

    def tokenize(self, text: str) -> list[int]:
        return self._model.tokenize_prompt(text)

    accepts_contrast = True

    def _contrast_run(self, contrast: Contrast) -> ContrastRun:
        prompt = self._model.tokenize_prompt(self.render(contrast.messages))
        return ContrastRun(prompt, contrast.weight, contrast.after.encode())

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
        gbnf = schema_to_grammar(json.dumps(schema_dict(schema))) if schema is not None else None
        prompt_text = self.render(messages)
        run = self._contrast_run(contrast) if contrast is not None else None
        start = time.perf_counter()
        with self._model.lock:
            tokens = self._model.tokenize_prompt(prompt_text)
            # The context may hold fewer tokens than asked for.
            limit = min(max_tokens or DEFAULT_MAX_TOKENS, self._model.llama.n_ctx() - len(tokens))
            gen = self._model.generate(
                tokens,
                gbnf=gbnf,
                temperature=temperature,
                max_tokens=limit,
                seed=seed,
                stops=() if gbnf else stop_strings(self.chat_template),
                contrast=run,
            )
        seconds = time.perf_counter() - start
        completion = Completion(
            content=gen.text,
            prompt_tokens=len(tokens),
            completion_tokens=gen.tokens,
            seconds=seconds,
            model=self.spec,
            prompt_tokens_evaluated=gen.evaluated,
            extra={
                "prompt_seconds": gen.prompt_seconds,
                "finish_reason": gen.finish,
                "forced_tokens": gen.forced,
                **({"contrasted_tokens": gen.contrasted} if run else {}),
            },
        )
        if schema is not None:
            if gen.finish == "length":
                raise InvalidOutputError(
                    f"output cut after {gen.tokens} tokens (the limit)"
                    " before the JSON was complete",
                    gen.text,
                )
            completion.parsed = parse_output(gen.text, schema)
        return completion
