"""The ``llama-cpp:`` backend: llama.cpp in process through llama-cpp-python.

Generation runs in our own token loop rather than llama-cpp-python's sampler chain:

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

import atexit
import ctypes
import functools
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gba_core.config import env_flag
from gba_core.errors import ConfigError, InvalidOutputError, LLMError
from gba_core.llm.base import Completion, Message, SchemaLike, parse_output, schema_dict
from gba_core.llm.embedded import EMBEDDED_MODELS, embedded_model_path
from gba_core.llm.formats import format_messages, stop_strings
from gba_core.llm.grammar import json_schema_to_gbnf

DEFAULT_N_CTX = 8192
DEFAULT_MAX_TOKENS = 1024
# Prompt chunk size for deterministic prefix reuse (see _eval_prompt). Measured on the
# embedded model: 64 keeps ~90% of the prompt throughput of 512-token batches while a
# warm call re-evaluates 32 tokens on average.
PROMPT_CHUNK = 64
TOP_K = 40
TOP_P = 0.95
SHORTLIST = 1024
# Jump-forward re-tokenizes the last few generated tokens with the forced text and uses
# it only when they come out unchanged, so the model sees the split it would be trained on.
JUMP_WINDOW = 4
JUMP_MAX_BYTES = 256


@lru_cache(maxsize=64)
def schema_to_grammar(schema_json: str) -> str:
    """GBNF for a JSON schema (``$ref``, ``enum``, ``required``, string bounds)."""
    return json_schema_to_gbnf(json.loads(schema_json))


def _pick(logits: Any, temperature: float, rng: Any) -> int:
    """Greedy at temperature 0; otherwise top-k, then top-p, then a seeded draw."""
    import numpy as np

    if temperature <= 0:
        return int(np.argmax(logits))
    k = min(TOP_K, logits.shape[0])
    idx = np.argpartition(logits, -k)[-k:]
    scaled = logits[idx].astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    order = np.argsort(-probs)
    cut = int(np.searchsorted(np.cumsum(probs[order]), TOP_P)) + 1
    keep = order[:cut]
    kept = probs[keep] / probs[keep].sum()
    return int(idx[keep[rng.choice(len(keep), p=kept)]])


class _Grammar:
    """A llama.cpp grammar sampler used only to check and filter, never to pick."""

    def __init__(self, loaded: _LoadedModel, gbnf: str) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._loaded = loaded
        self._sampler = llama_cpp.llama_sampler_init_grammar(loaded.vocab, gbnf.encode(), b"root")
        if not self._sampler:
            raise LLMError("llama.cpp rejected the grammar built from the schema")

    def _apply(self, data: Any, size: int, sampler: Any = None) -> None:
        arr = self._lib.llama_token_data_array(
            data=data.ctypes.data_as(self._lib.llama_token_data_p),
            size=size,
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(sampler or self._sampler, ctypes.byref(arr))

    def _only_byte(self, sampler: Any) -> int | None:
        """The one ASCII byte ``sampler`` admits next, or None when it admits several, a
        non-ASCII character, nothing, or the end."""
        import numpy as np

        probe = self._loaded.probe
        probe.logit[:] = 0.0
        self._apply(probe, probe.shape[0], sampler)
        admitted = np.flatnonzero(np.isfinite(probe.logit))
        # The probe holds a one-byte token for every byte that can start a character
        # and an end-of-generation token last: one admitted entry is the only way on.
        if admitted.size != 1 or (byte := int(self._loaded.probe_bytes[admitted[0]])) >= 128:
            return None
        return byte

    def forced_text(self) -> bytes:
        """The bytes the grammar allows one way only from here (empty if none)."""
        if self._loaded.probe is None or (byte := self._only_byte(self._sampler)) is None:
            return b""
        # Walk a copy: the caller accepts only the tokens it actually evaluates.
        walker = self._lib.llama_sampler_clone(self._sampler)
        text = bytearray()
        try:
            while byte is not None and len(text) < JUMP_MAX_BYTES:
                text.append(byte)
                self._lib.llama_sampler_accept(walker, self._loaded.byte_tokens[byte])
                byte = self._only_byte(walker)
        finally:
            self._lib.llama_sampler_free(walker)
        return bytes(text)

    def allows(self, token: int, logit: float) -> bool:
        one = self._loaded.one
        one.id[0], one.logit[0], one.p[0] = token, logit, 0.0
        self._apply(one, 1)
        return bool(one.logit[0] > float("-inf"))

    def pick_allowed(self, logits: Any, temperature: float, rng: Any) -> int:
        """The token ``_pick`` would choose among the tokens the grammar admits.

        The grammar first sees only the SHORTLIST best tokens: enough when they hold
        one admitted token (greedy) or TOP_K of them (sampling), because every token
        outside the shortlist has a lower logit. Only otherwise is the whole vocabulary
        filtered (~70 ms a pass here).
        """
        import numpy as np

        short = self._loaded.shortlist
        n = short.shape[0]
        idx = np.argpartition(logits, -n)[-n:]
        short.id[:] = idx
        short.logit[:] = logits[idx]
        short.p[:] = 0.0
        self._apply(short, n)
        admitted = np.isfinite(short.logit)
        if admitted.sum() >= (1 if temperature <= 0 else TOP_K):
            masked = np.array(short.logit, copy=True)
            return int(idx[_pick(masked, temperature, rng)])
        return _pick(self._filter_all(logits), temperature, rng)

    def _filter_all(self, logits: Any) -> Any:
        import numpy as np

        cand = self._loaded.candidates
        cand.id[:] = self._loaded.all_ids
        cand.logit[:] = logits
        cand.p[:] = 0.0
        self._apply(cand, cand.shape[0])
        masked = np.array(cand.logit, copy=True)
        if not np.isfinite(masked).any():
            raise InvalidOutputError("the grammar admits no further token")
        return masked

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None


@dataclass
class Generation:
    text: str
    evaluated: int  # prompt tokens evaluated (the rest came from the cache)
    prompt_seconds: float
    tokens: int  # tokens generated
    forced: int  # of which the grammar forced, evaluated without a decode of their own
    finish: str  # "stop" or "length"


class _LoadedModel:
    def __init__(self, path: Path, lora: Path | None, n_ctx: int, n_threads: int) -> None:
        import numpy as np
        from llama_cpp import Llama

        self.path = path
        self.llama = Llama(
            model_path=str(path),
            lora_path=str(lora) if lora else None,
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            swa_full=True,  # keep the whole sliding-window cache so prefixes can be reused
            verbose=False,
        )
        # llama-cpp-python checks the adapter pointer against None, but ctypes gives a
        # NULL pointer object, so a bad adapter is silently ignored: check it here.
        if lora is not None and not self.llama._lora_adapter:
            self.llama.close()
            raise ConfigError(f"llama.cpp could not load the LoRA adapter {lora}")
        self.lock = threading.Lock()
        model = self.llama._model
        self.vocab = model.vocab
        self.n_vocab = self.llama.n_vocab()
        meta = self.llama.metadata
        self.chat_template = meta.get("tokenizer.chat_template") or None
        self._pieces: dict[int, bytes] = {}
        self.bos_token = self.piece(model.token_bos(), special=True).decode("utf-8", "replace")
        self.eos_token = self.piece(model.token_eos(), special=True).decode("utf-8", "replace")
        self.add_bos = model.add_bos_token()
        dtype = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
        self.candidates = np.recarray((self.n_vocab,), dtype=dtype)
        self.one = np.recarray((1,), dtype=dtype)
        self.shortlist = np.recarray((min(SHORTLIST, self.n_vocab),), dtype=dtype)
        self.all_ids = np.arange(self.n_vocab, dtype=np.intc)
        self.byte_tokens, self.probe, self.probe_bytes = self._byte_probe(dtype)
        self._reusable = 0  # leading tokens of the cache that later prompts may reuse

    def _byte_probe(self, dtype: Any) -> tuple[dict[int, int], Any, Any]:
        """One-byte tokens for jump-forward: ``byte_tokens`` maps each byte to its token;
        the probe holds one for every byte a character can start with, then an
        end-of-generation token. Without all of them the probe is None (no jump-forward)."""
        import numpy as np

        byte_tokens: dict[int, int] = {}
        for byte in range(256):
            tokens = self.llama.tokenize(bytes([byte]), add_bos=False, special=False)
            if len(tokens) == 1 and self.piece(tokens[0]) == bytes([byte]):
                byte_tokens[byte] = tokens[0]
        starts = [b for b in range(256) if not 0x80 <= b < 0xC0]  # not continuation bytes
        eog = self.llama._model.token_eos()
        if eog < 0 or any(b not in byte_tokens for b in starts):
            return byte_tokens, None, None
        probe = np.recarray((len(starts) + 1,), dtype=dtype)
        probe.id[:] = [byte_tokens[b] for b in starts] + [eog]
        probe.p[:] = 0.0
        return byte_tokens, probe, np.array([*starts, 256])

    def piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes of one token (llama-cpp-python's own helper returns them padded
        with NULs to 32 bytes)."""
        key = token if not special else -1 - token
        cached = self._pieces.get(key)
        if cached is None:
            import llama_cpp

            buf = ctypes.create_string_buffer(256)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 256, 0, special)
            cached = self._pieces[key] = buf.raw[: max(n, 0)]
        return cached

    def is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def tokenize_prompt(self, text: str) -> list[int]:
        # A chat template usually writes the BOS token itself: do not add a second one.
        add_bos = self.add_bos and not (self.bos_token and text.startswith(self.bos_token))
        return self.llama.tokenize(text.encode(), add_bos=add_bos, special=True)

    def _eval_prompt(self, tokens: list[int]) -> int:
        """Evaluate ``tokens``, reusing the cached prefix; returns tokens evaluated.

        llama.cpp's results for a token depend on the size of the batch it was evaluated
        in (different kernels), so naive prefix reuse makes the output depend on what ran
        before. Prompts are therefore evaluated in chunks aligned to absolute positions
        (multiples of PROMPT_CHUNK) with the last token alone, and only whole aligned
        chunks of an earlier prompt are reused: a warm call computes exactly what a cold
        one does, so greedy output is the same whatever the cache held.
        """
        import numpy as np

        llama = self.llama
        last = len(tokens) - 1
        limit = min(self._reusable, llama.n_tokens, last)
        common = 0
        if limit > 0:
            same = llama.input_ids[:limit] == np.asarray(tokens[:limit], dtype=np.intc)
            common = limit if same.all() else int(np.argmin(same))
        start = common // PROMPT_CHUNK * PROMPT_CHUNK
        if start == 0 or not llama._ctx.kv_cache_seq_rm(-1, start, -1):
            llama.reset()
            start = 0
        llama.n_tokens = start
        pos = start
        while pos < last:
            end = min((pos // PROMPT_CHUNK + 1) * PROMPT_CHUNK, last)
            llama.eval(tokens[pos:end])
            pos = end
        llama.eval(tokens[last:])
        self._reusable = last // PROMPT_CHUNK * PROMPT_CHUNK
        return len(tokens) - start

    def logits(self) -> Any:
        import llama_cpp
        import numpy as np

        ptr = llama_cpp.llama_get_logits_ith(self.llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def generate(
        self,
        prompt: list[int],
        *,
        gbnf: str | None,
        temperature: float,
        max_tokens: int,
        seed: int | None,
        stops: tuple[str, ...],
    ) -> Generation:
        import numpy as np

        n_ctx = self.llama.n_ctx()
        if len(prompt) >= n_ctx:
            raise LLMError(f"prompt of {len(prompt)} tokens does not fit the context of {n_ctx}")
        t0 = time.perf_counter()
        evaluated = self._eval_prompt(prompt)
        prompt_seconds = time.perf_counter() - t0
        rng = np.random.default_rng(seed)
        grammar = _Grammar(self, gbnf) if gbnf else None
        jump = grammar is not None and not env_flag("GBA_LLAMA_NO_JUMP_FORWARD")
        out: list[int] = []
        pieces: list[bytes] = []
        finish = "length"
        n_forced = 0
        try:
            while len(out) < max_tokens:
                logits = self.logits()
                token = _pick(logits, temperature, rng)
                if grammar is not None and not grammar.allows(token, float(logits[token])):
                    token = grammar.pick_allowed(logits, temperature, rng)
                if self.is_eog(token):
                    finish = "stop"
                    break
                if grammar is not None:
                    grammar.accept(token)
                out.append(token)
                piece = self.piece(token)
                pieces.append(piece)
                if grammar is not None and b"}" in piece and _complete_json(pieces):
                    finish = "stop"
                    break
                if stops and _hits_stop(pieces, stops):
                    finish = "stop"
                    break
                batch = [token]
                if jump:
                    forced, done = self._forced_tokens(grammar, out, pieces, max_tokens)
                    n_forced += len(forced)
                    for extra in forced:
                        grammar.accept(extra)
                        out.append(extra)
                        pieces.append(self.piece(extra))
                    if done:
                        finish = "stop"
                        break
                    batch += forced
                self.llama.eval(batch)
        finally:
            if grammar is not None:
                grammar.close()
        text = b"".join(pieces).decode("utf-8", "replace")
        for stop in stops:
            cut = text.find(stop)
            if cut >= 0:
                text = text[:cut]
        return Generation(text, evaluated, prompt_seconds, len(out), n_forced, finish)

    def _forced_tokens(
        self, grammar: Any, out: list[int], pieces: list[bytes], max_tokens: int
    ) -> tuple[list[int], bool]:
        """The tokens of the text the grammar forces next, and whether they end the JSON.

        Unless they end it, the last forced token is left to the model: the text after it
        may merge with it into another token. The forced text is tokenized together with
        the last JUMP_WINDOW generated tokens and used only if they come out unchanged.
        """
        text = grammar.forced_text()
        if not text:
            return [], False
        k = min(len(out), JUMP_WINDOW)
        tokens = self.llama.tokenize(b"".join(pieces[-k:]) + text, add_bos=False, special=False)
        if tokens[:k] != out[-k:]:
            return [], False
        forced = tokens[k:]
        done = _complete_json([*pieces, text])
        if not done:
            forced = forced[:-1]
        room = max_tokens - len(out)
        return forced[:room], done and len(forced) <= room


def _complete_json(pieces: list[bytes]) -> bool:
    try:
        json.loads(b"".join(pieces))
    except ValueError:
        return False
    return True


def _hits_stop(pieces: list[bytes], stops: tuple[str, ...]) -> bool:
    tail = b"".join(pieces[-16:]).decode("utf-8", "ignore")
    return any(stop in tail for stop in stops)


_log_callback: Any = None


def quiet_llama_logs() -> None:
    """Show only llama.cpp's errors; GBA_LLAMA_VERBOSE=1 shows everything.

    llama-cpp-python's own filter maps ggml's log levels from before DEBUG existed, so
    with verbose=False it still prints llama.cpp's warnings (e.g. the SWA cache notice)."""
    global _log_callback
    if _log_callback is not None or env_flag("GBA_LLAMA_VERBOSE"):
        return
    import sys

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: Any) -> None:
        if level == 4:  # ggml's enum: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
            sys.stderr.write(text.decode("utf-8", "replace"))

    _log_callback = callback  # keep a reference: llama.cpp holds only the pointer
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


_models: dict[tuple[str, str | None, int, int], _LoadedModel] = {}
_models_lock = threading.Lock()


@atexit.register
def _close_models() -> None:
    # Close while the interpreter is still whole; llama-cpp-python's __del__ at
    # shutdown otherwise prints "Exception ignored" tracebacks.
    with _models_lock:
        for loaded in _models.values():
            loaded.llama.close()
        _models.clear()


def _load(path: Path, lora: Path | None, n_ctx: int, n_threads: int) -> _LoadedModel:
    key = (str(path), str(lora) if lora else None, n_ctx, n_threads)
    with _models_lock:
        if key not in _models:
            quiet_llama_logs()
            _models[key] = _LoadedModel(path, lora, n_ctx, n_threads)
        return _models[key]


def _check_gguf(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ConfigError(f"{what} is not a GGUF file: {path}")
    return path


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
            path = _check_gguf(Path(name).expanduser(), "GGUF model")
        adapter = _check_gguf(Path(lora).expanduser(), "LoRA adapter") if lora else None
        threads = int(n_threads or os.environ.get("GBA_LLAMA_THREADS") or os.cpu_count() or 1)
        self._model = _load(path, adapter, int(n_ctx), threads)
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

    def complete(
        self,
        messages: list[Message],
        *,
        schema: SchemaLike | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> Completion:
        gbnf = schema_to_grammar(json.dumps(schema_dict(schema))) if schema is not None else None
        prompt_text = self.render(messages)
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
