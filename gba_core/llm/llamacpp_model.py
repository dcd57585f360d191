"""The model behind the ``llama-cpp:`` backend: a llama.cpp context (the process keeps
one per model, adapter, context size and threads: ``llamacpp_process``), its KV cache
reused across calls, and the token loop that generates with the grammar check and
jump-forward.

KV-cache prefix reuse: the steps of one request share a growing prefix, so only the new
tokens are evaluated. Jump-forward: where the grammar allows only one way on (the rest
of a key such as ``context_information_summary"``, or of a tool name once it is
unambiguous), the forced text is tokenized and evaluated in one batch with the picked
token; ``GBA_LLAMA_NO_JUMP_FORWARD=1`` turns it off.
"""

from __future__ import annotations

import ctypes
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gba_core.config import env_flag
from gba_core.errors import ConfigError, LLMError
from gba_core.llm.llamacpp_chunks import PROMPT_CHUNK, aligned_chunks, aligned_common_prefix
from gba_core.llm.llamacpp_contrast import (
    ContrastRun,
    ContrastSequence,
    allow_two_sequences,
    catch_up,
    hesitates,
    start_contrast,
)
from gba_core.llm.llamacpp_sampling import SHORTLIST, Grammar, pick

# Jump-forward re-tokenizes the last few generated tokens with the forced text and uses
# it only when they come out unchanged, so the model sees the split it would be trained on.
JUMP_WINDOW = 4


@dataclass
class Generation:
    text: str
    evaluated: int  # prompt tokens evaluated (the rest came from the cache)
    prompt_seconds: float
    tokens: int  # tokens generated
    forced: int  # of which the grammar forced, evaluated without a decode of their own
    finish: str  # "stop" or "length"
    contrast_evaluated: int = 0  # tokens fed to the contrast's sequence (the rest shared)
    contrasted: int = 0  # tokens chosen with the contrast


class LoadedModel:
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
        allow_two_sequences(self.llama)
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

        llama = self.llama
        last = len(tokens) - 1
        limit = min(self._reusable, llama.n_tokens, last)
        start = aligned_common_prefix(llama.input_ids[:limit], tokens[:limit])
        if start == 0 or not llama._ctx.kv_cache_seq_rm(-1, start, -1):
            llama.reset()
            start = 0
        llama.n_tokens = start
        for begin, end in aligned_chunks(start, len(tokens)):
            llama.eval(tokens[begin:end])
        self._reusable = last // PROMPT_CHUNK * PROMPT_CHUNK
        return len(tokens) - start

    def logits(self) -> Any:
        """The logits after the last token decoded (a view on llama.cpp's buffer)."""
        import llama_cpp
        import numpy as np

        ptr = llama_cpp.llama_get_logits_ith(self.llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def _decode(self, seq: int, pos: int, tokens: list[int]) -> None:
        """Decode ``tokens`` into sequence ``seq`` from position ``pos``, keeping the
        logits of the last (llama.eval knows only sequence 0, and clears the cache past
        its end)."""
        import llama_cpp

        step = self.llama.n_batch
        for first in range(0, len(tokens), step):
            part = tokens[first : first + step]
            batch = llama_cpp.llama_batch_init(len(part), 0, 1)
            try:
                for i, token in enumerate(part):
                    batch.token[i] = token
                    batch.pos[i] = pos + first + i
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = seq
                    batch.logits[i] = first + i == len(tokens) - 1
                batch.n_tokens = len(part)
                code = llama_cpp.llama_decode(self.llama._ctx.ctx, batch)
            finally:
                llama_cpp.llama_batch_free(batch)
            if code != 0:
                raise LLMError(f"llama.cpp could not decode {len(part)} tokens (code {code})")

    def generate(
        self,
        prompt: list[int],
        *,
        gbnf: str | None,
        temperature: float,
        max_tokens: int,
        seed: int | None,
        stops: tuple[str, ...],
        contrast: ContrastRun | None = None,
    ) -> Generation:
        import numpy as np

        n_ctx = self.llama.n_ctx()
        if len(prompt) >= n_ctx:
            raise LLMError(f"prompt of {len(prompt)} tokens does not fit the context of {n_ctx}")
        t0 = time.perf_counter()
        evaluated = self._eval_prompt(prompt)
        prompt_seconds = time.perf_counter() - t0
        rng = np.random.default_rng(seed)
        grammar = Grammar(self, gbnf) if gbnf else None
        jump = grammar is not None and not env_flag("GBA_LLAMA_NO_JUMP_FORWARD")
        out: list[int] = []
        pieces: list[bytes] = []
        finish = "length"
        n_forced = 0
        # Context-aware decoding: sequence 1 joins once the output holds `after`.
        written, searched = bytearray(), 0
        seq: ContrastSequence | None = None
        contrast_evaluated = contrasted = 0
        try:
            while len(out) < max_tokens:
                logits = self.logits()
                if contrast is not None and seq is None:
                    begin = max(0, searched - len(contrast.after) + 1)
                    searched = len(written)
                    if contrast.after in written[begin:]:
                        room = 2 * (max_tokens - len(out) + 1)
                        seq = start_contrast(self, contrast, prompt, out, room)
                        contrast = None if seq is None else contrast
                if seq is not None and hesitates(logits):
                    logits = logits.copy()  # feeding sequence 1 overwrites the buffer
                    contrast_evaluated += len(seq.behind)
                    weight = seq.run.weight
                    logits = (1 + weight) * logits - weight * catch_up(self, seq)
                    contrasted += 1
                token = pick(logits, temperature, rng)
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
                    assert grammar is not None  # jump-forward needs a grammar
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
                if seq is None:
                    if contrast is not None:
                        written += b"".join(pieces[len(pieces) - len(batch) :])
                    self.llama.eval(batch)
                else:
                    n = self.llama.n_tokens
                    self._decode(0, n, batch)
                    self.llama.input_ids[n : n + len(batch)] = batch
                    self.llama.n_tokens = n + len(batch)
                    seq.behind += batch
        finally:
            if grammar is not None:
                grammar.close()
            if seq is not None:
                self.llama._ctx.kv_cache_seq_rm(1, -1, -1)
        text = b"".join(pieces).decode("utf-8", "replace")
        for stop in stops:
            cut = text.find(stop)
            if cut >= 0:
                text = text[:cut]
        return Generation(
            text,
            evaluated,
            prompt_seconds,
            len(out),
            n_forced,
            finish,
            contrast_evaluated,
            contrasted,
        )

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
