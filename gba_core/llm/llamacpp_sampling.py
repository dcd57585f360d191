"""Token choice for the ``llama-cpp:`` backend: the sampler and the grammar check.

Grammar-first-check sampling, as llama.cpp's own common sampler does it: a token is
picked from the raw logits and only that token is checked against the grammar; the
shortlist, and rarely the whole vocabulary, are filtered only when it is rejected. A
token reaches ``llama_sampler_accept`` only after the grammar admitted it, so llama.cpp
never sees one that empties the grammar stack (which aborts the process from C++).
"""

from __future__ import annotations

import ctypes
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from gba_core.errors import InvalidOutputError, LLMError
from gba_core.llm.grammar import json_schema_to_gbnf

if TYPE_CHECKING:
    from gba_core.llm.llamacpp_model import LoadedModel

TOP_K = 40
TOP_P = 0.95
SHORTLIST = 1024
JUMP_MAX_BYTES = 256


@lru_cache(maxsize=64)
def schema_to_grammar(schema_json: str) -> str:
    """GBNF for a JSON schema (``$ref``, ``enum``, ``required``, string bounds)."""
    return json_schema_to_gbnf(json.loads(schema_json))


def pick(logits: Any, temperature: float, rng: Any) -> int:
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


class Grammar:
    """A llama.cpp grammar sampler used only to check and filter, never to pick."""

    def __init__(self, loaded: LoadedModel, gbnf: str) -> None:
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
        """The token ``pick`` would choose among the tokens the grammar admits.

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
            return int(idx[pick(masked, temperature, rng)])
        return pick(self._filter_all(logits), temperature, rng)

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
