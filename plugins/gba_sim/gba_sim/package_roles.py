"""``gba sim package-roles``: the installed tools' role examples as a training dataset.

Each example is rendered by the tool role that makes the call at run time, so the
prompt is the one inference sends; the completion is the target as the model writes it.
Train examples go to the ``train`` split and held-out ones to ``validation``, in the
layout ``gba sim package`` writes, so ``gba train sft`` reads either.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from gba_core.errors import ConfigError
from gba_core.roles import prompt_completion, role_cases
from gba_core.schema import TrainingExample
from gba_core.tools import Tool

from .outdir import check_out, replacing

SPLITS = {"train": "train", "heldout": "validation"}


def package_roles(
    tools: Mapping[str, Tool], out: Path, *, overwrite: bool = False
) -> dict[str, Counter[str]]:
    """Write the role datasets of ``tools`` to ``out``; examples per split and role."""
    check_out(out, overwrite=overwrite)
    cases = role_cases(tools)
    if not cases:
        raise ConfigError("none of the chosen tools has role examples; nothing to package")
    rows: dict[str, list[TrainingExample]] = {split: [] for split in SPLITS.values()}
    counts: dict[str, Counter[str]] = {split: Counter() for split in SPLITS.values()}
    seen: set[str] = set()
    for case in cases:
        row = prompt_completion(case)
        key = json.dumps(row.messages(), sort_keys=True)
        if key in seen:
            raise ConfigError(f"role example {case.example.id} repeats another one")
        seen.add(key)
        split = SPLITS[case.example.split]
        rows[split].append(row)
        counts[split][row.role or ""] += 1
    report = {
        "kind": "tool roles",
        "tools": sorted(tools),
        "examples": {split: dict(sorted(c.items())) for split, c in counts.items()},
    }
    with replacing(out, overwrite=overwrite) as work:
        for split, examples in rows.items():
            with (work / f"{split}.prompt_completion.jsonl").open("w", encoding="utf-8") as f:
                for example in examples:
                    f.write(example.to_json() + "\n")
        (work / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return counts
