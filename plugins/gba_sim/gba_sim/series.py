"""The identity of an evaluation series: everything that shapes its runs.

``gba sim eval`` reuses a run only when all of it matches: the planner and each role's
model (by content, ``gba_core.llm.identity``), the request set, step limit, temperature,
seed and failure rates, and the installed tools with their plugins' versions. The run id
carries a digest of it, so anything else is a new run rather than a silent mix.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any


def series_identity(
    *,
    planner: str,
    models: dict[str, str],
    request_ids: Iterable[str],
    max_steps: int,
    temperature: float,
    seed: int,
    failure_rates: dict[str, Any],
    fresh: bool = False,
) -> dict[str, Any]:
    """What shapes the series' runs, as plain JSON-able data."""
    from gba_core.plugins import list_plugins
    from gba_core.registry import load_toolset

    identity: dict[str, Any] = {
        "planner": planner,
        "models": dict(sorted(models.items())),
        "requests": hashlib.sha256("\n".join(sorted(request_ids)).encode()).hexdigest(),
        "max_steps": max_steps,
        "temperature": temperature,
        "seed": seed,
        "failure_rates": failure_rates,
        "tools": sorted(load_toolset().names),
        "plugins": {info.name: info.version for info in list_plugins() if info.error is None},
    }
    if fresh:
        identity["fresh"] = time.time_ns()
    return identity


def digest(identity: dict[str, Any]) -> str:
    """Ten hex digits of the identity's sha256: the part of the run id that tells runs of
    the same series name apart."""
    blob = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:10]
