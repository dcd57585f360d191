"""Token usage and cost per role, counted as calls happen and written to the runs
database with each finished trajectory.

Prices are USD per million tokens, (prompt, completion), per backend spec: from
``[sim.prices]`` in gba.toml and ``--price SPEC=IN,OUT``. A spec is matched whole, then
without its options, then by model name, so ``"gpt-4o-mini" = [0.15, 0.6]`` prices
``openai:gpt-4o-mini?base_url=...``. Unpriced models (the local ones) cost 0.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from gba_core.errors import ConfigError
from gba_core.llm.base import LLM, Completion, Message, SchemaLike


class Meter:
    """Totals per (role, spec): calls, cached calls, tokens, seconds, cost."""

    FIELDS = ("calls", "cached_calls", "prompt_tokens", "completion_tokens", "seconds", "cost")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: dict[tuple[str, str], dict[str, float]] = defaultdict(
            lambda: dict.fromkeys(self.FIELDS, 0.0)
        )

    def record(self, role: str, spec: str, completion: Completion) -> None:
        with self._lock:
            row = self.totals[(role, spec)]
            row["calls"] += 1
            if completion.cached:
                row["cached_calls"] += 1
                return  # a replay costs nothing
            row["prompt_tokens"] += completion.prompt_tokens
            row["completion_tokens"] += completion.completion_tokens
            row["seconds"] += completion.seconds

    def take(self) -> dict[tuple[str, str], dict[str, float]]:
        """The totals since the last take (and reset them)."""
        with self._lock:
            totals, self.totals = (
                dict(self.totals),
                defaultdict(lambda: dict.fromkeys(self.FIELDS, 0.0)),
            )
        return totals


Prices = dict[str, tuple[float, float]]


def load_prices(cli: Iterable[str] = ()) -> Prices:
    """Prices from gba.toml's ``[sim.prices]``, overridden by ``SPEC=IN,OUT`` strings."""
    from gba_core.config import config_path, load_file_config

    prices: Prices = {}
    table = load_file_config().get("sim", {}).get("prices", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{config_path()}: [sim.prices] must be a table")
    items = [(spec, value, f"[sim.prices] {spec}") for spec, value in table.items()]
    for text in cli:
        spec, _, value = text.rpartition("=")
        items.append((spec, value.split(","), f"--price {text}"))
    for spec, value, where in items:
        try:
            price_in, price_out = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{where}: expected a prompt and a completion price per 1M tokens,"
                " e.g. gpt-4o-mini=0.15,0.6"
            ) from None
        if not spec or price_in < 0 or price_out < 0:
            raise ConfigError(f"{where}: expected SPEC=IN,OUT with prices >= 0")
        prices[spec] = (price_in, price_out)
    return prices


def price_of(spec: str, prices: Prices) -> tuple[float, float]:
    bare = spec.split("?", 1)[0]
    for candidate in (spec, bare, bare.split(":", 1)[-1]):
        if candidate in prices:
            return prices[candidate]
    return (0.0, 0.0)


def priced(totals: dict[tuple[str, str], dict[str, float]], prices: Prices) -> Any:
    """``totals`` with the cost of the tokens not replayed from the cache."""
    for (_, spec), row in totals.items():
        price_in, price_out = price_of(spec, prices)
        row["cost"] = (row["prompt_tokens"] * price_in + row["completion_tokens"] * price_out) / 1e6
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
