"""Context-aware decoding on llama.cpp: the second sequence, fed the prompt with its
context left out, whose logits weigh against the prompt's where the model hesitates
(``LoadedModel.generate`` runs it; ``gba_core.llm.base.Contrast`` asks for it)."""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gba_core.errors import ConfigError
from gba_core.llm.llamacpp_chunks import aligned_chunks, aligned_common_prefix

if TYPE_CHECKING:
    from gba_core.llm.llamacpp_model import LoadedModel

# Context-aware decoding weighs in only where the model hesitates: where the prompt's own
# next token has at least this probability, it is chosen as without the contrast, and the
# contrast's sequence catches up in one batch when next needed. A confident token the
# contrast would overturn is one the model is even surer of without the results: a word
# of the language, not of the results.
CONTRAST_BELOW = 0.9


@dataclass
class ContrastRun:
    """Context-aware decoding in the token loop: a second sequence in the same context,
    fed ``prompt`` (the prompt without its context) and then every token written, from
    when the output holds ``after``. It shares the cells of the prefix it has in common
    with the prompt, and is fed only when a token needs its logits (CONTRAST_BELOW)."""

    prompt: list[int]
    weight: float
    after: bytes = b""


@dataclass
class ContrastSequence:
    """Sequence 1 of a generation: where its next token goes and what it has to catch up."""

    run: ContrastRun
    pos: int
    behind: list[int]


def start_contrast(
    model: LoadedModel, run: ContrastRun, prompt: list[int], out: list[int], room: int
) -> ContrastSequence | None:
    """Sequence 1 for ``run``, given the cells of the aligned prefix its prompt shares
    with ``prompt`` (the rest is fed when first needed, as ``model._eval_prompt`` would
    feed it), or None where the cache lacks ``room`` for it and what both write."""
    tokens = [*run.prompt, *out]
    limit = min(len(prompt), len(tokens) - 1)
    start = aligned_common_prefix(prompt[:limit], tokens[:limit])
    if model.llama.n_tokens + len(tokens) - start + room > model.llama.n_ctx():
        return None
    memory = model.llama._ctx
    memory.kv_cache_seq_rm(1, -1, -1)
    if start:
        memory.kv_cache_seq_cp(0, 1, 0, start)
    return ContrastSequence(run, start, tokens[start:])


def catch_up(model: LoadedModel, seq: ContrastSequence) -> Any:
    """Feed sequence 1 what it is behind by, chunked as the prompt's are; returns its
    next logits."""
    end = seq.pos + len(seq.behind)
    for begin, stop in aligned_chunks(seq.pos, end):
        model._decode(1, begin, seq.behind[begin - seq.pos : stop - seq.pos])
    seq.pos, seq.behind = end, []
    return model.logits()


def hesitates(logits: Any) -> bool:
    """Whether the most likely next token has less than CONTRAST_BELOW probability."""
    import numpy as np

    top = logits.max()
    return bool(np.exp(logits - top, dtype=np.float32).sum() > 1 / CONTRAST_BELOW)


def allow_two_sequences(llama: Any) -> None:
    """Give ``llama`` a context for two sequences in one unified KV cache.

    Context-aware decoding runs a second sequence beside the prompt's, sharing the cells
    of their common prefix; llama-cpp-python makes its context for one sequence and has
    no parameter for more, so the context is made again, with the adapter set on it."""
    import llama_cpp
    from llama_cpp import _internals

    params = llama.context_params
    params.n_seq_max = 2
    params.kv_unified = True  # else each sequence gets half of the cells
    old = llama._ctx
    ctx = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
    llama._ctx = llama._stack.enter_context(contextlib.closing(ctx))
    old.close()
    if llama._lora_adapter:
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llama._lora_adapter)
        scales = (ctypes.c_float * 1)(llama.lora_scale)
        if llama_cpp.llama_set_adapters_lora(ctx.ctx, adapters, 1, scales):
            raise ConfigError(f"llama.cpp could not set the LoRA adapter {llama.lora_path}")
