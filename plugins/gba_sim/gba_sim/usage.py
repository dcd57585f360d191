"""Token usage and cost of every LLM call, recorded as calls happen and written to the
runs database (``calls``, and the per-role totals in ``usage``) with each finished item.

Prices are USD per million tokens, (prompt, completion), per backend spec: from
``[sim.prices]`` in gba.toml and ``--price SPEC=IN,OUT``. A spec is matched whole, then
without its options, then by model name, so ``"gpt-4o-mini" = [0.15, 0.6]`` prices
``openai:gpt-4o-mini?base_url=...``. Unpriced models (the local ones) cost 0.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from gba_core.errors import ConfigError
from gba_core.llm.base import LLM, Completion, LLMWrapper, Message

# The trajectory the calls in this thread (or Ray task) are made for.
CURRENT_TRAJECTORY: ContextVar[str | None] = ContextVar("gba_sim_trajectory", default=None)

Call = dict[str, Any]  # one LLM call: trajectory_id, role, spec, cached, tokens, seconds, cost


class Meter:
    """Every LLM call made through MeteredLLMs, with the trajectory it was made for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[Call] = []

    def record(self, role: str, spec: str, completion: Completion) -> None:
        replay = completion.cached  # a replay costs nothing
        call = {
            "trajectory_id": CURRENT_TRAJECTORY.get(),
            "role": role,
            "spec": spec,
            "cached": bool(replay),
            "prompt_tokens": 0 if replay else completion.prompt_tokens,
            "completion_tokens": 0 if replay else completion.completion_tokens,
            "seconds": 0.0 if replay else completion.seconds,
            "cost": 0.0,
        }
        with self._lock:
            self.calls.append(call)

    def take(self) -> list[Call]:
        """The calls since the last take."""
        with self._lock:
            calls, self.calls = self.calls, []
        return calls


Prices = dict[str, tuple[float, float]]


def load_prices(cli: Iterable[str] = ()) -> Prices:
    """Prices from gba.toml's ``[sim.prices]``, overridden by ``SPEC=IN,OUT`` strings."""
    from gba_core.config import config_path, load_file_config

    prices: Prices = {}
    sim = load_file_config().get("sim", {})
    if not isinstance(sim, dict):
        raise ConfigError(f"{config_path()}: [sim] must be a table")
    table = sim.get("prices", {})
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


def priced(calls: list[Call], prices: Prices) -> list[Call]:
    """``calls`` with the cost of their tokens (replayed calls have none)."""
    for call in calls:
        price_in, price_out = price_of(call["spec"], prices)
        call["cost"] = (
            call["prompt_tokens"] * price_in + call["completion_tokens"] * price_out
        ) / 1e6
    return calls


class MeteredLLM(LLMWrapper):
    """An LLM whose calls are counted under ``role``."""

    def __init__(self, inner: LLM, role: str, meter: Meter) -> None:
        super().__init__(inner)
        self.role, self.meter = role, meter

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        completion = super().complete(messages, **options)
        self.meter.record(self.role, self.spec, completion)
        return completion


class RateLimiter:
    """Spaces calls at least 60 / ``per_minute`` seconds apart, across threads."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class RateLimitedLLM(LLMWrapper):
    """An LLM whose calls wait for ``limiter`` (put it under the cache: replays are free)."""

    def __init__(self, inner: LLM, limiter: RateLimiter) -> None:
        super().__init__(inner)
        self.limiter = limiter

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        self.limiter.wait()
        return super().complete(messages, **options)


class Budget:
    """Limits on what a command may spend: model calls, tokens and USD (replayed calls
    are free). Charged as each item finishes, so the items still in flight when it is
    reached may take it a little over."""

    def __init__(
        self,
        *,
        max_calls: int | None = None,
        max_tokens: int | None = None,
        max_cost: float | None = None,
    ) -> None:
        self.limits = {"calls": max_calls, "tokens": max_tokens, "cost": max_cost}
        self.spent = {"calls": 0, "tokens": 0, "cost": 0.0}

    def __bool__(self) -> bool:
        return any(limit is not None for limit in self.limits.values())

    def charge(self, calls: list[Call]) -> bool:
        """Add ``calls`` (priced); whether the budget is now used up."""
        for call in calls:
            if not call["cached"]:
                self.spent["calls"] += 1
                self.spent["tokens"] += call["prompt_tokens"] + call["completion_tokens"]
                self.spent["cost"] += call["cost"]
        return self.reached() is not None

    def reached(self) -> str | None:
        """Which limit is used up ("calls 100 of 100"), or None."""
        for name, limit in self.limits.items():
            if limit is not None and self.spent[name] >= limit:
                spent = f"${self.spent[name]:.4f}" if name == "cost" else self.spent[name]
                shown = f"${limit:.4f}" if name == "cost" else limit
                return f"{name} {spent} of {shown}"
        return None


def load_budget(max_calls: int | None, max_tokens: int | None, max_cost: float | None) -> Budget:
    """The command's limits, else ``[sim.budget]`` in gba.toml (max_calls, max_tokens,
    max_cost)."""
    from gba_core.config import config_path, load_file_config, warn_unknown_keys

    sim = load_file_config().get("sim", {})
    table = sim.get("budget", {}) if isinstance(sim, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{config_path()}: [sim.budget] must be a table")
    warn_unknown_keys("sim.budget", table, ("max_calls", "max_tokens", "max_cost"))
    given = {"max_calls": max_calls, "max_tokens": max_tokens, "max_cost": max_cost}
    values: dict[str, Any] = {}
    for key, value in given.items():
        value = table.get(key) if value is None else value
        kind = float if key == "max_cost" else int
        try:
            values[key] = None if value is None else kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"[sim.budget] {key}: {value!r} is not a number") from None
        if values[key] is not None and values[key] <= 0:
            raise ConfigError(f"budget {key} must be more than 0, got {value!r}")
    return Budget(**values)
