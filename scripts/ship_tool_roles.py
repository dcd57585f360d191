"""Rebuild the shipped tool-role adapter (beside the planner in plugins/gba_planner_270m)
from the role examples the installed tools ship.

    role examples → gba sim package-roles → gba train sft → gba train export
      → gba train eval-roles (held-out examples) → tool_roles.gguf + manifest.tool_roles

Every stage is a `gba` command, printed before it runs. The manifest's ``tool_roles``
section records the adapter's sha256, the roles, the packaged dataset's hash and the
per-role held-out accuracy, so a test can tell when the adapter has gone stale. The
planner's part of the manifest is left as it is.

    .venv/bin/python scripts/ship_tool_roles.py                   # 2 cores: see bench/README.md
    .venv/bin/python scripts/ship_tool_roles.py --work roles-work  # resumable work folder
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from offline_loop import stage
from ship_planner import recipe_arguments

ADAPTER = "tool_roles.gguf"


def main() -> None:
    args = recipe_arguments(__doc__.split("\n\n")[0])
    work = args.work or Path(tempfile.mkdtemp(prefix="gba-roles-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    times: dict[str, float] = {}
    started = time.perf_counter()
    dataset, adapter_dir = work / "dataset", work / "adapter"
    training = ["--max-steps", str(args.max_steps)] if args.max_steps > 0 else []
    recipe = [
        ["sim", "package-roles", "--out", "DATASET", "--overwrite"],
        [
            "train", "sft", "--dataset", "DATASET", "--out", "ADAPTER",
            "--epochs", args.epochs, "--learning-rate", args.learning_rate,
            "--grad-accum", args.grad_accum, "--lora-layers", args.lora_layers,
            "--validate", "end", "--resume", *training,
        ],
        ["train", "export", "--adapter", "ADAPTER"],
    ]  # fmt: skip

    def real(command: list[str]) -> list[str]:
        paths = {"DATASET": str(dataset), "ADAPTER": str(adapter_dir)}
        return [paths.get(part, part) for part in command]

    stage("package-roles", real(recipe[0]), times)
    stage("sft", real(recipe[1]), times)
    exported = stage("export", real(recipe[2]), times)
    adapter = Path(exported.split("\n", 1)[0].strip())
    tuned = exported.split("--planner-llm ", 1)[1].strip().strip("'")
    report = work / "heldout.json"
    stage("eval-roles", ["train", "eval-roles", "--tool-llm", tuned, "--json", str(report)], times)
    write_roles(args.out, adapter, dataset, recipe, json.loads(report.read_text()))
    minutes = (time.perf_counter() - started) / 60
    print(f"\ntool-role adapter written to {args.out} in {minutes:.1f} min")
    print(f"stages (s): {times}")


def write_roles(
    out: Path, adapter: Path, dataset: Path, recipe: list[list[str]], report: dict
) -> None:
    from gba_core.shipped import (
        MANIFEST,
        PlannerManifest,
        ToolRoleModel,
        dataset_sha256,
        file_sha256,
    )

    path = out / MANIFEST
    manifest = PlannerManifest.model_validate_json(path.read_text())
    shutil.copyfile(adapter, out / ADAPTER)
    train = dataset / "train.prompt_completion.jsonl"
    counts = json.loads((dataset / "report.json").read_text())["examples"]
    manifest.tool_roles = ToolRoleModel(
        adapter=ADAPTER,
        adapter_sha256=file_sha256(out / ADAPTER),
        roles=sorted(counts["train"]),
        dataset_sha256=dataset_sha256(train),
        dataset_examples=sum(counts["train"].values()),
        recipe=["gba " + " ".join(command) for command in recipe],
        heldout_examples=len(report["results"]),
        heldout_accuracy={
            "all": round(report["accuracy"], 4),
            **{role: round(r["accuracy"], 4) for role, r in sorted(report["roles"].items())},
        },
    )
    path.write_text(manifest.model_dump_json(indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
