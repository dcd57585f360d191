"""``gba train eval-quant``: one adapter's exports side by side on held-out steps.

The variants are the adapter merged into the base and written at f16, q8_0 and q4_k_m
by llama.cpp's quantizer, and the adapter loaded beside the base GGUF (the form gba
ships). Every variant plans the same steps; next-tool accuracy carries its binomial
standard error over steps, and each variant is compared step by step with the first
(steps it gets right that the first gets wrong, and the reverse), which is what tells
a real loss from noise on a few dozen steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .evaluate import StepsReport

QUANTIZATIONS = ("f16", "q8_0", "q4_k_m")
LORA = "lora"  # the adapter beside the base GGUF


@dataclass
class Variant:
    name: str
    path: Path  # the file whose size is reported (the merged GGUF, or the LoRA GGUF)
    spec: str  # what get_llm loads


def _stale(target: Path, adapter: Path) -> bool:
    """Missing, or older than a file of the adapter (retrained at the same path)."""
    if not target.is_file():
        return True
    newest = max(f.stat().st_mtime for f in adapter.iterdir() if f.is_file())
    return target.stat().st_mtime < newest


def variants(
    adapter: Path,
    base_gguf: Path,
    base_spec: str,
    names: Sequence[str],
    *,
    on_build: Callable[[str], Any] | None = None,
) -> list[Variant]:
    """Build what is missing or stale beside the adapter and name each variant's spec."""
    from urllib.parse import quote

    from .export import export_lora_gguf
    from .merge import export_merged_gguf

    out = []
    for name in names:
        if name == LORA:
            target = adapter.parent / "adapter.gguf"
            if _stale(target, adapter):
                if on_build:
                    on_build(name)
                export_lora_gguf(adapter, base_gguf, target)
            lora = quote(str(target), safe="/:")
            out.append(Variant(name, target, f"llama-cpp:{base_spec}?lora={lora}"))
            continue
        target = adapter.parent / f"merged-{name}.gguf"
        if _stale(target, adapter):
            if on_build:
                on_build(name)
            export_merged_gguf(adapter, base_gguf, target, name)
        out.append(Variant(name, target, f"llama-cpp:{target}"))
    return out


def accuracy_stderr(report: StepsReport) -> tuple[float, float]:
    """Next-tool accuracy over every planned step and its binomial standard error."""
    outcomes = [o for run in report.outcomes for o in run]
    right = sum(o.chosen_tool == o.expected_tool for o in outcomes)
    p = right / len(outcomes)
    return p, math.sqrt(p * (1 - p) / len(outcomes))


def paired(first: StepsReport, other: StepsReport) -> tuple[int, int]:
    """(steps ``other`` gets right and ``first`` wrong, the reverse), run by run."""
    gained = lost = 0
    for a_run, b_run in zip(first.outcomes, other.outcomes, strict=True):
        for a, b in zip(a_run, b_run, strict=True):
            a_ok, b_ok = a.chosen_tool == a.expected_tool, b.chosen_tool == b.expected_tool
            gained += b_ok and not a_ok
            lost += a_ok and not b_ok
    return gained, lost


def comparison(built: list[Variant], reports: list[StepsReport]) -> list[dict[str, Any]]:
    """One row per variant: size, accuracy ± s.e., the paired change against the first,
    plan validity, plan tokens, seconds per step."""
    rows = []
    for variant, report in zip(built, reports, strict=True):
        accuracy, stderr = accuracy_stderr(report)
        gained, lost = paired(reports[0], report)
        summary = report.summary()
        rows.append(
            {
                "variant": variant.name,
                "file": str(variant.path),
                "megabytes": variant.path.stat().st_size / 2**20,
                "next_tool_accuracy": accuracy,
                "stderr": stderr,
                "gained_vs_first": gained,
                "lost_vs_first": lost,
                "valid_plan_rate": summary["valid_plan_rate"][0],
                "plan_tokens": summary["plan_tokens"][0],
                "seconds_per_step": summary["seconds_per_step"][0],
            }
        )
    return rows
