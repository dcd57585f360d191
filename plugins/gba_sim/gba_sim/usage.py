"""Token usage and cost per role, counted as calls happen and written to the runs
database with each finished trajectory."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from gba_core.llm.base import LLM, Completion, Message, SchemaLike


class Meter:
    """Totals per (role, spec): calls, cached calls, tokens, seconds, cost."""

    FIELDS = ("calls", "cached_calls", "prompt_tokens", "completion_tokens", "seconds", "cost")

    def __init__(self, prices: dict[str, tuple[float, float]] | None = None) -> None:
        # prices: spec -> (per 1M prompt tokens, per 1M completion tokens)
        self.prices = prices or {}
        self._lock = threading.Lock()
        self.totals: dict[tuple[str, str], dict[str, float]] = defaultdict(
            lambda: dict.fromkeys(self.FIELDS, 0.0)
        )

    def record(self, role: str, spec: str, completion: Completion) -> None:
        price_in, price_out = self.prices.get(spec, (0.0, 0.0))
        with self._lock:
            row = self.totals[(role, spec)]
            row["calls"] += 1
            if completion.cached:
                row["cached_calls"] += 1
                return  # a replay costs nothing
            row["prompt_tokens"] += completion.prompt_tokens
            row["completion_tokens"] += completion.completion_tokens
            row["seconds"] += completion.seconds
            row["cost"] += (
                completion.prompt_tokens * price_in + completion.completion_tokens * price_out
            ) / 1e6

    def take(self) -> dict[tuple[str, str], dict[str, float]]:
        """The totals since the last take (and reset them)."""
        with self._lock:
            totals, self.totals = (
                dict(self.totals),
                defaultdict(lambda: dict.fromkeys(self.FIELDS, 0.0)),
            )
        return totals


class MeteredLLM:
    """An LLM whose calls are counted under ``role``."""

    def __init__(self, inner: LLM, role: str, meter: Meter) -> None:
        self.inner, self.role, self.meter = inner, role, meter
        self.spec = inner.spec

    def complete(
        self,
        messages: list[Message],
        *,
        schema: SchemaLike | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> Completion:
        completion = self.inner.complete(
            messages, schema=schema, temperature=temperature, max_tokens=max_tokens, seed=seed
        )
        self.meter.record(self.role, self.spec, completion)
        return completion

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
