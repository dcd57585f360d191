"""Rebuild the shipped planner (plugins/gba_planner_270m) from the repository's data.

    starter set → gba sim package → gba train sft → gba train export
      → gba train eval-steps (held-out steps) → adapter.gguf + manifest.json

Every stage is a `gba` command, printed before it runs; the manifest records them, the
base model's and the adapter's sha256, each installed tool's description hash and the
packaged dataset's hash, so tests can tell when the shipped adapter has gone stale.

    .venv/bin/python scripts/ship_planner.py                  # about 55 minutes on 2 cores
    .venv/bin/python scripts/ship_planner.py --work ship-work  # resumable work folder
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from offline_loop import BASE, stage

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "plugins" / "gba_planner_270m" / "gba_planner_270m" / "model"
NAME = "gemma-3-270m-planner"


def recipe_arguments(description: str, *, planner: bool = False) -> argparse.Namespace:
    """The work folder, the model folder and the training recipe shared by the ship
    scripts (the shipped adapters are built alike)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--epochs", default="3")
    parser.add_argument("--learning-rate", default="1e-3")
    parser.add_argument("--grad-accum", default="4")
    parser.add_argument("--lora-layers", default="9")
    parser.add_argument("--max-steps", type=int, default=-1, help="overrides --epochs (tests)")
    if planner:  # the planner's form is the planner script's choice, not the roles'
        parser.add_argument(
            "--planner",
            choices=("fine-tuned", "fine-tuned-brief"),
            default="fine-tuned-brief",
            help="the planner the adapter is trained for (brief: plans of only the tool and task)",
        )
    return parser.parse_args()


def main() -> None:
    args = recipe_arguments(__doc__.split("\n\n")[0], planner=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="gba-ship-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["GBA_SIM_DB"] = str(work / "runs.sqlite")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    times: dict[str, float] = {}
    started = time.perf_counter()
    dataset, planner_dir = work / "dataset", work / "planner"
    training = ["--max-steps", str(args.max_steps)] if args.max_steps > 0 else []
    brief = ["--brief"] if args.planner == "fine-tuned-brief" else []
    recipe = [
        ["sim", "starter"],
        [
            "sim", "package", "--run", "starter", "--judge", "reference",
            "--validation-split", "heldout", *brief, "--out", "DATASET",
        ],
        [
            "train", "sft", "--dataset", "DATASET", "--out", "PLANNER",
            "--epochs", args.epochs, "--learning-rate", args.learning_rate,
            "--grad-accum", args.grad_accum, "--lora-layers", args.lora_layers,
            "--validate", "end", "--resume", *training,
        ],
        ["train", "export", "--adapter", "PLANNER"],
    ]  # fmt: skip

    def real(command: list[str]) -> list[str]:
        paths = {"DATASET": str(dataset), "PLANNER": str(planner_dir)}
        return [paths.get(part, part) for part in command]

    if not (dataset / "train.prompt_completion.jsonl").exists():
        shutil.rmtree(dataset, ignore_errors=True)
        (work / "runs.sqlite").unlink(missing_ok=True)
        for command in recipe[:2]:
            stage(command[1], real(command), times)
    stage("sft", real(recipe[2]), times)
    exported = stage("export", real(recipe[3]), times)
    adapter = Path(exported.split("\n", 1)[0].strip())
    tuned = exported.split("--planner-llm ", 1)[1].strip().strip("'")
    report = work / "heldout.json"
    stage(
        "eval-steps",
        [
            "train", "eval-steps", "--dataset", str(dataset), "--planner", args.planner,
            "--planner-llm", tuned, "--runs", "1", "--temperature", "0", "--json", str(report),
        ],
        times,
    )  # fmt: skip
    summary = json.loads(report.read_text())["summary"]
    write_model(args.out, adapter, dataset, recipe, summary, planner=args.planner)
    print(
        f"\nshipped planner written to {args.out} in {(time.perf_counter() - started) / 60:.1f} min"
    )
    print(f"stages (s): {times}")


def write_model(
    out: Path,
    adapter: Path,
    dataset: Path,
    recipe: list[list[str]],
    summary: dict,
    *,
    planner: str = "fine-tuned",
) -> None:
    from gba_core import __version__
    from gba_core.llm.embedded import EMBEDDED_MODELS
    from gba_core.registry import load_toolset
    from gba_core.shipped import (
        MANIFEST,
        HeldOut,
        PlannerManifest,
        dataset_sha256,
        file_sha256,
        tool_hashes,
    )

    base_package = __import__(EMBEDDED_MODELS[BASE.split(":", 1)[1]])
    tools = load_toolset().real
    heldout_rows = sum(1 for _ in (dataset / "validation.prompt_completion.jsonl").open())
    out.mkdir(parents=True, exist_ok=True)
    # The tool-role adapter (scripts/ship_tool_roles.py) is built apart and kept.
    previous = out / MANIFEST
    tool_roles = None
    if previous.exists():
        tool_roles = PlannerManifest.model_validate_json(previous.read_text()).tool_roles
    shutil.copyfile(adapter, out / "adapter.gguf")
    manifest = PlannerManifest(
        name=NAME,
        planner=planner,
        base_llm=BASE,
        base_sha256=base_package.EXPECTED_SHA256,
        adapter="adapter.gguf",
        adapter_sha256=file_sha256(out / "adapter.gguf"),
        tools=tool_hashes({name: tool.description for name, tool in tools.items()}),
        dataset_sha256=dataset_sha256(dataset / "train.prompt_completion.jsonl"),
        dataset_examples=sum(1 for _ in (dataset / "train.prompt_completion.jsonl").open()),
        recipe=["gba " + " ".join(command) for command in recipe],
        heldout=HeldOut(
            examples=heldout_rows,
            next_tool_accuracy=round(summary["next_tool_accuracy"]["mean"], 4),
            prompt_tokens=round(summary["prompt_tokens"]["mean"], 1),
        ),
        built=date.today(),
        gba_version=__version__,
        tool_roles=tool_roles,
    )
    (out / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
