"""``gba sim package``: rated trajectories become a fine-tuning dataset for the
fine-tuned planner.

One example per step: the prompt is the fine-tuned planner's, rendered by gba_core's one
renderer (the request and the steps so far, no tool descriptions), and the completion is
the plan the teacher wrote without its teacher-only fields, as JSON (with ``brief``, only
its tool and task, for the ``fine-tuned-brief`` planner). Trajectories are
filtered by the judge's rating, deduplicated by request, and split into train and
validation **by trajectory**, so no request has steps on both sides.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gba_core.errors import ConfigError
from gba_core.llm.base import Message
from gba_core.planners import FineTunedPlanner
from gba_core.prompts import render_planner_prompt
from gba_core.schema import (
    BRIEF_PLAN_FIELDS,
    Plan,
    TrainingExample,
    Trajectory,
    scratchpad_of,
)

from .db import RunsDB
from .outdir import check_out, replacing


@dataclass
class PackageReport:
    trajectories: Counter[str] = field(default_factory=Counter)  # kept / dropped reasons
    examples: Counter[str] = field(default_factory=Counter)  # per split
    too_long: Counter[str] = field(default_factory=Counter)  # per split, with a tokenizer
    max_tokens: int | None = None


def completion_text(plan: Plan, *, brief: bool = False) -> str:
    """The plan as the fine-tuned planner should write it (brief: tool and task only):
    ``Plan``'s fields in ``Plan``'s order, without the teacher's own."""
    fields = plan.core_fields()
    if brief:
        fields = {name: fields[name] for name in BRIEF_PLAN_FIELDS}
    return json.dumps(fields, ensure_ascii=False)


def examples_of(
    trajectory: Trajectory, tools: list[str], *, brief: bool = False
) -> list[TrainingExample]:
    out = []
    for index, step in enumerate(trajectory.steps):
        if step.plan is None:
            continue
        scratchpad = scratchpad_of(trajectory.steps[:index])
        prompt: list[Message] = render_planner_prompt(
            FineTunedPlanner.template,
            request=trajectory.request.text,
            scratchpad=scratchpad,
            tools=tools,
            today=trajectory.today,
            package=FineTunedPlanner.template_package,
        )
        out.append(
            TrainingExample.model_validate(
                {
                    "prompt": prompt,
                    "completion": [
                        {"role": "assistant", "content": completion_text(step.plan, brief=brief)}
                    ],
                    "trajectory_id": trajectory.id,
                    "step": index,
                    # What any planner needs to plan this step again (gba train eval-steps).
                    "request": trajectory.request.text,
                    "scratchpad": scratchpad,
                    "today": trajectory.today,
                }
            )
        )
    return out


def select(
    db: RunsDB,
    runs: list[str],
    judge: str | None,
    min_rating: int,
    report: PackageReport,
    statuses: tuple[str, ...] = ("completed",),
) -> list[Trajectory]:
    judges = db.judges()
    if judge is None:
        if len(judges) != 1:
            raise ConfigError(
                "say which judge's ratings to use with --judge (rated by: "
                f"{', '.join(judges) or 'no judge yet; run gba sim rate'})"
            )
        judge = judges[0]
    chosen, seen_requests = [], set()
    for run_id in runs:
        rows = db.rated(run_id, judge)
        if not rows:
            raise ConfigError(f"run {run_id!r} has no trajectories")
        for row in rows:
            trajectory = Trajectory.model_validate_json(row.json)
            status, final = row.status, row.final_rating
            if status not in statuses:
                report.trajectories[f"dropped: {status}"] += 1
            elif final is None:
                invalid = row.rating is not None and "error" in row.rating
                report.trajectories[f"dropped: {'judge failed' if invalid else 'not rated'}"] += 1
            elif final < min_rating:
                report.trajectories[f"dropped: rating below {min_rating}"] += 1
            elif trajectory.request.text.strip().lower() in seen_requests:
                report.trajectories["dropped: duplicate request"] += 1
            else:
                seen_requests.add(trajectory.request.text.strip().lower())
                chosen.append(trajectory)
                report.trajectories["kept"] += 1
    return chosen


def package(
    db: RunsDB,
    runs: list[str],
    out: Path,
    *,
    tools: list[str],
    judge: str | None,
    min_rating: int = 4,
    val_size: int = 0,
    validation_split: str | None = None,
    seed: int = 0,
    tokenizer: Any = None,
    max_tokens: int | None = None,
    hf: bool = True,
    statuses: tuple[str, ...] = ("completed",),
    overwrite: bool = False,
    brief: bool = False,
) -> PackageReport:
    check_out(out, overwrite=overwrite)
    report = PackageReport(max_tokens=max_tokens)
    trajectories = select(db, runs, judge, min_rating, report, statuses)
    if not trajectories:
        raise ConfigError("no trajectory passes the filters; nothing to package")
    if validation_split is not None:
        if val_size:
            raise ConfigError("--val-size and --validation-split exclude each other")
        validation = {t.id for t in trajectories if t.request.split == validation_split}
        if not validation:
            raise ConfigError(f"no packaged trajectory has a request in split {validation_split!r}")
    else:
        order = list(range(len(trajectories)))
        random.Random(seed).shuffle(order)
        validation = {trajectories[i].id for i in order[:val_size]}
    splits: dict[str, list[TrainingExample]] = {"train": [], "validation": []}
    seen: set[str] = set()
    for trajectory in trajectories:
        split = "validation" if trajectory.id in validation else "train"
        for example in examples_of(trajectory, tools, brief=brief):
            key = json.dumps(example.messages(), sort_keys=True)
            if key in seen:
                report.examples["dropped: duplicate example"] += 1
                continue
            seen.add(key)
            splits[split].append(example)
            report.examples[split] += 1
            if tokenizer is not None and max_tokens is not None:
                text = tokenizer.render(example.messages())
                if len(tokenizer.tokenize(text)) > max_tokens:
                    report.too_long[split] += 1
    with replacing(out, overwrite=overwrite) as work:
        for split, examples in splits.items():
            with (work / f"{split}.prompt_completion.jsonl").open("w", encoding="utf-8") as f:
                for example in examples:
                    f.write(example.to_json() + "\n")
            with (work / f"{split}.messages.jsonl").open("w", encoding="utf-8") as f:
                for example in examples:
                    messages = example.messages()
                    f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
        if hf:
            import datasets
            from datasets import Dataset, DatasetDict

            datasets.disable_progress_bars()  # the CLI reports; no bars from inside

            DatasetDict(
                {
                    split: Dataset.from_list(
                        [e.model_dump(include={"prompt", "completion"}) for e in examples] or [],
                        features=None,
                    )
                    for split, examples in splits.items()
                    if examples
                }
            ).save_to_disk(str(work / "hf"))
        (work / "report.json").write_text(
            json.dumps(
                {
                    "runs": runs,
                    "statuses": list(statuses),
                    "tools": tools,
                    "min_rating": min_rating,
                    "val_size": val_size,
                    "validation_split": validation_split,
                    "seed": seed,
                    "brief": brief,
                    "trajectories": dict(report.trajectories),
                    "examples": dict(report.examples),
                    "too_long": dict(report.too_long),
                    "max_tokens": max_tokens,
                },
                indent=2,
            )
        )
    return report
